"""The Transformer training step of issue 6: a 2-layer encoder (d_model 128, 4 heads, feed-forward 512,
ReLU, post-norm, batch first) over token embeddings plus sinusoidal positions, a linear head over a
1000-token vocabulary, next-token cross-entropy, Adam; sequence 64, batch 32, float32.

Dropout is 0 so that both frameworks compute the same numbers (the smoke test compares their first
step); the masks are those of a decoder-only language model: the causal mask as a float (L, L) mask.
PyTorch runs its ordinary training path (its fused "fast path" is for inference only)."""
from __future__ import annotations

import numpy as np

from .workloads import Workload, framework, register, training_step

VOCAB, D, HEADS, FF, LAYERS, SEQ, BATCH = 1000, 128, 4, 512, 2, 64, 32


def _arrays():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, (BATCH, SEQ + 1)).astype(np.int64)
    pos = np.arange(SEQ)[:, None] / np.power(10000.0, np.arange(0, D, 2)[None, :] / D)
    pe = np.zeros((SEQ, D))
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos), np.cos(pos)
    return tokens[:, :-1], tokens[:, 1:], pe.astype(np.float32)


def _build(fw):
    nn = fw.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, D)
            layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.head = nn.Linear(D, VOCAB)

        def forward(self, x, pe, mask):
            return self.head(self.encoder(self.embed(x) + pe, mask=mask))

    return LM()


def _step(fw, model, lr=1e-3):
    x, y, pe = _arrays()
    mask = np.triu(np.full((SEQ, SEQ), -np.inf, dtype=np.float32), 1)
    x, y, pe, mask = fw.tensor(x), fw.tensor(y.reshape(-1)), fw.tensor(pe), fw.tensor(mask)
    opt = fw.optim.Adam(model.parameters(), lr=lr)
    criterion = fw.nn.CrossEntropyLoss()
    return training_step(opt, lambda: criterion(model(x, pe, mask).reshape(-1, VOCAB), y))


def _torch(cfg):
    torch = framework("torch", "nn", "optim")
    model = _build(torch)
    model.load_state_dict({k: torch.tensor(v) for k, v in _state().items()})
    return _step(torch, model, cfg.get("lr", 1e-3))


def _nabla(cfg):
    nb = framework("nabla", "nn", "optim")
    model = _build(nb)
    model.load_state_dict(_state())
    return _step(nb, model, cfg.get("lr", 1e-3))


def _state():
    """The initial weights both frameworks start from: PyTorch's initialisation drawn from a NumPy seed
    (the nabla worker never imports torch), in PyTorch's state_dict layout."""
    rng = np.random.default_rng(1)
    state = {"embed.weight": rng.standard_normal((VOCAB, D)).astype(np.float32)}

    def uniform(shape, bound):
        return rng.uniform(-bound, bound, shape).astype(np.float32)
    for i in range(LAYERS):
        p = f"encoder.layers.{i}."
        state[p + "self_attn.in_proj_weight"] = uniform((3 * D, D), np.sqrt(6.0 / (D + 3 * D)))
        state[p + "self_attn.in_proj_bias"] = np.zeros(3 * D, np.float32)
        state[p + "self_attn.out_proj.weight"] = uniform((D, D), 1 / np.sqrt(D))
        state[p + "self_attn.out_proj.bias"] = np.zeros(D, np.float32)
        state[p + "linear1.weight"] = uniform((FF, D), 1 / np.sqrt(D))
        state[p + "linear1.bias"] = uniform((FF,), 1 / np.sqrt(D))
        state[p + "linear2.weight"] = uniform((D, FF), 1 / np.sqrt(FF))
        state[p + "linear2.bias"] = uniform((D,), 1 / np.sqrt(FF))
        for n in ("norm1", "norm2"):
            state[p + n + ".weight"] = np.ones(D, np.float32)
            state[p + n + ".bias"] = np.zeros(D, np.float32)
    state["head.weight"] = uniform((VOCAB, D), 1 / np.sqrt(D))
    state["head.bias"] = uniform((VOCAB,), 1 / np.sqrt(D))
    return state


register(Workload(
    "transformer_train_adam", goal=1.3, source="issue 6",
    description="2-layer Transformer encoder LM (d_model 128, 4 heads, ff 512, seq 64, batch 32, vocab 1000, "
                "causal mask, dropout 0): embedding + positions + encoder + head, cross-entropy, Adam step",
    nabla=_nabla, torch=_torch))
