"""Training: the Trainer loop, callbacks, checkpoints and metrics."""
from .trainer import Trainer, fit, TrainingDiverged  # noqa: F401
from .callbacks import Callback, EarlyStopping, ModelCheckpoint, CSVLogger, JSONLogger  # noqa: F401
from .checkpoint import save_checkpoint, load_checkpoint, CheckpointError  # noqa: F401
from .metrics import accuracy, top_k_accuracy, confusion_matrix, precision_recall_f1  # noqa: F401
