"""The step objects the Trainer drives, one per task (see ``base.Step`` for the contract)."""
from .base import Step  # noqa: F401
from .classification import ClassificationStep, RegressionStep, SupervisedStep, main_output  # noqa: F401
