"""One module per claim of the notes: its claim, ``run`` (the numbers), ``verdict`` (from the numbers alone) and
``plot``; see ``base``.  ``common`` holds what several share (data by registered name, training through the
Trainer, curve summaries, progress lines).  The modules are imported (registered) in the order of the course
notes, chapter by chapter, so ``nabla experiment --list`` reads as the notes do."""
from .base import (Result, register_experiment, run_experiment, experiment_names, get_experiment,  # noqa: F401
                   format_table, evaluate_numbers, experiments_in_notes_order, CHAPTERS, NOTES_GAP,
                   notes_excerpts)
from . import local_minima  # noqa: F401
from . import linear_regression  # noqa: F401
from . import optimizers  # noqa: F401
from . import gd_variants  # noqa: F401
from . import gd_convex  # noqa: F401
from . import sgd_noise  # noqa: F401
from . import autodiff_cost  # noqa: F401
from . import regularization  # noqa: F401
from . import linear_stack  # noqa: F401
from . import activations  # noqa: F401
from . import multi_label  # noqa: F401
from . import batchnorm  # noqa: F401
from . import batchnorm_rnn  # noqa: F401
from . import small_kernels  # noqa: F401
from . import residual  # noqa: F401
from . import architectures  # noqa: F401
from . import vgg_depth  # noqa: F401
from . import aux_heads  # noqa: F401
from . import feature_maps  # noqa: F401
from . import long_term_dependency  # noqa: F401
from . import detectors  # noqa: F401
from . import segmenters  # noqa: F401
from . import attention_maps  # noqa: F401
from . import attention_cost  # noqa: F401
from . import rnn_vs_transformer  # noqa: F401
from . import vit_vs_cnn  # noqa: F401
from . import generative  # noqa: F401
