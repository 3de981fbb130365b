"""Straightforward NumPy (float64) transcriptions of the update equations in the optimizers' docstrings."""
import numpy as np


def run_reference(name, x0, grads_fn, steps, **h):
    x = x0.astype(np.float64).copy()
    s = {}
    out = []
    for t in range(1, steps + 1):
        g = grads_fn(x, t - 1).astype(np.float64)
        if h.get("maximize"):
            g = -g
        if name == "adamw":
            x = x * (1 - h["lr"] * h.get("weight_decay", 1e-2))
        elif h.get("weight_decay"):
            g = g + h["weight_decay"] * x
        if name == "sgd":
            mom, damp = h.get("momentum", 0), h.get("dampening", 0)
            if mom:
                s["b"] = g.copy() if t == 1 else mom * s["b"] + (1 - damp) * g
                d = g + mom * s["b"] if h.get("nesterov") else s["b"]
            else:
                d = g
            x = x - h["lr"] * d
        elif name == "adagrad":
            s["sum"] = s.get("sum", np.full_like(x, h.get("initial_accumulator_value", 0))) + g * g
            clr = h["lr"] / (1 + (t - 1) * h.get("lr_decay", 0))
            x = x - clr * g / (np.sqrt(s["sum"]) + h.get("eps", 1e-10))
        elif name == "rmsprop":
            a, eps, mom = h.get("alpha", 0.99), h.get("eps", 1e-8), h.get("momentum", 0)
            s["v"] = a * s.get("v", 0) + (1 - a) * g * g
            if h.get("centered"):
                s["m"] = a * s.get("m", 0) + (1 - a) * g
                avg = np.sqrt(s["v"] - s["m"] ** 2) + eps
            else:
                avg = np.sqrt(s["v"]) + eps
            if mom:
                s["b"] = mom * s.get("b", 0) + g / avg
                x = x - h["lr"] * s["b"]
            else:
                x = x - h["lr"] * g / avg
        elif name in ("adam", "adamw"):
            b1, b2 = h.get("betas", (0.9, 0.999))
            s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
            s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
            v = s["v"]
            if h.get("amsgrad"):
                s["vmax"] = np.maximum(s.get("vmax", 0), v)
                v = s["vmax"]
            mhat, vhat = s["m"] / (1 - b1 ** t), v / (1 - b2 ** t)
            x = x - h["lr"] * mhat / (np.sqrt(vhat) + h.get("eps", 1e-8))
        out.append(x.copy())
    return out


def check_against_reference(cls, name, steps=30, seed=0, **h):
    import nabla
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((4, 3))
    noise = rng.standard_normal((steps, 4, 3))

    def grad(x, t):
        return 0.7 * x - 0.3 + 0.1 * noise[t]

    ref = run_reference(name, x0, grad, steps, **h)
    p = nabla.Tensor(x0.copy(), requires_grad=True)  # float64
    opt = cls([p], **h)
    for t in range(steps):
        p.grad = nabla.Tensor(grad(p.data, t))
        opt.step()
        np.testing.assert_allclose(p.data, ref[t], rtol=1e-10, atol=1e-12, err_msg=f"{name} {h}: step {t + 1}")
