"""The CNN zoo: published parameter counts, torchvision's state_dict names, forward shapes at 224x224
(ImageNet) and 28x28 (the small variants), GoogLeNet's auxiliary heads, the CIFAR ResNets and their
plain twins, and the registry entries `nabla train` builds."""
import gc

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla import models as M
from nabla.models import build_model, get_model_entry, model_names
from nabla.models.resnet import ShortcutA

CNN_NAMES = ["lenet5", "alexnet-small", "vgg-small", "googlenet-small", "resnet-small"] + \
    [f"{kind}{d}" for kind in ("resnet", "plain") for d in (20, 32, 44, 56, 110)]


def _forward(model, shape, batch=2):
    with nb.no_grad():
        return model(nb.randn(batch, *shape))


# ------------------------------------------------------------------ ImageNet configurations
PUBLISHED = [  # (constructor, kwargs, parameters as published / by torchvision)
    ("alexnet", {}, 61_100_840),
    ("vgg16", {"init_weights": False}, 138_357_544),  # torchvision's init is slow on 138M weights here
    ("googlenet", {"aux_logits": False}, 6_624_904),
    ("resnet18", {}, 11_689_512),
    ("resnet50", {}, 25_557_032),
]


@pytest.mark.parametrize("name, kwargs, count", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_imagenet_parameter_count_and_224_forward(name, kwargs, count):
    model = getattr(M, name)(**kwargs)
    assert model.num_parameters() == count
    model.eval()
    out = _forward(model, (3, 224, 224), batch=1)
    assert out.shape == (1, 1000) and np.isfinite(out.data).all()
    del model, out
    gc.collect()


def test_other_torchvision_counts():
    # the smaller ones are cheap to build; counts as torchvision reports them
    assert M.googlenet().num_parameters() == 13_004_888          # with both auxiliary heads
    assert M.resnet34().num_parameters() == 21_797_672
    assert M.resnet101().num_parameters() == 44_549_160
    assert M.resnet152().num_parameters() == 60_192_808
    assert M.resnet18(num_classes=10, in_channels=1).num_parameters() == 11_689_512 - 513 * 990 - 64 * 2 * 49


def _resnet_keys(blocks, bottleneck):
    """torchvision's ResNet state_dict keys, written out independently of nabla's code."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    keys = ["conv1.weight"] + [f"bn1.{b}" for b in bn]
    convs = 3 if bottleneck else 2
    for li, n in enumerate(blocks, 1):
        for i in range(n):
            p = f"layer{li}.{i}"
            for c in range(1, convs + 1):
                keys += [f"{p}.conv{c}.weight"] + [f"{p}.bn{c}.{b}" for b in bn]
            if i == 0 and (li > 1 or bottleneck):
                keys += [f"{p}.downsample.0.weight"] + [f"{p}.downsample.1.{b}" for b in bn]
    return keys + ["fc.weight", "fc.bias"]


def test_state_dict_keys_match_torchvision():
    assert list(M.resnet18().state_dict()) == _resnet_keys([2, 2, 2, 2], False)
    sd = M.resnet50().state_dict()
    assert list(sd) == _resnet_keys([3, 4, 6, 3], True)
    assert sd["layer1.0.conv2.weight"].shape == (64, 64, 3, 3) and sd["fc.weight"].shape == (1000, 2048)
    assert sd["layer3.0.downsample.0.weight"].shape == (1024, 512, 1, 1)

    alex = M.alexnet().state_dict()
    assert list(alex) == [f"{part}.{i}.{p}" for part, idx in (("features", (0, 3, 6, 8, 10)),
                                                                ("classifier", (1, 4, 6)))
                          for i in idx for p in ("weight", "bias")]
    assert alex["features.0.weight"].shape == (64, 3, 11, 11) and alex["classifier.1.weight"].shape == (4096, 9216)

    g = M.googlenet().state_dict()
    assert g["inception3a.branch1.conv.weight"].shape == (64, 192, 1, 1)
    assert g["inception3a.branch3.1.conv.weight"].shape == (32, 16, 3, 3)  # torchvision's 3x3 "5x5" branch
    assert g["inception5b.branch4.1.bn.running_var"].shape == (128,)
    assert g["aux1.fc1.weight"].shape == (1024, 2048) and g["aux2.conv.conv.weight"].shape == (128, 528, 1, 1)
    assert g["fc.weight"].shape == (1000, 1024)
    assert "conv1.bn.num_batches_tracked" in g


def test_vgg_configurations_and_keys():
    # build without the (slow) re-initialisation; counts as torchvision's (vgg13: 133,047,848 and
    # vgg19: 143,667,240 too, left out to keep the file fast: each build fills ~130M weights)
    counts = {"vgg11": 132_863_336, "vgg16_bn": 138_365_992}
    for name, n in counts.items():
        model = getattr(M, name)(init_weights=False)
        assert model.num_parameters() == n, name
        if name == "vgg16_bn":
            keys = list(model.state_dict())
            assert keys[:7] == ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                                "features.1.running_mean", "features.1.running_var",
                                "features.1.num_batches_tracked"]
            assert keys[-2:] == ["classifier.6.weight", "classifier.6.bias"]
        del model
        gc.collect()
    convs = [i for i, m in enumerate(M.vgg_small(depth=16).features) if isinstance(m, nn.Conv2d)]
    assert convs == [0, 2, 5, 7, 10, 12, 14]      # vgg16's first three stages, same indices as torchvision


def test_alexnet_lrn_and_paper_widths():
    from nabla.models.alexnet import PAPER_CHANNELS
    m = M.alexnet_small(lrn=True)
    kinds = [type(layer).__name__ for layer in m.features]
    assert kinds[:4] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]
    assert kinds.count("LocalResponseNorm") == 2
    lrn = m.features[2]
    assert (lrn.size, lrn.k, lrn.beta) == (5, 2.0, 0.75) and lrn.alpha == pytest.approx(5e-4)
    assert _forward(m, (1, 28, 28)).shape == (2, 10)
    # LRN has no parameters: same count with or without it
    assert M.alexnet_small(lrn=True).num_parameters() == M.alexnet_small().num_parameters()
    paper = M.AlexNet(channels=PAPER_CHANNELS, lrn=True)
    assert [m.out_channels for m in paper.features if isinstance(m, nn.Conv2d)] == list(PAPER_CHANNELS)
    assert paper.num_parameters() == 62_378_344   # the usual ungrouped count of the paper's widths


# ------------------------------------------------------------------ small variants at 28x28
SMALL = [
    ("lenet5", lambda: M.lenet5(), 61_706),
    ("alexnet_small", lambda: M.alexnet_small(), None),
    ("vgg_small", lambda: M.vgg_small(), None),
    ("vgg_small_bn11", lambda: M.vgg_small(depth=11, batch_norm=True, width=8), None),
    ("googlenet_small", lambda: M.googlenet_small(), None),
    ("resnet_small18", lambda: M.resnet_small(), None),
    ("resnet_small50", lambda: M.resnet_small(depth=50, width=8), None),
    ("resnet20", lambda: M.resnet20(in_channels=1), 269_722 - 2 * 16 * 9),   # 1 input channel, not 3
    ("plain20", lambda: M.plain20(in_channels=1), 269_722 - 2 * 16 * 9),
    ("resnet20_B", lambda: M.resnet20(in_channels=1, shortcut="B"), 272_474 - 2 * 16 * 9),
]


@pytest.mark.parametrize("name, make, count", SMALL, ids=[s[0] for s in SMALL])
def test_small_variants_forward_at_28x28(name, make, count):
    model = make()
    if count is not None:
        assert model.num_parameters() == count
    out = model(nb.randn(2, 1, 28, 28))          # training mode: batch norm on batch statistics
    assert out.shape == (2, 10) and np.isfinite(out.data).all()
    assert _forward(model.eval(), (1, 28, 28)).shape == (2, 10)


def test_input_size_channels_and_classes_are_configurable():
    assert _forward(M.lenet5(num_classes=3, in_channels=3, input_size=32), (3, 32, 32)).shape == (2, 3)
    assert M.lenet5(input_size=32).classifier.c5.in_features == 16 * 5 * 5
    assert M.lenet5(input_size=28).features.c1.padding == (2, 2)   # 28x28 padded to the paper's 32x32
    assert _forward(M.resnet18(num_classes=7, in_channels=1).eval(), (1, 64, 48)).shape == (2, 7)
    assert _forward(M.resnet20(num_classes=5).eval(), (3, 32, 32)).shape == (2, 5)
    assert _forward(M.vgg_small(in_channels=3, num_classes=4).eval(), (3, 36, 36)).shape == (2, 4)
    assert _forward(M.googlenet_small(in_channels=3, num_classes=4).eval(), (3, 32, 32)).shape == (2, 4)


def test_lenet5_reads_like_the_figure():
    m = M.lenet5()
    names = [n for n, _ in m.named_children()]
    assert names == ["features", "flatten", "classifier"]
    assert list(dict(m.features.named_children())) == ["c1", "act1", "s2", "c3", "act3", "s4"]
    assert list(dict(m.classifier.named_children())) == ["c5", "act5", "f6", "act6", "output"]
    tanh = M.lenet5(activation="tanh", pooling="avg")
    assert isinstance(tanh.features.act1, nn.Tanh) and isinstance(tanh.features.s2, nn.AvgPool2d)
    with pytest.raises(ValueError, match="LeNet5: unknown activation"):
        M.lenet5(activation="swish")


# ------------------------------------------------------------------ GoogLeNet's auxiliary classifiers
def test_googlenet_aux_heads_run_in_training_only():
    model = M.googlenet_small(aux_logits=True, num_classes=4)
    calls = []
    model.aux1.register_forward_hook(lambda m, i, o: calls.append("aux1"))
    model.aux2.register_forward_hook(lambda m, i, o: calls.append("aux2"))
    x, y = nb.randn(2, 1, 28, 28), nb.tensor(np.array([0, 3]))
    out = model.train()(x)
    assert isinstance(out, M.GoogLeNetOutputs) and calls == ["aux1", "aux2"]
    assert out.logits.shape == out.aux_logits1.shape == out.aux_logits2.shape == (2, 4)
    loss = M.googlenet_loss(out, y)
    expected = (nn.functional.cross_entropy(out.logits, y).item()
                + 0.3 * (nn.functional.cross_entropy(out.aux_logits1, y).item()
                         + nn.functional.cross_entropy(out.aux_logits2, y).item()))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert np.abs(model.aux1.fc2.weight.grad.data).sum() > 0 and np.abs(model.conv1.conv.weight.grad.data).sum() > 0
    calls.clear()
    out = _forward(model.eval(), (1, 28, 28))
    assert isinstance(out, nb.Tensor) and out.shape == (2, 4) and calls == []   # dropped, not run
    # without aux heads: no aux modules, plain logits in training too
    plain = M.googlenet_small(aux_logits=False)
    assert plain.aux1 is None and plain.aux2 is None and not any(k.startswith("aux") for k in plain.state_dict())
    assert isinstance(plain.train()(nb.randn(2, 1, 28, 28)), nb.Tensor)


def test_googlenet_transform_input_and_paper_5x5():
    m = M.googlenet_small(in_channels=3, transform_input=True).eval()
    assert _forward(m, (3, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="transform_input needs 3 input channels"):
        M.googlenet(in_channels=1, transform_input=True)
    assert M.googlenet_small(paper_5x5=True).inception3a.branch3[1].conv.kernel_size == (5, 5)


# ------------------------------------------------------------------ CIFAR ResNets and plain twins
def test_cifar_resnet_parameter_counts_match_the_paper():
    # He et al. 2016, Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M (option A)
    for depth, millions in [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)]:
        n = getattr(M, f"resnet{depth}")().num_parameters()
        assert round(n / 1e6, 2 if depth < 100 else 1) == millions, depth
        assert getattr(M, f"plain{depth}")().num_parameters() == n        # option A: shortcuts are free
    assert sum(isinstance(m, nn.Conv2d) for m in M.resnet56().modules()) + 1 == 56   # + fc


def test_plain_and_residual_differ_only_by_shortcuts():
    res, plain = M.resnet20(in_channels=1), M.plain20(in_channels=1)
    a, b = res.state_dict(), plain.state_dict()
    assert list(a) == list(b) and all(a[k].shape == b[k].shape for k in a)
    assert all(blk.shortcut for blk in res.modules() if isinstance(blk, M.BasicBlock))
    assert not any(blk.shortcut for blk in plain.modules() if isinstance(blk, M.BasicBlock))
    plain.load_state_dict(a)
    assert not np.allclose(_forward(res.eval(), (1, 28, 28)).data, _forward(plain.eval(), (1, 28, 28)).data)
    # the first block of each layer is where the residual adds x itself: set its convolutions to zero, the
    # block passes relu(x) = x through, while the plain block outputs zeros
    blk_r, blk_p = res.layer1[1], plain.layer1[1]
    for blk in (blk_r, blk_p):
        blk.conv2.weight.data[...] = 0
        blk.bn2.bias.data[...] = 0
    with nb.no_grad():
        h = nb.relu(nb.randn(2, 16, 28, 28))
        assert np.allclose(blk_r(h).data, h.data) and np.allclose(blk_p(h).data, 0)
    # option B adds exactly the two projections (1x1 conv + BN) where the shape changes
    b_keys = set(M.resnet20(shortcut="B").state_dict()) - set(M.resnet20().state_dict())
    assert {k.rsplit(".", 2)[0] for k in b_keys} == {"layer2.0.downsample", "layer3.0.downsample"}


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = nb.randn(2, 16, 8, 8)
    y = ShortcutA(16, 32, 2)(x)
    assert y.shape == (2, 32, 4, 4)
    assert np.array_equal(y.data[:, 8:24], x.data[:, :, ::2, ::2])
    assert not y.data[:, :8].any() and not y.data[:, 24:].any()
    assert ShortcutA(16, 32, 2).num_parameters() == 0


def test_gradient_reaches_the_first_conv_of_resnet20_and_plain20():
    for make in (M.resnet20, M.plain20):
        model = make(in_channels=1)
        x, y = nb.randn(2, 1, 28, 28), nb.tensor(np.array([1, 7]))
        nn.functional.cross_entropy(model(x), y).backward()
        g = model.conv1.weight.grad
        assert g is not None and g.shape == (16, 1, 3, 3)
        assert np.isfinite(g.data).all() and np.abs(g.data).sum() > 0
        assert all(p.grad is not None for p in model.parameters())


def test_bad_options_raise():
    with pytest.raises(ValueError, match="depth must be 6n\\+2"):
        M.CifarResNet(depth=21)
    with pytest.raises(ValueError, match="shortcut must be"):
        M.resnet20(shortcut="C")
    with pytest.raises(ValueError, match="depth must be one of"):
        M.vgg_small(depth=15)
    with pytest.raises(ValueError, match="depth must be one of"):
        M.resnet_small(depth=20)


# ------------------------------------------------------------------ registry (what `nabla train` builds)
def _cli_image_shapes():
    from nabla.data import datasets
    return {d["name"]: (tuple(d["shape"]), int(d["num_classes"])) for d in datasets.list_datasets()
            if len(d["shape"]) == 3 and d["task"] == "classification"}


def test_every_registered_cnn_builds_from_the_cli_shapes():
    assert set(CNN_NAMES) <= set(model_names())
    shapes = _cli_image_shapes()
    assert shapes["mnist"] == ((1, 28, 28), 10)
    for name in CNN_NAMES:
        entry = get_model_entry(name)
        assert entry.task == "classification" and entry.default_dataset in ("mnist", "fashion-mnist")
        for ds, (in_shape, num_classes) in shapes.items():
            if name == "alexnet-small" and min(in_shape[1:]) < 15:
                with pytest.raises(ValueError, match="alexnet-small: a 8x8 input is too small"):
                    build_model(name, in_shape, num_classes)
                continue
            model = build_model(name, in_shape, num_classes).eval()
            if ds in ("mnist", "digits") and not name.endswith("110"):
                assert _forward(model, in_shape).shape == (2, num_classes), (name, ds)


def test_registered_options_reach_the_model():
    m = build_model("vgg-small", (1, 28, 28), 10, width=8, batch_norm=True, depth=11)
    assert any(isinstance(x, nn.BatchNorm2d) for x in m.features)
    assert m.features[0].out_channels == 8        # 64 * 8 / 64
    assert build_model("resnet-small", (1, 28, 28), 10, depth=34, width=4).layer3[5] is not None
    assert build_model("resnet20", (1, 28, 28), 10, shortcut="B").layer2[0].downsample is not None
    assert build_model("plain56", (1, 28, 28), 10).layer1[0].shortcut is False
    assert isinstance(build_model("alexnet-small", (1, 28, 28), 10, lrn=True).features[2], nn.LocalResponseNorm)
    assert build_model("lenet5", (1, 28, 28), 10, activation="tanh").features.act1.__class__ is nn.Tanh
    assert build_model("googlenet-small", (1, 28, 28), 10, width=0.125).conv1.conv.out_channels == 8
    with pytest.raises(TypeError, match="has no option"):
        build_model("resnet20", (1, 28, 28), 10, depth=32)


# ------------------------------------------------------------------ against PyTorch (the oracle), where installed
def _torch_cifar_resnet(torch, n, in_channels, plain):
    """He et al.'s CIFAR ResNet with option A, written directly in torch with the same module names."""
    tnn, TF = torch.nn, torch.nn.functional

    class Block(tnn.Module):
        def __init__(self, inp, planes, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.stride, self.pad = stride, (planes - inp) // 2

        def forward(self, x):
            out = self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x)))))
            if not plain:
                s = self.stride
                out = out + TF.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, self.pad, self.pad))
            return TF.relu(out)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            self.layer1 = tnn.Sequential(*[Block(16, 16, 1) for _ in range(n)])
            self.layer2 = tnn.Sequential(Block(16, 32, 2), *[Block(32, 32, 1) for _ in range(n - 1)])
            self.layer3 = tnn.Sequential(Block(32, 64, 2), *[Block(64, 64, 1) for _ in range(n - 1)])
            self.fc = tnn.Linear(64, 10)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(TF.relu(self.bn1(self.conv1(x))))))
            return self.fc(x.mean((2, 3)))

    return Net()


@pytest.mark.parametrize("plain", [False, True], ids=["resnet20", "plain20"])
def test_resnet20_matches_pytorch(plain):
    torch = pytest.importorskip("torch")
    model = (M.plain20 if plain else M.resnet20)(in_channels=1)
    ref = _torch_cifar_resnet(torch, 3, 1, plain).double()
    ref.load_state_dict({k: torch.from_numpy(np.array(v.data, dtype=np.float64)) for k, v in
                         model.state_dict().items()})
    model.double()
    x = np.random.default_rng(0).standard_normal((3, 1, 16, 16))   # small: maps 16, 8, 4
    y = np.array([0, 3, 9])
    loss = nn.functional.cross_entropy(model(nb.tensor(x)), nb.tensor(y))      # training mode
    loss.backward()
    ref_loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
    ref_loss.backward()
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-9)
    grads = dict(model.named_parameters())
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(grads[name].grad.data, p.grad.numpy(), rtol=1e-7, atol=1e-10, err_msg=name)
    for name, b in ref.named_buffers():    # running statistics moved alike
        np.testing.assert_allclose(model.state_dict()[name].data, b.numpy(), rtol=1e-9, err_msg=name)
    model.eval(), ref.eval()
    with torch.no_grad(), nb.no_grad():
        np.testing.assert_allclose(model(nb.tensor(x)).data,
                                   ref(torch.from_numpy(x)).numpy(), rtol=1e-9, atol=1e-12)


def test_googlenet_small_trains_its_aux_heads_through_the_registry_loss():
    """`nabla train googlenet-small` uses the registry's make_loss: the Trainer gets (logits, aux2, aux1)
    in training, scores the logits, and the auxiliary heads receive gradient; eval scores plain logits."""
    from nabla.data import DataLoader, TensorDataset
    from nabla.models import build_model, get_model_entry
    from nabla.train import Trainer
    nb.manual_seed(0)
    entry = get_model_entry("googlenet-small")
    model = build_model("googlenet-small", (1, 28, 28), 3, width=0.125)
    assert model.aux1 is not None                       # the registry default keeps the paper's aux heads
    loss_fn = entry.training_loss(nn.CrossEntropyLoss())
    before = model.aux1.fc2.weight.data.copy()
    x = np.random.default_rng(0).standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    loader = DataLoader(TensorDataset(nb.tensor(x), nb.tensor(y)), batch_size=4)
    trainer = Trainer(model, loss_fn, nb.optim.SGD(model.parameters(), lr=0.1), progress=False)
    history = trainer.fit(loader, epochs=1)
    assert 0.0 <= history["accuracy"][0] <= 1.0 and np.isfinite(history["loss"][0])
    assert not np.allclose(model.aux1.fc2.weight.data, before)
    result = trainer.evaluate(loader)
    assert 0.0 <= result["accuracy"] <= 1.0
