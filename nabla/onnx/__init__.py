"""Leaving nabla as ONNX: ``nabla.onnx.export(model, example_inputs, path)`` (torch.onnx.export's names).

Needs the optional extra ``pip install "nabla[onnx]"`` (onnx; onnxruntime to run the file).  Supported: the
image classifiers (MLP, softmax regression, LeNet-5, AlexNet, VGG, GoogLeNet, ResNet and CIFAR ResNets, ViT);
the language models (char RNN/LSTM/GRU with their states, GPT), seq2seq (the teacher-forced forward), the text
classifiers, the tagger and the forecaster; the segmentation models (FCN, U-Net, SegNet); the GANs' generators,
the VAEs' decoders (``nabla.onnx.generative.VAEDecoder``) and PixelCNN's network; the detectors' networks
(``nabla.onnx.detection.raw_outputs``: box decoding and NMS stay in nabla); and any model built from the
layers in nabla/onnx/layers.py inside Sequentials.  Anything else is refused by name and module path
(``@onnx_emitter(Class)`` adds an export for a new module).
"""
from .export import build_graph, export
from .graph import UnsupportedExport, onnx_emitter

__all__ = ["export", "build_graph", "onnx_emitter", "UnsupportedExport"]
