"""nabla.nn: Module, Parameter, containers, layers, losses, initialisation and regularisation
(PyTorch's ``torch.nn`` names and semantics)."""
from .parameter import Parameter, Buffer  # noqa: F401
from .module import Module  # noqa: F401
from .containers import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa: F401
from . import init  # noqa: F401
from . import functional  # noqa: F401
from .linear import Linear, Identity  # noqa: F401
from .activation import (Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softplus, SiLU, Softmax,  # noqa: F401
                         LogSoftmax)
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d  # noqa: F401
from .norm import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm  # noqa: F401
from .sync_batchnorm import SyncBatchNorm  # noqa: F401
from .embedding import Embedding  # noqa: F401
from .flatten import Flatten, Unflatten  # noqa: F401
from .loss import (MSELoss, L1Loss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss,  # noqa: F401
                   BCEWithLogitsLoss, KLDivLoss, DiceLoss)
from .regularization import l1_penalty, l2_penalty  # noqa: F401
from . import utils  # noqa: F401,E402  (clip_grad_norm_, clip_grad_value_, ...)
from .attention import MultiheadAttention, AdditiveAttention, BahdanauAttention  # noqa: F401,E402
from .positional import (SinusoidalPositionalEncoding, PositionalEncoding, LearnedPositionalEncoding,  # noqa: F401,E402
                         sinusoidal_positional_encoding)
from .transformer import (TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,  # noqa: F401,E402
                          TransformerDecoder, Transformer, generate_square_subsequent_mask)
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401,E402
from .masked_conv import MaskedConv2d  # noqa: F401,E402
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,  # noqa: F401,E402
                      AdaptiveMaxPool2d, MaxUnpool2d)
from .upsampling import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d  # noqa: F401,E402
from .lrn import LocalResponseNorm  # noqa: F401,E402
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401,E402
