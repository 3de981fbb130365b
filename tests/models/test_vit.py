"""The Vision Transformer: shapes and patch order, the class token as the head's only input, patch-size
errors, gradients reaching every parameter, torchvision's key names, and the registry entry."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.models import build_model, get_model_entry
from nabla.models.vit import VisionTransformer, from_torchvision_state_dict  # importing registers "vit"

SMALL = dict(patch_size=7, dim=16, depth=2, heads=2, mlp_dim=32)


def _small(in_shape=(1, 28, 28), **kw):
    nb.manual_seed(0)
    return build_model("vit", in_shape, 10, **{**SMALL, **kw})


def _randomise_head(model):
    """torchvision zero-initialises the head; a random one lets gradients and inputs show through it."""
    rng = np.random.default_rng(0)
    model.heads.head.weight.data[...] = rng.normal(0, 0.5, model.heads.head.weight.shape)


@pytest.mark.parametrize("in_shape, patch, patches", [((1, 28, 28), 7, 16), ((1, 28, 28), 4, 49),
                                                      ((3, 28, 14), 7, 8), ((1, 8, 8), 2, 16)])
def test_shapes(in_shape, patch, patches):
    model = _small(in_shape, patch_size=patch)
    assert model.encoder.pos_embedding.shape == (1, patches + 1, 16)      # one row per patch, plus the class token
    assert model.class_token.shape == (1, 1, 16) and model.conv_proj.stride == (patch, patch)
    x = nb.randn(3, *in_shape)
    assert model._process_input(x).shape == (3, patches, 16)
    assert model(x).shape == (3, 10)


def test_patch_embedding_is_one_linear_map_per_patch_in_row_major_order():
    model = _small(patch_size=7)
    x = np.random.default_rng(1).normal(size=(2, 1, 28, 28)).astype(np.float32)
    # (N, 1, 4, 7, 4, 7) -> patches (N, 16, 49), row-major over the 4x4 grid
    patches = x.reshape(2, 1, 4, 7, 4, 7).transpose(0, 2, 4, 1, 3, 5).reshape(2, 16, 49)
    w, b = model.conv_proj.weight.data.reshape(16, 49), model.conv_proj.bias.data
    with nb.no_grad():
        got = model._process_input(nb.tensor(x)).data
    np.testing.assert_allclose(got, patches @ w.T + b, rtol=1e-4, atol=1e-5)


def test_the_head_reads_the_class_token_alone():
    model = _small().eval()
    _randomise_head(model)
    x = nb.randn(2, 1, 28, 28)
    with nb.no_grad():
        tokens = nb.ops.cat([model.class_token.expand(2, -1, -1), model._process_input(x)], dim=1)
        encoded = model.encoder(tokens)
        np.testing.assert_allclose(model(x).data, model.heads(encoded[:, 0]).data, rtol=1e-5, atol=1e-6)
        before = model(x).data.copy()
        # a different class token, different logits (not a constant one: the block's LayerNorm maps those to 0)
        model.class_token.data[...] = np.random.default_rng(2).normal(size=(1, 1, 16))
        assert not np.allclose(model(x).data, before)


def test_zero_initialised_head_predicts_uniformly():
    model = _small()
    with nb.no_grad():
        out = model(nb.randn(4, 1, 28, 28)).data
    assert np.all(out == 0)                                         # cross-entropy starts at ln 10


def test_gradient_reaches_every_parameter():
    model = _small()
    _randomise_head(model)
    x, y = nb.randn(4, 1, 28, 28), nb.tensor(np.array([0, 3, 7, 9]))
    nn.CrossEntropyLoss()(model(x), y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.data).all(), name
        assert np.abs(p.grad.data).sum() > 0, name


def test_one_training_step_lowers_the_loss_on_a_batch():
    model = _small()
    opt = nb.optim.AdamW(model.parameters(), lr=3e-3)
    x, y = nb.randn(16, 1, 28, 28), nb.tensor(np.arange(16) % 10)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0]


def test_image_size_not_divisible_by_the_patch_is_a_one_line_error_naming_the_layer():
    with pytest.raises(ValueError, match=r"^VisionTransformer: image size 28x28 is not divisible by patch_size=5"):
        _small(patch_size=5)
    with pytest.raises(ValueError, match=r"VisionTransformer: image size 28x30"):
        VisionTransformer((28, 30), patch_size=7)
    with pytest.raises(ValueError, match=r"hidden_dim=16 is not divisible by num_heads=3"):
        _small(heads=3)


def test_input_of_another_size_is_a_one_line_error_naming_the_layer():
    model = _small()
    for shape in [(2, 1, 30, 30), (2, 3, 28, 28), (1, 28, 28)]:
        with pytest.raises(ValueError) as e:
            model(nb.randn(*shape))
        msg = str(e.value)
        assert msg.startswith("VisionTransformer: expected input of shape (N, 1, 28, 28)") and "\n" not in msg
        assert str(shape) in msg


def test_torchvision_names():
    keys = set(_small().state_dict())
    assert {"class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding", "encoder.ln.weight",
            "encoder.ln.bias", "heads.head.weight", "heads.head.bias"} <= keys
    tv = {"class_token": 1, "encoder.layers.encoder_layer_1.ln_1.weight": 2,
          "encoder.layers.encoder_layer_0.self_attention.in_proj_weight": 3,
          "encoder.layers.encoder_layer_0.self_attention.out_proj.bias": 4,
          "encoder.layers.encoder_layer_0.ln_2.bias": 5, "encoder.layers.encoder_layer_1.mlp.0.weight": 6,
          "encoder.layers.encoder_layer_1.mlp.3.bias": 7, "heads.head.weight": 8}
    assert from_torchvision_state_dict(tv) == {
        "class_token": 1, "encoder.layers.1.norm1.weight": 2, "encoder.layers.0.self_attn.in_proj_weight": 3,
        "encoder.layers.0.self_attn.out_proj.bias": 4, "encoder.layers.0.norm2.bias": 5,
        "encoder.layers.1.linear1.weight": 6, "encoder.layers.1.linear2.bias": 7, "heads.head.weight": 8}
    assert set(from_torchvision_state_dict(dict.fromkeys(_tv_keys(depth=2)))) == keys


def _tv_keys(depth):
    """torchvision VisionTransformer's state_dict keys (num_classes set, no representation layer)."""
    block = ["ln_1.weight", "ln_1.bias", "self_attention.in_proj_weight", "self_attention.in_proj_bias",
             "self_attention.out_proj.weight", "self_attention.out_proj.bias", "ln_2.weight", "ln_2.bias",
             "mlp.0.weight", "mlp.0.bias", "mlp.3.weight", "mlp.3.bias"]
    return (["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"]
            + [f"encoder.layers.encoder_layer_{i}.{k}" for i in range(depth) for k in block]
            + ["encoder.ln.weight", "encoder.ln.bias", "heads.head.weight", "heads.head.bias"])


def test_registry_entry_options_and_training_defaults():
    entry = get_model_entry("vit")
    assert entry.task == "classification" and entry.default_dataset == "mnist"
    assert entry.options == {"patch_size": 7, "dim": 64, "depth": 4, "heads": 4, "mlp_dim": 128, "dropout": 0.0}
    t = entry.training
    assert t["optimizer"] == "adamw" and t["scheduler"] == "warmup-cosine" and t["warmup"] > 0
    assert t["budget_clock"] == "cpu" and t["time_budget"] <= 360
    assert entry.parse_option("patch-size", "4") == ("patch_size", 4)
    with pytest.raises(ValueError, match="vit option 'dim' expects an int, got 'wide'"):
        entry.parse_option("dim", "wide")
    model = build_model("vit", (1, 28, 28), 10, patch_size=4, dim=32, depth=3, heads=2, mlp_dim=48, dropout=0.1)
    assert len(model.encoder.layers) == 3 and model.encoder.pos_embedding.shape == (1, 50, 32)
    assert model.encoder.layers[0].linear1.out_features == 48 and model.encoder.layers[0].self_attn.num_heads == 2
    assert model.encoder.layers[0].norm_first and model.encoder.dropout.p == 0.1
    with pytest.raises(TypeError, match="has no option"):
        build_model("vit", (1, 28, 28), 10, width=3)
