"""Sequence classification of text (``kjv-books``: which book a verse comes from; ``kjv-testament``): train on
length-bucketed batches, report on the test split against the majority-class baseline.

The report: accuracy, the majority baseline (the training split's most frequent class, scored on the test
split), macro-F1, the accuracy of each label grouping the data set declares (``label_groups``: a book
prediction scored by its testament), the most confused pairs of classes, and the confusion matrix
``C[i, j]`` (verses of class i predicted as j) written to the run folder as ``confusion.json`` and, where
matplotlib is installed, ``confusion.png`` (rows normalised: each true class's share per prediction).
The checkpoint records the vocabulary, the class names and the majority class, so ``nabla eval`` needs
nothing else; ``nabla sample CKPT --prompt TEXT`` prints the likeliest classes of the prompt.

Data-parallel (``mpiexec -n N nabla train``): each rank trains on its share of every epoch's length buckets
(``BucketBatches.shard``: batches r, r+N, ...; the epoch's last ``len % N`` batches dropped so every rank
takes the same steps); validation is sharded and its confusion counts added (``TextClassificationStep``);
the final report is rank 0's over the whole test split (the weights are the same on every rank), broadcast.
"""
from __future__ import annotations

import os

import numpy as np

from ...autograd.grad_mode import no_grad
from ...autograd.tensor import from_numpy
from ...data.datasets import get_dataset_class
from ...data.text.vocab import Vocab, pad_sequences
from ..callbacks import write_json
from ..metrics import confusion_matrix
from ..steps.text_classification import SequenceBatches, TextClassificationStep
from .base import RunData, Task, register_task

EVAL_BATCH = 256
TOP_PAIRS = 5


def text_split(name: str, split: str, download: bool, vocab=None):
    """A split of a text classification set; its vocabulary is the training split's unless given."""
    return get_dataset_class(name)(split=split, download=download, vocab=vocab)


def confused_pairs(cm: np.ndarray, classes, k: int = TOP_PAIRS) -> list:
    """The ``k`` pairs {i, j} with the most samples of one predicted as the other, ``C[i, j] + C[j, i]``; the
    class more often mistaken for the other comes first."""
    both = cm + cm.T
    upper = np.triu(both, 1)
    rows, cols = np.unravel_index(np.argsort(-upper, axis=None, kind="stable")[:k], both.shape)
    keep = upper[rows, cols] > 0
    rows, cols = rows[keep], cols[keep]
    flip = cm[cols, rows] > cm[rows, cols]  # name the larger direction first
    rows, cols = np.where(flip, cols, rows), np.where(flip, rows, cols)
    return [{"pair": [classes[i], classes[j]], "count": int(both[i, j]), "first_as_second": int(cm[i, j]),
             "second_as_first": int(cm[j, i])} for i, j in zip(rows, cols)]


def figures(logits, labels, classes, majority: int, groups: dict) -> dict:
    """Everything the report prints (see the module docstring), as JSON-able numbers."""
    pred = logits.argmax(1)  # once: the accuracy, macro-F1, groups and confused pairs all come from it
    cm = confusion_matrix(pred, labels, num_classes=len(classes))
    out = {"n": int(len(labels)), **TextClassificationStep.figures_from_sums({"loss_sum": 0.0, "n": len(labels),
                                                                                "confusion": cm}),
           "majority_class": classes[majority], "majority_accuracy": float(np.mean(labels == majority))}
    del out["loss"]  # the caller's, over the whole set
    for name, (_, of_class) in groups.items():
        of_class = np.asarray(of_class)
        truth = of_class[labels]
        out[f"{name}_accuracy"] = float(np.mean(of_class[pred] == truth))
        out[f"{name}_majority_accuracy"] = float(np.mean(truth == of_class[majority]))
    out["confused_pairs"] = confused_pairs(cm, classes)
    out["confusion"] = cm
    return out


def summary_lines(res: dict, groups: dict) -> list:
    lines = [f"test accuracy {res['accuracy'] * 100:.2f}% against {res['majority_accuracy'] * 100:.2f}% for the "
             f"majority class ({res['majority_class']}); macro-F1 {res['macro_f1']:.4f} ({res['n']:,} verses)"]
    for name in groups:
        lines.append(f"{name} accuracy of the predictions {res[f'{name}_accuracy'] * 100:.2f}% against "
                     f"{res[f'{name}_majority_accuracy'] * 100:.2f}% for the majority class's {name}")
    if res["confused_pairs"]:
        lines.append("most confused (true->predicted verses): " + ", ".join(
            f"{a}->{b} {p['first_as_second']} + {b}->{a} {p['second_as_first']}"
            for p in res["confused_pairs"] for a, b in [p["pair"]]))
    return lines


def plot_confusion(path, cm: np.ndarray, classes, title: str, groups: dict | None = None):
    """The row-normalised confusion matrix as a PNG (None when matplotlib is missing); thin lines part the
    classes of different groups (Old and New Testament)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    k = len(classes)
    size = min(4 + 0.16 * k, 14)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), classes, rotation=90, fontsize=max(5, 11 - k // 10))
    ax.set_yticks(range(k), classes, fontsize=max(5, 11 - k // 10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for _, of_class in (groups or {}).values():
        for b in np.flatnonzero(np.diff(of_class)) + 0.5:
            ax.axhline(b, color="0.5", lw=0.6)
            ax.axvline(b, color="0.5", lw=0.6)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_confusion(folder, res: dict, classes, title: str, groups: dict | None = None) -> list:
    """``confusion.json`` (and ``confusion.png``) in ``folder``; the paths written."""
    cm = res["confusion"]
    json_path = os.path.join(folder, "confusion.json")
    write_json(json_path, {"classes": list(classes), "matrix": cm.tolist(),
                           **{k: v for k, v in res.items() if k != "confusion"}})
    png = plot_confusion(os.path.join(folder, "confusion.png"), cm, classes, title, groups)
    return [json_path] + ([png] if png else [])


def _vocab(config) -> Vocab:
    return Vocab.from_dict(config["vocab"]["tokens"])


class TextClassificationTask(Task):
    name = "text-classification"
    data_parallel = True

    def load(self, dataset, settings, download, config=None):
        vocab = _vocab(config) if config else None  # a resumed run keeps its vocabulary
        train = text_split(dataset, "train", download, vocab)
        val = text_split(dataset, "valid", download, train.vocab)
        majority = int(np.bincount(train.labels, minlength=len(train.classes)).argmax())
        return RunData(train=train, val=val, in_shape=(len(train.vocab),), num_classes=len(train.classes),
                       config={"vocab": {"tokens": train.vocab.to_dict()}, "classes": list(train.classes),
                               "majority_class": majority},
                       sizes=f"{len(train):,} train / {len(val):,} validation verses, vocabulary {len(train.vocab):,}")

    def make_step(self, entry, model, optimizer, data, settings):
        loader = SequenceBatches(data.train, settings["batch_size"], seed=settings["seed"])
        return TextClassificationStep(model, optimizer), loader, SequenceBatches(data.val, EVAL_BATCH, shuffle=False)

    def _test(self, model, config, dataset, download, limit):
        test = text_split(dataset, "test", download, _vocab(config))
        logits, labels, loss = TextClassificationStep(model, None).predict(
            SequenceBatches(test, EVAL_BATCH, shuffle=False, limit=limit))
        groups = getattr(test, "label_groups", {})
        res = figures(logits, labels, config["classes"], config["majority_class"], groups)
        return {"loss": loss, **res}, groups

    def final_report(self, trainer, data, settings, run, echo):
        """The test figures (rank 0's in a data-parallel run, broadcast to the others)."""
        return trainer.strategy.on_global_zero(lambda: self._final_report(trainer, data, run, echo))

    def _final_report(self, trainer, data, run, echo):
        config = data.config
        res, groups = self._test(trainer.model, config, run["dataset"], run["download"], run.get("eval_limit"))
        for line in summary_lines(res, groups):
            echo(line)
        paths = write_confusion(run["folder"], res, config["classes"], f"{trainer.config.get('model')} on "
                                f"{run['dataset']}: test accuracy {res['accuracy'] * 100:.1f}%", groups)
        echo(f"confusion matrix: {', '.join(paths)}")
        return {k: v for k, v in res.items() if k != "confusion"}

    def evaluate(self, model, config, options, echo):
        if list(get_dataset_class(options["dataset"]).classes) != config["classes"]:
            raise ValueError(f"{config['model']} from {options['checkpoint']} predicts {len(config['classes'])} "
                             f"classes ({config['dataset']}); {options['dataset']} has other classes")
        res, groups = self._test(model, config, options["dataset"], options["download"], options.get("eval_limit"))
        echo(f"{config['model']} from {options['checkpoint']} (epoch {options['epoch']}) on {options['dataset']}:")
        for line in summary_lines(res, groups):
            echo(line)
        return {k: v for k, v in res.items() if k != "confusion"}

    def sample(self, model, config, options, echo):
        """The prompt classified: its three likeliest classes and their probabilities."""
        vocab, classes = _vocab(config), config["classes"]
        ids = vocab.encode(get_dataset_class(config["dataset"]).tokenize(options["prompt"]))
        ids, lengths = pad_sequences([ids if ids.size else [vocab.unk_index]], vocab.pad_index)
        model.eval()
        with no_grad():
            logits = model(from_numpy(ids), from_numpy(lengths)).data[0].astype(np.float64)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = np.argsort(-p)[:3]
        line = ", ".join(f"{classes[i]} {p[i] * 100:.1f}%" for i in top)
        echo(f"{options['prompt']!r}: {line}")
        return [(classes[i], float(p[i])) for i in top]


register_task(TextClassificationTask())
