"""Segmentation training steps (issue 14): nabla's ``unet`` and ``segnet`` (registry defaults: U-Net width 16,
depth 3; SegNet widths 16,32,64,64, 2 convs per stage) against the same architectures written in PyTorch
under the same parameter names, one step on a fixed batch of 16 64x64 ``mnist-scenes`` with their semantic
masks (11 classes: background + 10 digits): forward -> cross-entropy over (N, C, H, W) -> backward -> Adam
(the registry's 2e-3).  Both sides read the same scenes and nabla's initial weights (``_scenes.py``); the
smoke test checks that both first losses agree.
"""
from __future__ import annotations

from collections import OrderedDict

from . import Workload, framework, register, training_step
from ._scenes import load_params, load_scenes, scene_config

CLASSES = 11
BATCH = 16


def _conv_bn_relu(nn, c_in, c_out):
    return nn.Sequential(OrderedDict([("conv", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)),
                                      ("bn", nn.BatchNorm2d(c_out)), ("relu", nn.ReLU(inplace=True))]))


def torch_unet(torch, width=16, depth=3):
    nn = torch.nn

    def double(c_in, c_out):
        return nn.Sequential(OrderedDict([("0", _conv_bn_relu(nn, c_in, c_out)),
                                          ("1", _conv_bn_relu(nn, c_out, c_out))]))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = [width * 2 ** level for level in range(depth + 1)]
            self.down = nn.ModuleList([double(a, b) for a, b in zip([1] + w, w[:-1])])
            self.pool = nn.MaxPool2d(2, 2)
            self.bottom = double(w[-2], w[-1])
            self.up = nn.ModuleList([nn.ConvTranspose2d(w[lv + 1], w[lv], 2, stride=2)
                                     for lv in reversed(range(depth))])
            self.up_conv = nn.ModuleList([double(2 * w[lv], w[lv]) for lv in reversed(range(depth))])
            self.classifier = nn.Conv2d(w[0], CLASSES, 1)

        def forward(self, x):
            skips = []
            for block in self.down:
                x = block(x)
                skips.append(x)
                x = self.pool(x)
            x = self.bottom(x)
            for up, block, skip in zip(self.up, self.up_conv, reversed(skips)):
                x = block(torch.cat([skip, up(x)], dim=1))
            return self.classifier(x)

    return UNet()


def torch_segnet(torch, widths=(16, 32, 64, 64), convs=2):
    nn, F = torch.nn, torch.nn.functional

    def stack(pairs):
        return nn.Sequential(OrderedDict([(str(i), _conv_bn_relu(nn, a, b)) for i, (a, b) in enumerate(pairs)]))

    class SegNet(nn.Module):
        def __init__(self):
            super().__init__()
            ins, outs = (1,) + widths[:-1], (widths[0],) + widths[:-1]
            self.encoder = nn.ModuleList([stack([(a, c)] + [(c, c)] * (convs - 1)) for a, c in zip(ins, widths)])
            self.decoder = nn.ModuleList([stack([(c, c)] * (convs - 1) + [(c, o)]) for c, o in zip(widths, outs)])
            self.classifier = nn.Conv2d(widths[0], CLASSES, 1)

        def forward(self, x):
            kept = []
            for stage in self.encoder:
                x = stage(x)
                size = x.shape[-2:]
                x, indices = F.max_pool2d(x, 2, 2, return_indices=True)
                kept.append((indices, size))
            for stage, (indices, size) in zip(reversed(self.decoder), reversed(kept)):
                x = stage(F.max_unpool2d(x, indices, 2, 2, output_size=size))
            return self.classifier(x)

    return SegNet()


def _setup(fw, model, cfg):
    load_params(fw, model, cfg)
    model.train()
    images, _, _, masks = load_scenes(cfg, cfg.get("smoke_batch", cfg["batch"]))
    x, y = fw.tensor(images), fw.tensor(masks)
    criterion = fw.nn.CrossEntropyLoss()
    opt = fw.optim.Adam(model.parameters(), lr=cfg["lr"])
    return training_step(opt, lambda: criterion(model(x), y))


def _workload(name, model, torch_build, what):
    def config():
        from nabla.models.registry import get_model_entry
        return {**scene_config(model, BATCH, CLASSES), "lr": get_model_entry(model).training["lr"]}

    def nb_setup(cfg):
        nb = framework("nabla", "nn", "optim")
        from nabla.models import build_model
        return _setup(nb, build_model(model, (1, 64, 64), CLASSES), cfg)

    def torch_setup(cfg):
        torch = framework("torch")
        return _setup(torch, torch_build(torch), cfg)

    register(Workload(name, goal=2.5, source="issue 14",
                      description=f"{what} (registry defaults) training step, batch {BATCH} of 64x64 mnist-scenes "
                                  "masks, 11 classes: forward + cross-entropy over (N, C, H, W) + backward + Adam",
                      nabla=nb_setup, torch=torch_setup, config=config, smoke={"smoke_batch": 2}))


_workload("unet_train_b16", "unet", torch_unet, "U-Net (width 16, depth 3)")
_workload("segnet_train_b16", "segnet", torch_segnet, "SegNet (widths 16,32,64,64, 2 convs per stage)")
