"""The step objects the Trainer drives, one per task (see ``base.Step`` for the contract)."""
from .base import Step  # noqa: F401
from .classification import ClassificationStep, RegressionStep, SupervisedStep, main_output  # noqa: F401
from .language_model import LanguageModelStep  # noqa: F401
from .seq2seq import Seq2SeqStep  # noqa: F401
from .detection import DetectionStep  # noqa: F401
from .scene_batches import SceneBatches  # noqa: F401
from .segmentation import SegmentationStep  # noqa: F401
from .vae import VAEStep  # noqa: F401
from .gan import GANStep  # noqa: F401
from .autoregressive import AutoregressiveStep  # noqa: F401
from .binary import BinaryStep  # noqa: F401
from .forecasting import ForecastStep  # noqa: F401
from .tagging import TaggingStep  # noqa: F401
