"""ONNX emitters for the generative models' networks: the GANs' generators, the VAEs' decoders, PixelCNN.

What is exported is the deterministic network; the randomness stays with the caller:
  GAN (MLP or DCGAN):  z (N, latent) [, labels (N,) int64 when conditional] -> images (N, C, H, W) in [-1, 1]
                       (``GAN.forward`` is ``generate``; the one-hot of the labels is a Gather from the identity
                       matrix, concatenated to z as nabla does; draw z ~ N(0, I) outside and map to [0, 1] by
                       (x + 1) / 2 as ``GAN.sample`` does)
  VAE, ConvVAE:        ``VAEDecoder(vae)``, the ``decoder`` (Linear, ReLU, Unflatten, ConvTranspose2d): z (N, latent)
                       -> Bernoulli logits (N, C, H, W); their sigmoid is ``sample``'s image.  The VAE itself (its
                       forward draws z ~ q(z|x)) is refused
  PixelCNN:            images (N, C, H, W) in [0, 1] -> per-pixel logits, every masked convolution a plain Conv
                       with the fixed mask folded into its weight.  Sampling stays in nabla (``PixelCNN.sample``):
                       it runs the network H x W times, once per pixel in raster order, and an ONNX runtime can
                       do the same loop with this graph.
Registered for ``nabla export`` as the targets of the "gan", "vae" and "autoregressive" tasks.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import Tensor
from ..models.gan import GAN, DCGANGenerator, MLPGenerator
from ..models.pixelcnn import MaskedResidualBlock, PixelCNN
from ..models.vae import VariationalAutoencoder
from ..ops.shape import cat
from .checkpoint import ExportTarget, export_target
from .graph import Value, onnx_emitter, unsupported
from .models import add, chain, relu


def reshape(g, x: Value, shape, path: str, out) -> Value:
    """Reshape to (batch, *shape): ONNX's leading 0 copies the batch axis, so it stays dynamic."""
    target = g.constant(np.array([0, *shape], np.int64), f"{path}.shape")
    return Value(g.node("Reshape", [x.name, target], f"{path}.reshape"), out)


@onnx_emitter(MLPGenerator)
def _mlp_generator(g, module, z, path):
    h = chain(g, module, z, path, "layers")
    return reshape(g, h, module.out_shape, path, module(z.tensor))


@onnx_emitter(DCGANGenerator)
def _dcgan_generator(g, module, z, path):
    """relu(bn0(fc(z))) reshaped to (2w, H/4, W/4) -> relu(bn1(up1)) -> tanh(up2)."""
    h = chain(g, module, z, path, "fc", "bn0", "relu")
    h = reshape(g, h, module.base, path, h.tensor.reshape(z.shape[0], *module.base))
    return chain(g, module, h, path, "up1", "bn1", "relu", "up2", "tanh")


@onnx_emitter(GAN)
def _gan(g, module, z, labels=None, path="model"):
    """``generate(z [, labels])``: the generator on z, or on [z, one_hot(labels)] for a conditional GAN."""
    if module.conditional != (labels is not None):
        raise unsupported(module, path, "a conditional GAN exports with inputs (z, labels), an unconditional one "
                                        f"with z alone; got {1 + (labels is not None)} inputs")
    if labels is None:
        return g.emit(module.generator, z, path=f"{path}.generator")
    eye = g.constant(np.eye(module.num_classes, dtype=np.float32), f"{path}.one_hot_table")
    hot = g.node("Gather", [eye, labels.name], f"{path}.one_hot", axis=0)
    onehot = np.eye(module.num_classes, dtype=np.float32)[np.asarray(labels.tensor.data, np.int64)]
    joined = Value(g.node("Concat", [z.name, hot], f"{path}.cat", axis=1),
                   cat([z.tensor, Tensor(onehot)], dim=1))
    return g.emit(module.generator, joined, path=f"{path}.generator")


@onnx_emitter(MaskedResidualBlock)
def _masked_residual(g, module, x, path):
    """x + conv_B(relu(x))."""
    return add(g, x, g.emit(module.conv, relu(g, x, path), path=f"{path}.conv"), path)


@onnx_emitter(PixelCNN)
def _pixelcnn(g, module, x, path):
    """input_conv (mask A), the residual mask-B blocks, the 1x1 output layers; 256 levels and C > 1 reshape the
    logits to (N, 256, C, H, W)."""
    h = g.emit(module.input_conv, x, path=f"{path}.input_conv")
    for i, block in enumerate(module.blocks):
        h = g.emit(block, h, path=f"{path}.blocks.{i}")
    logits = g.emit(module.output, h, path=f"{path}.output")
    c = module.in_shape[0]
    if module.levels == 256 and c > 1:
        return reshape(g, logits, (256, c, *logits.shape[2:]), path, module.head(h.tensor))
    return logits


@export_target("gan")
def gan_target(model, config) -> ExportTarget:
    """The GAN's generator: z ~ N(0, I) (batch, latent) [and class labels (batch,) int64] -> images in [-1, 1]."""
    latent, k = model.latent_dim, model.num_classes

    def inputs(batch, rng):
        z = rng.standard_normal((batch, latent)).astype(np.float32)
        return [z, rng.integers(0, k, batch).astype(np.int64)] if model.conditional else [z]
    names = ["z", "labels"] if model.conditional else ["z"]
    return ExportTarget(model, inputs, f"z (batch, {latent})" + (f", labels (batch,) in [0, {k})"
                                                                 if model.conditional else ""),
                        input_names=names, output_names=["images"])


class VAEDecoder(nn.Module):
    """A VAE's generative half as a module of its own: ``forward(z) = vae.decode(z)``, Bernoulli logits."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae
        self.training = vae.training  # the wrapper's mode is the VAE's (export restores it)

    def forward(self, z):
        return self.vae.decode(z)


@onnx_emitter(VAEDecoder)
def _vae_decoder(g, module, z, path):
    """The VAE's ``decoder`` under its own path, so the weights keep the VAE's state_dict names (decoder.0.weight)."""
    return g.emit(module.vae.decoder, z, path=f"{path}.decoder")


@onnx_emitter(VariationalAutoencoder)
def _refuse_vae(g, module, *values, path):
    raise unsupported(module, path, "its forward draws z ~ q(z|x) at random; export "
                                    "nabla.onnx.generative.VAEDecoder(vae), the decoder z -> logits")


@export_target("vae")
def vae_target(model, config) -> ExportTarget:
    """The VAE's decoder: z ~ N(0, I) (batch, latent) -> Bernoulli logits (batch, C, H, W)."""
    latent = model.latent_dim
    return ExportTarget(VAEDecoder(model), lambda batch, rng: [rng.standard_normal((batch, latent)).astype(np.float32)],
                        f"z (batch, {latent})", input_names=["z"], output_names=["logits"])


@export_target("autoregressive")
def pixelcnn_target(model, config) -> ExportTarget:
    """PixelCNN's network: images in [0, 1] (binary for 2 levels, k / 255 for 256) -> per-pixel logits."""
    shape, levels = model.in_shape, model.levels

    def inputs(batch, rng):
        return [(rng.integers(0, levels, (batch, *shape)) / (levels - 1)).astype(np.float32)]
    return ExportTarget(model, inputs, f"images (batch, {', '.join(map(str, shape))}) in [0, 1]",
                        input_names=["images"], output_names=["logits"])
