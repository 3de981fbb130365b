"""The model zoo, one file per family, each built only from nabla.nn; registered for ``nabla train``."""
from .registry import (register_model, build_model, get_model_entry, model_names, default_model_name,  # noqa: F401
                       Option, ModelEntry)
from .regression import LinearRegression, SoftmaxRegression  # noqa: F401
from .mlp import MLP  # noqa: F401
from .lenet import LeNet5, lenet5  # noqa: F401
from .alexnet import AlexNet, alexnet, alexnet_small  # noqa: F401
from .vgg import (VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,  # noqa: F401
                  vgg_small)
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet, googlenet_small, googlenet_loss  # noqa: F401
from .resnet import (ResNet, BasicBlock, Bottleneck, CifarResNet, resnet18, resnet34, resnet50,  # noqa: F401
                     resnet101, resnet152, resnet_small, resnet20, resnet32, resnet44, resnet56, resnet110,
                     plain20, plain32, plain44, plain56, plain110)
from .rnn_lm import CharRNNLM  # noqa: F401
from .gpt import GPT  # noqa: F401
from .seq2seq import Seq2SeqAttention, TransformerSeq2Seq  # noqa: F401
from .fcn import FCN, fcn32s, fcn16s, fcn8s  # noqa: F401
from .unet import UNet, unet  # noqa: F401
from .segnet import SegNet, segnet  # noqa: F401
from .yolo import YOLOv1  # noqa: F401
from .faster_rcnn import FasterRCNN  # noqa: F401
from .fast_rcnn import FastRCNN  # noqa: F401
from .sliding_window import SlidingWindowDetector  # noqa: F401
from .rcnn import RCNN  # noqa: F401
from .pixelcnn import PixelCNN  # noqa: F401
from .vae import VAE, ConvVAE, VariationalAutoencoder, gaussian_kl, bernoulli_nll, elbo_terms, iwae_nll  # noqa: F401
from .gan import GAN  # noqa: F401
from .forecaster import RNNForecaster  # noqa: F401
from .text_classifiers import TextCNN, TextLSTM, TextTransformer  # noqa: F401
from .tagger import BiLSTMTagger  # noqa: F401
from .vit import VisionTransformer  # noqa: F401
