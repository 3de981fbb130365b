"""Training: the one Trainer loop, the step objects it drives (one per task), callbacks, checkpoints,
budget schedules and metrics."""
from .trainer import Trainer, fit, TrainingDiverged  # noqa: F401
from .steps import (Step, ClassificationStep, RegressionStep, SupervisedStep, LanguageModelStep,  # noqa: F401
                    Seq2SeqStep, main_output)
from .schedules import BudgetSchedule, WarmupCosine  # noqa: F401
from .callbacks import (Callback, EarlyStopping, ModelCheckpoint, CSVLogger, JSONLogger,  # noqa: F401
                        ProgressLine)
from .checkpoint import save_checkpoint, load_checkpoint, CheckpointError  # noqa: F401
from .metrics import accuracy, top_k_accuracy, confusion_matrix, precision_recall_f1  # noqa: F401
