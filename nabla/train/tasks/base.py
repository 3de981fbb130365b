"""A task: what ``nabla train`` / ``eval`` / ``sample`` do for one kind of model, apart from the loop.

A registry entry's ``task`` names one of these.  A task loads its data (``load``), makes the step and the
loaders that fit the built model (``make_step``), reports on the test split when training ends
(``final_report``), evaluates a checkpoint (``evaluate``) and, where it can, samples from one
(``sample``).  Adding a task (detection, segmentation, GAN...) is a new module here and one
``register_task`` line; the Trainer, the CLI and the run folders do not change.
"""
from __future__ import annotations

from dataclasses import dataclass, field

_TASKS: dict = {}


@dataclass
class RunData:
    """What a task's ``load`` returns."""
    train: object                  # the training set (the task makes its loader in make_step)
    val: object                    # the validation set
    in_shape: tuple                # the model's input shape (what the registry's builder gets)
    num_classes: int               # its output size (classes, vocabulary)
    config: dict = field(default_factory=dict)   # recorded in checkpoints (normalisation, vocabularies)
    sizes: str = ""                # "4,000 train / 1,000 validation" for the opening line
    extra: dict = field(default_factory=dict)    # task-specific (e.g. the data set object)


class Task:
    """Base of the tasks; ``name`` is what registry entries say.  ``model_tasks``: the tasks of other models
    this one also trains, on its own data sets (the binary task trains the image classifiers with one logit).
    ``data_parallel``: whether ``mpiexec -n N nabla train`` may train it over several processes: its training
    loader is a DataLoader over an indexable set (or holds one as ``.loader``) and every figure of its
    ``evaluate`` is a mean over samples, a count (a step's ``count_figures``), or computed once on rank 0 over the
    whole set and broadcast (a step's ``whole_figures``: the GAN's FID), so the ranks' figures combine exactly;
    the others refuse in one line."""

    name = ""
    model_tasks: tuple = ()
    data_parallel = False

    def load(self, dataset: str, settings: dict, download: bool, config: dict | None = None) -> RunData:
        raise NotImplementedError(f"{type(self).__name__}.load is abstract")  # pragma: no cover

    def make_step(self, entry, model, optimizer, data: RunData, settings: dict):
        """``(step, train_loader, val_data)``."""
        raise NotImplementedError(f"{type(self).__name__}.make_step is abstract")  # pragma: no cover

    def final_report(self, trainer, data: RunData, settings: dict, run: dict, echo) -> dict:
        raise NotImplementedError(f"{type(self).__name__}.final_report is abstract")  # pragma: no cover

    def evaluate(self, model, config: dict, options: dict, echo) -> dict:
        raise NotImplementedError(f"{type(self).__name__}.evaluate is abstract")  # pragma: no cover

    def sample(self, model, config: dict, options: dict, echo):
        raise ValueError(f"{config.get('model')!r} checkpoints ({self.name}) cannot be sampled: only language-model, "
                         "seq2seq and image-generative (VAE, GAN, PixelCNN) checkpoints can")


def register_task(task: Task) -> Task:
    _TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in _TASKS:
        raise KeyError(f"no training task {name!r}; known tasks: {', '.join(_TASKS)}")
    return _TASKS[name]


def task_names() -> list:
    return list(_TASKS)


def _task_name(entry, dataset: str) -> tuple:
    """``(data set class, name of the task that trains entry's model on it)``; see ``task_for``."""
    from ...data.datasets import datasets_for_task, get_dataset_class
    try:
        cls = get_dataset_class(dataset)
    except ValueError as e:
        raise ValueError(str(e)) from None
    tasks = tuple(getattr(cls, "tasks", (getattr(cls, "task", None),)))
    if entry.task in tasks:
        return cls, entry.task
    for name in tasks:
        if name in _TASKS and entry.task in _TASKS[name].model_tasks:
            return cls, name
    serving = [entry.task] + [t.name for t in _TASKS.values() if entry.task in t.model_tasks]
    fits = ", ".join(n for t in serving for n in datasets_for_task(t)) or "none yet"
    raise ValueError(f"model {entry.name!r} ({entry.task}) does not fit data set {cls.name!r} "
                     f"({getattr(cls, 'task', '?')}); data sets for {entry.task}: {fits}")


def task_for(entry, dataset: str) -> Task:
    """The task a model of ``entry`` trains with on ``dataset``: its own where the data set lists it, else a
    task the data set lists that also trains models of the entry's task (``Task.model_tasks``: a binary data
    set trains an image classifier with the binary task).  A one-line ValueError when neither fits."""
    return get_task(_task_name(entry, dataset)[1])


def check_dataset(entry, dataset: str) -> str:
    """The data set's registered name, if a model of this entry's task can train on it (``task_for``); else a
    one-line ValueError naming the model, its task and the data sets that fit."""
    return _task_name(entry, dataset)[0].name
