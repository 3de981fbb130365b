"""attention-maps: what attention looks at, drawn as heat maps.

Claim (notes, attention mechanism): attention lets the decoder look, at every output step, at the parts of
the input that matter for it; in a sequence-to-sequence model the weights form a soft *alignment*
between output and input, which can be read off as a heat map.  For grapheme-to-phoneme conversion
(spelling -> pronunciation) the alignment should be nearly monotonic: the t-th phoneme reads the
letters that spell it, so the heat map runs along the diagonal.

Measured: a Bahdanau (additive-attention) RNN encoder-decoder and a Transformer encoder-decoder are
trained on CMUdict words (``seq2seq-attn``, ``seq2seq-transformer``), then read held-out words under
teacher forcing.  For each word and model: the attention matrix (phonemes x letters), and how
diagonal it is: the Spearman correlation between each phoneme's position and the position of the
letter it attends to most (1 = a strictly monotonic alignment), averaged over words of at least four
letters.  For the Transformer, every head of the last decoder layer's cross-attention is scored and
the most diagonal head drawn (heads specialise; not every head aligns).  Phoneme error rates (greedy)
are reported to show that the models learned the task.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import optim
from ..models.seq2seq import Seq2SeqAttention, TransformerSeq2Seq
from ..train import Trainer, WarmupCosine
from ..train.steps.seq2seq import PairBatches, Seq2SeqStep, evaluate_seq2seq
from .base import register_experiment
from .common import Heartbeat, format_claims, load_dataset, say

CLAIM = ("attention weights form a soft alignment between output and input: for grapheme-to-phoneme conversion "
         "the letters->phonemes heat map runs along the diagonal")
WORDS = ["phoneme", "attention", "knight", "through", "laughing", "xylophone", "psychology", "education"]


class _Subset:
    """The first ``n`` pairs of a PairDataset, with the attributes the training loop reads."""

    def __init__(self, ds, idx):
        self.ds, self.idx = ds, np.asarray(idx)
        self.src_vocab, self.tgt_vocab = ds.src_vocab, ds.tgt_vocab

    def __len__(self):
        return len(self.idx)

    @property
    def src_lengths(self):
        return self.ds.src_lengths[self.idx]

    def get_batch(self, indices):
        return self.ds.get_batch(self.idx[np.asarray(indices)])


def _rank(a):
    r = np.empty(len(a))
    r[np.argsort(a, kind="stable")] = np.arange(len(a))
    return r


def diagonality(weights: np.ndarray, n_src: int, n_tgt: int) -> float:
    """Spearman correlation between target position and the argmax source position (ties: by rank)."""
    w = weights[:n_tgt, :n_src]
    peak = w.argmax(axis=1)
    if n_tgt < 2 or np.all(peak == peak[0]):
        return 0.0
    a, b = _rank(np.arange(n_tgt)), _rank(peak + 1e-6 * np.arange(n_tgt))
    return float(np.corrcoef(a, b)[0, 1])


def _pairs(ds, words):
    """Encoded (src, src_lengths, tgt_in, tgt_out) for the given words (taken from the data set when there)."""
    index = {w: i for i, w in enumerate(ds.words)}
    ids = [index[w] for w in words if w in index]
    src, n, tin, tout = ds.get_batch(np.array(ids, dtype=np.int64))
    return [ds.words[i] for i in ids], src, n, tin, tout


def _maps(model, src, n, tin, tout, pad):
    with nb.no_grad():
        model.eval()
        w = model.attention_weights(nb.from_numpy(src), nb.from_numpy(n), nb.from_numpy(tin))
    # tgt_in row t (the t-th phoneme's input is the previous phoneme) predicts tgt_out[t]: the weights at
    # step t are those used to produce phoneme t
    lengths = (tout != pad).sum(axis=1)      # phonemes + <eos>
    return w, lengths - 1


def _config(quick: bool, n_full: int) -> dict:
    if quick:
        return dict(n_train=3000, steps=40, batch=64, n_eval=64,
                    rnn=dict(embed_dim=16, hidden_size=32, attention_size=32),
                    transformer=dict(d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                     dim_feedforward=64, dropout=0.0))
    return dict(n_train=n_full, steps=3000, batch=64, n_eval=1000, rnn=dict(embed_dim=64, hidden_size=256),
                transformer=dict(d_model=128, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=512,
                                 dropout=0.1))


def _train_one(name, model, lr, train, valid, cfg, echo) -> dict:
    """Teacher forcing through the Trainer: Adam, warm-up (Transformer) and cosine decay to 5%, clipped at 1;
    then the held-out phoneme error rate (greedy)."""
    pad = train.tgt_vocab.pad_index
    trainer = Trainer(Seq2SeqStep(model, optim.Adam(model.parameters(), lr=lr), pad=pad),
                      scheduler=WarmupCosine(warmup=50 if name == "Transformer" else 0, min_ratio=0.05),
                      clip_grad_norm=1.0, callbacks=[Heartbeat(echo, f"attention-maps: {name}")], progress=False)
    t0 = time.perf_counter()
    trainer.fit(PairBatches(train, cfg["batch"], seed=0), epochs=100, max_steps=cfg["steps"])
    seconds = time.perf_counter() - t0
    losses = trainer.step_history["loss"]
    res = evaluate_seq2seq(model, valid, limit=cfg["n_eval"])
    say(echo, "attention-maps", name, len(losses), float(np.mean(losses)), seconds,
        f", phoneme error rate {res['per']:.1%}")
    return {"per": res["per"], "ser": res["ser"], "val_loss": res["loss"], "train_seconds": seconds,
            "final_train_loss": float(np.mean(losses)) if losses else None}


def _diagonality(models, results, valid, n_eval, pad) -> dict:
    """Mean diagonality over held-out words of >= 4 letters; for a multi-head map, every head scored, the best kept."""
    long_idx = np.nonzero(valid.src_lengths[:n_eval] >= 4)[0]
    _, src, n, tin, tout = _pairs(valid, [valid.words[i] for i in long_idx])
    diag = {}
    for name, model in models.items():
        w, n_ph = _maps(model, src, n, tin, tout, pad)
        if w.ndim == 4:      # (B, heads, T, S): score every head
            scores = np.array([np.mean([diagonality(w[b, h], int(n[b]), int(n_ph[b])) for b in range(len(n))])
                               for h in range(w.shape[1])])
            diag[name] = float(scores.max())
            results[name]["best_head"] = int(scores.argmax())
            results[name]["head_diagonality"] = scores
        else:
            diag[name] = float(np.mean([diagonality(w[b], int(n[b]), int(n_ph[b])) for b in range(len(n))]))
        results[name]["diagonality"] = diag[name]
    return diag


def _heat_maps(models, results, valid, pad):
    """The attention maps of a few held-out words (the same for both models), with their phonemes."""
    held_out = set(valid.words)
    shown = [w for w in WORDS if w in held_out]
    if len(shown) < 4:   # fall back to held-out words of 6-10 letters
        shown += [w for w in valid.words[:400] if 6 <= len(w) <= 10 and w.isalpha()][:4 - len(shown)]
    words, src, n, tin, tout = _pairs(valid, shown[:4])
    maps = {}
    for name, model in models.items():
        w, n_ph = _maps(model, src, n, tin, tout, pad)
        if w.ndim == 4:
            w = w[:, results[name]["best_head"]]
        maps[name] = [w[b, :int(n_ph[b]) + 1, :int(n[b])] for b in range(len(words))]
    phonemes = [valid.tgt_vocab.decode_tokens(tout[b]) + ["<eos>"] for b in range(len(words))]
    return words, phonemes, maps


CHAPTER = "modern-architectures"
NOTES = ("通过学习不同位置的权重，模型可以更加关注与当前任务相关的信息，从而提高模型的性能。 … 它还可以提高模"
         "型的可解释性，使人们更容易理解模型的决策过程。",
         "By learning weights for different positions, the model can pay more attention to the information "
         "relevant to the current task, improving its performance. ... It also makes the model more "
         "interpretable, so that people can understand the model's decisions more easily. (That the weights form "
         "a near-diagonal alignment for letters -> phonemes is nabla's reading.)")


@register_experiment("attention-maps", "letters -> phonemes: Bahdanau attention and Transformer cross-attention as "
                     "heat maps, and how diagonal they are")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    train_full = load_dataset("cmudict", split="train", download=download)
    valid = load_dataset("cmudict", split="valid", download=download)
    cfg = _config(quick, len(train_full))
    train = _Subset(train_full, np.random.default_rng(0).permutation(len(train_full))[:cfg["n_train"]])
    V_src, V_tgt = len(train_full.src_vocab), len(train_full.tgt_vocab)
    pad = train_full.tgt_vocab.pad_index
    models, results = {}, {}
    for name, build, lr in (("Bahdanau RNN", lambda: Seq2SeqAttention(V_src, V_tgt, **cfg["rnn"]), 3e-3),
                            ("Transformer", lambda: TransformerSeq2Seq(V_src, V_tgt, **cfg["transformer"]), 1e-3)):
        nb.manual_seed(0)
        models[name] = build()
        results[name] = _train_one(name, models[name], lr, train, valid, cfg, echo)
    _diagonality(models, results, valid, cfg["n_eval"], pad)
    words, phonemes, maps = _heat_maps(models, results, valid, pad)
    rows = [{"model": name, "phoneme error rate": r["per"], "word error rate": r["ser"],
             "diagonality (Spearman)": r["diagonality"], "training seconds": r["train_seconds"]}
            for name, r in results.items()]
    return {"table": rows, "steps": cfg["steps"], "n_train": cfg["n_train"], "models": results, "words": words,
            "phonemes": phonemes, "maps": maps, "rnn_config": cfg["rnn"], "transformer_config": cfg["transformer"]}


def claims(numbers) -> dict:
    diag = {k: v["diagonality"] for k, v in numbers["models"].items()}
    return {"the Bahdanau alignment is nearly monotonic (diagonality > 0.5)": bool(diag["Bahdanau RNN"] > 0.5),
            "a Transformer cross-attention head is nearly monotonic (diagonality > 0.5)":
                bool(diag["Transformer"] > 0.5)}


def verdict(numbers):
    results, found = numbers["models"], claims(numbers)
    heads = results["Transformer"].get("head_diagonality")
    text = (f"trained {numbers['steps']} steps on {numbers['n_train']:,} CMUdict words; held-out PER: "
            + ", ".join(f"{k} {v['per']:.1%}" for k, v in results.items())
            + "; diagonality of the alignment (Spearman, 1 = monotonic): "
            + ", ".join(f"{k} {v['diagonality']:.2f}" for k, v in results.items())
            + (f" (Transformer heads: {', '.join(f'{s:.2f}' for s in heads)})" if heads is not None else "")
            + ". " + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    words, phonemes, maps, results = data["words"], data["phonemes"], data["maps"], data["models"]
    k = len(words)
    axes = fig.subplots(2, k, squeeze=False)
    for r, name in enumerate(maps):
        for c in range(k):
            ax = axes[r][c]
            m = np.asarray(maps[name][c])
            ax.imshow(m, cmap="viridis", aspect="auto", vmin=0, vmax=1)
            ax.set_xticks(range(m.shape[1]))
            ax.set_xticklabels(list(words[c]), fontsize=7)
            ax.set_yticks(range(m.shape[0]))
            ax.set_yticklabels(phonemes[c][:m.shape[0]], fontsize=6)
            title = name if name != "Transformer" else f"Transformer head {results[name]['best_head']}"
            ax.set_title(f"{title}: {words[c]}", fontsize=8)
