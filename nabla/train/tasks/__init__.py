"""The tasks ``nabla train`` knows, by the name a model's registry entry gives (see ``base.Task``)."""
from .base import RunData, Task, check_dataset, get_task, register_task, task_names  # noqa: F401
# each registers its tasks
from . import binary, classification, detection, forecasting, generative, language_model, segmentation, seq2seq, tagging, text_classification  # noqa: F401,E402
