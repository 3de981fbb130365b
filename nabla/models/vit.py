"""The Vision Transformer (ViT; Dosovitskiy et al. 2021, "An image is worth 16x16 words", eqs. 1-4):

    z_0 = [x_class ; x_p^1 E ; ... ; x_p^N E] + E_pos      patches of P x P pixels, linearly embedded
    z'_l = MSA(LN(z_{l-1})) + z_{l-1}                        l = 1..L, pre-norm blocks
    z_l = MLP(LN(z'_l)) + z'_l                               MLP: Linear, GELU, Linear
    y = head(LN(z_L^0))                                      the class token's output alone

An H x W image gives N = (H/P)(W/P) patches; embedding each patch by the same matrix E is a convolution
whose kernel and stride are both P (``conv_proj``, torchvision's).  Nothing in the model knows that
neighbouring pixels belong together beyond the patch: attention mixes every token with every other from
the first layer on, and the position table ``pos_embedding`` is learned from data, so the 2-D layout is
learned too.  That missing locality prior is the notes' point ("Transformers in computer vision"): a ViT
needs more data or compute than a CNN to do as well on small images.

Names follow torchvision's ``VisionTransformer`` (``conv_proj``, ``class_token``, ``encoder.pos_embedding``,
``encoder.layers``, ``encoder.ln``, ``heads.head``), so ``from_torchvision_state_dict`` maps its weights
across; each block is ``nabla.nn.TransformerEncoderLayer(norm_first=True, activation="gelu")``, whose
own names are PyTorch's.  Registered as ``vit`` (task "classification").
"""
from __future__ import annotations

import copy
import math
import re
from collections import OrderedDict

import numpy as np

from .. import backend, nn
from ..ops.shape import cat
from .registry import Option, register_model


class Encoder(nn.Module):
    """z_0 + pos_embedding -> dropout -> ``layers`` (pre-norm blocks) -> ``ln``; torchvision's Encoder."""

    def __init__(self, seq_length: int, num_layers: int, num_heads: int, hidden_dim: int, mlp_dim: int,
                 dropout: float = 0.0, norm_eps: float = 1e-6):
        super().__init__()
        self.pos_embedding = nn.Parameter(np.empty((1, seq_length, hidden_dim), dtype=backend.get_default_dtype()))
        nn.init.normal_(self.pos_embedding, 0.0, 0.02)  # torchvision's (BERT's) scale
        self.dropout = nn.Dropout(dropout)
        block = nn.TransformerEncoderLayer(hidden_dim, num_heads, mlp_dim, dropout=dropout, activation="gelu",
                                           layer_norm_eps=norm_eps, batch_first=True, norm_first=True)
        self.layers = nn.ModuleList([copy.deepcopy(block) for _ in range(num_layers)])
        self.ln = nn.LayerNorm(hidden_dim, eps=norm_eps)

    def forward(self, x):
        x = self.dropout(x + self.pos_embedding)
        for layer in self.layers:
            x = layer(x)
        return self.ln(x)


class VisionTransformer(nn.Module):
    """``forward(x (N, C, H, W)) -> logits (N, num_classes)``; see the module docstring.  ``image_size``
    (an int or (H, W)) is fixed at construction, since the position table has one row per patch."""

    def __init__(self, image_size=28, patch_size: int = 7, num_layers: int = 4, num_heads: int = 4,
                 hidden_dim: int = 64, mlp_dim: int = 128, dropout: float = 0.0, num_classes: int = 10,
                 in_channels: int = 1):
        super().__init__()
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if patch_size < 1 or h % patch_size or w % patch_size:
            raise ValueError(f"VisionTransformer: image size {h}x{w} is not divisible by patch_size={patch_size}; "
                             f"choose a patch size that divides both sides")
        if hidden_dim % num_heads:
            raise ValueError(f"VisionTransformer: hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}")
        self.image_size, self.patch_size, self.hidden_dim = (h, w), int(patch_size), int(hidden_dim)
        self.grid = (h // patch_size, w // patch_size)
        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, kernel_size=patch_size, stride=patch_size)
        # torchvision's: truncated normal with std sqrt(1 / fan_in), zero bias
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1.0 / (in_channels * patch_size ** 2)))
        nn.init.zeros_(self.conv_proj.bias)
        self.class_token = nn.Parameter(np.zeros((1, 1, hidden_dim), dtype=backend.get_default_dtype()))
        self.encoder = Encoder(self.grid[0] * self.grid[1] + 1, num_layers, num_heads, hidden_dim, mlp_dim, dropout)
        self.heads = nn.Sequential(OrderedDict([("head", nn.Linear(hidden_dim, num_classes))]))
        nn.init.zeros_(self.heads.head.weight)  # torchvision's: every class equally likely at the start
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        """(N, C, H, W) -> the patch embeddings (N, H/P * W/P, hidden_dim), patches in row-major order."""
        if x.ndim != 4 or tuple(x.shape[2:]) != self.image_size or x.shape[1] != self.conv_proj.in_channels:
            raise ValueError(f"VisionTransformer: expected input of shape (N, {self.conv_proj.in_channels}, "
                             f"{self.image_size[0]}, {self.image_size[1]}) (built for that image size, "
                             f"patch_size={self.patch_size}), got {tuple(x.shape)}")
        x = self.conv_proj(x)                                    # (N, D, H/P, W/P)
        return x.reshape(x.shape[0], self.hidden_dim, -1).transpose(1, 2)

    def forward(self, x):
        x = self._process_input(x)
        x = cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)   # the class token is position 0
        return self.heads(self.encoder(x)[:, 0])

    def extra_repr(self) -> str:
        return (f"image_size={self.image_size}, patch_size={self.patch_size}, patches={self.grid[0] * self.grid[1]}, "
                f"hidden_dim={self.hidden_dim}")


# torchvision's block names -> nn.TransformerEncoderLayer's
_BLOCK_NAMES = {"ln_1": "norm1", "self_attention": "self_attn", "ln_2": "norm2", "mlp.0": "linear1",
                "mlp.3": "linear2"}
_BLOCK_KEY = re.compile(r"^encoder\.layers\.encoder_layer_(\d+)\.(ln_1|self_attention|ln_2|mlp\.0|mlp\.3)\.(.+)$")


def from_torchvision_state_dict(state: dict) -> dict:
    """A torchvision ``VisionTransformer`` state dict with this module's keys (its arrays untouched):
    ``encoder.layers.encoder_layer_i.ln_1`` -> ``encoder.layers.i.norm1``, ``self_attention`` -> ``self_attn``,
    ``ln_2`` -> ``norm2``, ``mlp.0`` / ``mlp.3`` -> ``linear1`` / ``linear2``; every other key is the same."""
    out = {}
    for key, value in state.items():
        m = _BLOCK_KEY.match(key)
        out[f"encoder.layers.{m[1]}.{_BLOCK_NAMES[m[2]]}.{m[3]}" if m else key] = value
    return out


# training defaults: 330 CPU seconds on one thread (about 14.5 epochs of 22 s) gave 98.43% MNIST test accuracy
# (97% on validation from epoch 6) and 88.83% on Fashion-MNIST; both over-fit by the end (training accuracy 99.99%
# and 96%, validation 98.3% and 88.7%), so dropout or --augment may do better (not measured)
@register_model("vit", "Vision Transformer (Dosovitskiy et al. 2021): patch embedding, class token, learned positions, "
                "pre-norm Transformer encoder, linear head on the class token (patch_size, dim, depth, heads, "
                "mlp_dim, dropout)", default_dataset="mnist",
                training={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05, "batch_size": 128,
                          "scheduler": "warmup-cosine", "warmup": 200, "min_lr_ratio": 0.02, "epochs": 20,
                          "time_budget": 330.0, "budget_clock": "cpu"},
                patch_size=Option(7, help="patch side in pixels (must divide the image's sides)"),
                dim=Option(64, help="token width (hidden_dim)"), depth=Option(4, help="Transformer blocks"),
                heads=Option(4, help="attention heads (must divide dim)"),
                mlp_dim=Option(128, help="hidden units of each block's MLP"), dropout=0.0)
def _vit(in_shape, num_classes, patch_size=7, dim=64, depth=4, heads=4, mlp_dim=128, dropout=0.0):
    return VisionTransformer(tuple(in_shape[1:]), patch_size, depth, heads, dim, mlp_dim, dropout, num_classes,
                             in_channels=in_shape[0])
