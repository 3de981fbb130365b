"""multi-label: softmax does not suit multi-label classification; independent sigmoids with BCE do.

Claim (notes, chapter 3, 激活函数, Softmax 函数), translated: "the outputs of softmax are correlated with
each other, so it may not suit multi-label classification or tasks such as sequence generation."

Data (``multi_label_data``): MNIST digits overlaid by the pixel-wise maximum, k digits of k different
classes per image, target t in {0, 1}^10.  Two conditions: "1-2 labels" (one third of the images one digit,
two thirds two digits: the main one) and "1-3 labels" (a third each of one, two and three digits: does the
gap grow with the number of labels?).  Full, per condition: 30,000 training images (from 50,000 MNIST
training digits), 3,000 validation images (from the other 10,000), 5,000 test images (from MNIST's test
digits).  Network: the registry's ``lenet5`` (61,706 parameters), built from the same seed for both heads,
trained through the Trainer on the same batches (64), Adam at 1e-3, 5,000 steps each.  The two heads differ
only in the loss on the same 10 logits z:

* softmax: the usual way softmax is forced onto multi-label data, cross-entropy between softmax(z) and the
  target made a distribution, t / sum t (1 for one digit, 1/2 each for two, 1/3 each for three);
* sigmoid: ten independent sigmoids, ``BCEWithLogitsLoss`` on t.

Decision rules, scored on the test images:

* threshold t*: every label with p_c >= t*, one t* per head for all images, chosen on the validation
  images from 0.05, 0.10, ..., 0.95 for the best exact match (softmax has no natural threshold: a two-label
  image's target puts 1/2 on each);
* sigmoid, threshold 0.5: the standard rule, for reference;
* true k: the k highest scores, k the image's true number of labels, an oracle the model does not have.  It
  removes the one hard job of softmax, deciding how many, and so compares the two heads' rankings.

Scores (``multi_label_measures``): exact match, macro F1 (per-label F1 averaged over the ten digits) and
micro F1, on all test images and on the images of each number of labels apart.  Rule: supported when, in
the main condition (1-2 labels) and the number of labels not being given, the sigmoid head beats the
softmax head, each with its threshold t*, on exact match (the paired 95 % interval of the per-image
difference lies above 0) and on macro F1 (higher).  Reported beside, not part of the verdict: the same test
with 1-3 labels, and whether softmax given the true k comes within 1 point of sigmoid given the true k
(exact match, 1-2 labels), i.e. whether what softmax lacks is only the count.
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import nn
from ..data import DataLoader
from ..models.registry import build_model
from ..nn import functional as F
from ..train.steps.classification import SupervisedStep
from . import multi_label_measures as mlm
from .base import register_experiment
from .common import format_claims, say, tail_mean, train_classifier
from .multi_label_data import mnist_digits, overlaid_sets

CLAIM = ("softmax does not suit multi-label classification: its outputs compete, so independent sigmoids with "
         "binary cross-entropy find the set of labels more often")
MODEL, SIGMOID_THRESHOLD = "lenet5", 0.5
CONDITIONS = {"1-2 labels": (1 / 3, 2 / 3), "1-3 labels": (1 / 3, 1 / 3, 1 / 3)}
MAIN = "1-2 labels"
RULES = ("sigmoid, threshold t*", "softmax, threshold t*", "sigmoid, threshold 0.5", "sigmoid, true k",
         "softmax, true k")


class DistributionCrossEntropy(nn.Module):
    """Cross-entropy of softmax(input) against the target normalised to a distribution: -sum_c (t_c / sum t)
    log softmax(z)_c, averaged over the batch."""

    def forward(self, input, target):
        return F.cross_entropy(input, target / target.sum(-1, keepdim=True))


HEADS = {"softmax": DistributionCrossEntropy, "sigmoid": nn.BCEWithLogitsLoss}


def probabilities(head: str, logits) -> np.ndarray:
    """softmax(z) over the ten labels, or sigmoid(z) of each."""
    z = np.asarray(logits, dtype=np.float64)
    if head == "softmax":
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    return 1 / (1 + np.exp(-z))


def train_head(head: str, train, steps: int, batch: int, echo, label: str):
    """The network trained with ``head``'s loss (same seed, same batches for both heads); returns (model, fit)."""
    nb.manual_seed(0)
    model = build_model(MODEL, (1, 28, 28), 10)
    fit = train_classifier(model, train, steps, batch_size=batch, seed=0, loss_fn=HEADS[head](), echo=echo,
                           label=f"multi-label: {label}")   # the default optimizer: Adam, lr 1e-3
    say(echo, "multi-label", label, len(fit["losses"]), tail_mean(fit["losses"]), fit["time"])
    return model, fit


def head_probabilities(head: str, model, data) -> np.ndarray:
    """The head's probabilities (N, 10) on every image of ``data`` (eval mode, no graph)."""
    return probabilities(head, SupervisedStep(model, None).predict(DataLoader(data, batch_size=500)))


def predictions(probs: dict, counts, t_star: dict) -> dict:
    """Each rule's 0/1 prediction (N, 10), in the order of RULES."""
    return {RULES[0]: mlm.threshold(probs["sigmoid"], t_star["sigmoid"]),
            RULES[1]: mlm.threshold(probs["softmax"], t_star["softmax"]),
            RULES[2]: mlm.threshold(probs["sigmoid"], SIGMOID_THRESHOLD),
            RULES[3]: mlm.top_k(probs["sigmoid"], counts), RULES[4]: mlm.top_k(probs["softmax"], counts)}


def score_rows(condition: str, preds: dict, target: np.ndarray) -> list:
    """One row per rule and group of images: all, then each number of labels."""
    counts, rows = target.sum(1), []
    groups = [("all", np.ones(len(target), bool))] + [(f"{k} label{'s' if k > 1 else ''}", counts == k)
                                                      for k in np.unique(counts).astype(int)]
    for rule, pred in preds.items():
        for group, sel in groups:
            s = mlm.scores(pred[sel], target[sel])
            rows.append({"condition": condition, "rule": rule, "images": group, "n": int(sel.sum()),
                         "exact match": s["exact match"], "macro F1": s["macro F1"], "micro F1": s["micro F1"],
                         "labels predicted per image": float(pred[sel].sum(1).mean())})
    return rows


def run_condition(condition: str, digits: dict, sizes: tuple, steps: int, batch: int, echo) -> tuple:
    """Both heads trained and scored on one condition: (table rows, the condition's other numbers)."""
    train, val, test = overlaid_sets(digits, *sizes, shares=CONDITIONS[condition])
    probs, t_star, curves, losses = {}, {}, {}, {}
    for head in HEADS:
        model, fit = train_head(head, train, steps, batch, echo, f"{condition}, {head} head")
        probs[head] = head_probabilities(head, model, test)
        t_star[head], curve = mlm.best_threshold(head_probabilities(head, model, val), val.target)
        curves[head], losses[head] = curve["exact match"], tail_mean(fit["losses"])
    curves["grid"] = curve["grid"]
    preds = predictions(probs, test.counts, t_star)
    right = {rule: (pred == (test.target > 0.5)).all(1) for rule, pred in preds.items()}
    out = {"t_star": t_star, "validation exact match": curves, "final training loss": losses,
           "exact match difference": dict(zip(("mean", "low", "high"),
                                              mlm.paired_interval(right[RULES[0]], right[RULES[1]])))}
    if condition == MAIN:
        out["example"] = _example(test, probs, preds, right)
    return score_rows(condition, preds, test.target), out


CHAPTER = "cnn-basics"
NOTES = ("Softmax 函数的输出是彼此相关的，因此可能不适用于多标签分类或序列生成等任务。",
         "The outputs of softmax are correlated with each other, so it may not suit multi-label classification or "
         "tasks such as sequence generation.")


@register_experiment("multi-label", "softmax + cross-entropy against independent sigmoids + BCE on overlaid MNIST "
                     "digits (1-2 and 1-3 labels)")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    sizes, steps, batch = ((1500, 300, 500), 40, 32) if quick else ((30000, 3000, 5000), 5000, 64)
    digits = mnist_digits(download=download)
    rows, conditions = [], {}
    for condition in CONDITIONS:
        cond_rows, conditions[condition] = run_condition(condition, digits, sizes, steps, batch, echo)
        rows += cond_rows
    return {"table": rows, "scores": rows, "sizes": dict(zip(("train", "validation", "test"), sizes)),
            "steps": steps, "batch_size": batch, "model": MODEL, "conditions": conditions,
            "example": conditions[MAIN].pop("example")}


def _example(test, probs, preds, right) -> dict:
    """A two-label test image where the heads' t* rules disagree (the first such), with both outputs."""
    two = test.counts == 2
    differ = np.flatnonzero(two & (right[RULES[0]] != right[RULES[1]]))
    i = int(differ[0]) if len(differ) else int(np.flatnonzero(two)[0])
    image, target = test.get_batch([i])
    return {"index": i, "image": image[0, 0], "labels": np.flatnonzero(target[0]).tolist(),
            "softmax": probs["softmax"][i], "sigmoid": probs["sigmoid"][i],
            "softmax predicts": np.flatnonzero(preds[RULES[1]][i]).tolist(),
            "sigmoid predicts": np.flatnonzero(preds[RULES[0]][i]).tolist()}


def _row(numbers, rule, condition=MAIN, images="all") -> dict:
    return next(r for r in numbers["table"]
                if r["condition"] == condition and r["rule"] == rule and r["images"] == images)


def claims(numbers) -> dict:
    def beats(condition, metric):
        if metric == "exact match":
            return numbers["conditions"][condition]["exact match difference"]["low"] > 0
        return _row(numbers, RULES[0], condition)[metric] > _row(numbers, RULES[1], condition)[metric]
    return {"1-2 labels: sigmoid + BCE beats softmax on exact match, each with its threshold t* (paired 95% "
            "interval above 0)": beats(MAIN, "exact match"),
            "1-2 labels: sigmoid + BCE beats softmax on macro F1, each with its threshold t*": beats(MAIN, "macro F1"),
            "1-3 labels: sigmoid + BCE beats softmax on exact match (paired 95% interval above 0) and macro F1":
                beats("1-3 labels", "exact match") and beats("1-3 labels", "macro F1"),
            "1-2 labels: given the true number of labels, softmax comes within 1 point of sigmoid (exact match)":
                _row(numbers, RULES[4])["exact match"] >= _row(numbers, RULES[3])["exact match"] - 0.01}


def _condition_text(numbers, condition) -> str:
    c = numbers["conditions"][condition]
    d, t, val = c["exact match difference"], c["t_star"], c["validation exact match"]
    at_half = float(np.interp(0.5, val["grid"], val["softmax"]))
    scores = "; ".join(f"{rule} {r['exact match']:.3f} / {r['macro F1']:.3f}"
                       for rule, r in ((rule, _row(numbers, rule, condition)) for rule in RULES))
    return (f"{condition} (exact match / macro F1; t* sigmoid {t['sigmoid']:g}, softmax {t['softmax']:g}, softmax "
            f"at 0.5 would reach {at_half:.3f} on the validation images): {scores}; sigmoid minus softmax exact "
            f"match {d['mean']:+.3f} (95% {d['low']:+.3f} to {d['high']:+.3f})")


def verdict(numbers):
    found = claims(numbers)
    text = (f"{numbers['model']} trained {numbers['steps']:,} steps of {numbers['batch_size']} per head and "
            f"condition on {numbers['sizes']['train']:,} overlaid-digit images; {numbers['sizes']['test']:,} test "
            "images per condition. " + ". ".join(_condition_text(numbers, c) for c in numbers["conditions"])
            + ". " + format_claims(found))
    main = list(found)[:2]
    return all(found[k] for k in main), text


def plot(fig, data):
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4, gridspec_kw={"width_ratios": [2.2, 1.3, 1, 1.5]})
    _plot_scores(ax1, data["scores"])
    for condition, style in zip(data["conditions"], ("o-", "s--")):
        for rule, color in zip(RULES[:2], ("C0", "C1")):
            rows = [r for r in data["scores"] if r["condition"] == condition and r["rule"] == rule
                    and r["images"] != "all"]
            ax2.plot([int(r["images"][0]) for r in rows], [r["exact match"] for r in rows], style, color=color,
                     label=f"{rule.split(',')[0]} ({condition})")
    ax2.set_xlabel("labels in the image")
    ax2.set_ylabel("exact match (threshold t*)")
    ax2.set_ylim(0, 1)
    ax2.set_title("by number of labels", fontsize=9)
    ax2.legend(fontsize=6)
    _plot_example(ax3, ax4, data["example"], data["conditions"][MAIN]["t_star"])


def _plot_scores(ax, rows):
    groups = [("exact match", "all"), ("exact match", "1 label"), ("exact match", "2 labels"), ("macro F1", "all"),
              ("micro F1", "all")]
    names = ["exact\n(all)", "exact\n(1 label)", "exact\n(2 labels)", "macro F1\n(all)", "micro F1\n(all)"]
    width = 0.8 / len(RULES)
    for i, rule in enumerate(RULES):
        vals = [_row({"table": rows}, rule, MAIN, s)[m] for m, s in groups]
        ax.bar(np.arange(len(groups)) + (i - (len(RULES) - 1) / 2) * width, vals, width, label=rule,
               color="C0" if rule.startswith("sigmoid") else "C1", alpha=1.0 if "t*" in rule else 0.5,
               hatch="//" if "true k" in rule else ".." if "0.5" in rule else None)
    ax.set_xticks(range(len(groups)), names, fontsize=7)
    ax.set_ylim(0, 1.25)
    ax.set_title(f"{MAIN}: test scores (true k: an oracle)", fontsize=9)
    ax.legend(fontsize=6, loc="upper center", ncol=2)


def _plot_example(ax_image, ax_out, ex, t_star):
    ax_image.imshow(np.asarray(ex["image"], dtype=np.float64), cmap="gray")
    ax_image.set_axis_off()
    ax_image.set_title(f"test image {ex['index']}: digits {ex['labels']}\n(the first two-label image where\n"
                       "the t* rules disagree)", fontsize=8)
    digits = np.arange(10)
    ax_out.bar(digits - 0.2, ex["softmax"], 0.4, color="C1", label=f"softmax -> {ex['softmax predicts']}")
    ax_out.bar(digits + 0.2, ex["sigmoid"], 0.4, color="C0", label=f"sigmoid -> {ex['sigmoid predicts']}")
    ax_out.axhline(t_star["softmax"], color="C1", ls="--", lw=0.8)
    ax_out.axhline(t_star["sigmoid"], color="C0", ls="--", lw=0.8)
    ax_out.set_xticks(digits, [f"{d}*" if d in ex["labels"] else str(d) for d in digits], fontsize=7)
    ax_out.set_ylim(0, 1.2)
    ax_out.set_xlabel("digit (* present; dashed: t*)")
    ax_out.set_title("both heads' outputs", fontsize=9)
    ax_out.legend(fontsize=6, loc="upper right")
