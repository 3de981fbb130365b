"""generative: the VAE, the DCGAN and PixelCNN on the same digits -- the notes' trade-offs between the three
families of generative models.

Claims (notes, 生成模型), translated: GANs give high-quality samples but train unstably and collapse modes;
VAEs learn a latent representation and train stably, but their samples are worse; autoregressive models give
high-quality samples but generate slowly.

Setup: the registered ``vae`` (784-400-20, Bernoulli decoder) and ``pixelcnn`` on ``binarized-mnist`` (bits
redrawn each epoch) and ``dcgan`` on ``mnist`` in [-1, 1], each with its registry settings, trained from
scratch through the one Trainer (the tasks' own steps: ``VAEStep``, ``GANStep`` with two optimizers,
``AutoregressiveStep``) for a fixed budget each: ``BUDGETS`` seconds of this process's CPU time (so that a machine
shared with other jobs gives each model the same work).  The VAE and the DCGAN train with
``SEEDS`` seeds (the stability claims); PixelCNN once.  Every model then draws ``N_FID`` samples (seed 0),
scored with the shipped reference classifier against the 10,000 MNIST test images: classifier FID (the
real-versus-real floor at the same N beside it), class coverage (classes with at least 5 % of the samples),
KL(class shares || uniform) and the inception score; sharpness (mean gradient magnitude, against the real
images'); likelihood where the model has one (VAE: -ELBO and the IWAE estimate with ``IWAE_K`` samples, both on the
first ``IWAE_IMAGES`` test images; PixelCNN: exact NLL on ``NLL_IMAGES`` test images); seconds to draw 64
samples.  The GAN also records its validation FID at every ``GAN_EVAL_EVERY`` steps (FID over the last evaluations: does it
settle?) and its two losses per step (the oscillation figure).  A linear probe (softmax regression) on the
first VAE's latent means of ``PROBE_TRAIN`` training digits, tested on the 10,000 test digits, against the same
probe on a random 20-dimensional projection of the pixels.  Quick: small widths,
steps instead of seconds, 2 seeds, 200 samples, MNIST-5k (binarized for the VAE and PixelCNN) (a CI smoke
run; its numbers say nothing about the claims).

Verdicts, from the numbers alone:

1. "GAN samples are better than the VAE's": the DCGAN's median FID over its seeds is below the VAE's, and
   its samples' sharpness is closer to the real images'.
2. "GAN training is less stable": the relative spread (std / mean) of FID across seeds is larger for the
   DCGAN than for the VAE; and (a separate claim) some DCGAN seed leaves a class below 5 % while no VAE seed
   covers fewer classes than the worst DCGAN seed does.
3. "The VAE trains stably and learns a useful latent representation": the VAE's relative FID spread is below
   0.1 and the probe on its 20 latent means beats the probe on 20 random projections of the pixels.
4. "Autoregressive samples are good but slow to generate": PixelCNN's FID is below the VAE's, and drawing 64
   samples takes it at least 10 times as long as the VAE or the DCGAN.
"""
from __future__ import annotations

import time

import numpy as np

from .. import backend
from ..models.registry import build_model, get_model_entry
from ..train import Trainer
from ..train.settings import make_optimizer, resolve
from ..train.tasks import get_task
from ..train.tasks.generative import load_images, sample_images
from .base import register_experiment
from .common import Heartbeat, format_claims, moving_average
from .generative_measures import latent_means, linear_probe, random_projection, sharpness, time_to_sample

CLAIM = ("GANs give better samples than VAEs but train less stably and drop modes; VAEs train stably and learn a "
         "useful latent space; autoregressive models give good samples but generate slowly")

MODELS = ("vae", "dcgan", "pixelcnn")
DATA = {"vae": "binarized-mnist", "dcgan": "mnist", "pixelcnn": "binarized-mnist"}
QUICK_DATA = {"vae": "binarized-mnist-5k", "dcgan": "mnist-5k", "pixelcnn": "binarized-mnist-5k"}
BUDGETS = {"vae": 240.0, "dcgan": 480.0, "pixelcnn": 600.0}          # CPU seconds of training each
QUICK_STEPS = {"vae": 60, "dcgan": 60, "pixelcnn": 30}
QUICK_OPTIONS = {"vae": {"hidden": 64, "latent": 8}, "dcgan": {}, "pixelcnn": {"hidden": 8, "blocks": 1}}
SEEDS, QUICK_SEEDS = 3, 2
N_FID, QUICK_N_FID = 1000, 200
IWAE_K, IWAE_IMAGES, NLL_IMAGES = 200, 500, 2000
PROBE_TRAIN = 10_000
GAN_EVAL_EVERY, QUICK_GAN_EVAL_EVERY = 500, 20
SHOWN = 16


def _settings(name: str, seed: int, quick: bool) -> dict:
    entry = get_model_entry(name)
    given = {"seed": seed}
    if quick:
        given["batch_size"] = 32
    return resolve(entry.task, entry.training, None, given)


def _train(name: str, seed: int, quick: bool, download: bool, echo) -> tuple:
    """``(model, trainer, data, batch)``: one model trained by its task's step within its budget."""
    entry = get_model_entry(name)
    task = get_task(entry.task)
    settings = _settings(name, seed, quick)
    backend.manual_seed(seed)
    data = task.load(QUICK_DATA[name] if quick else DATA[name], settings, download)
    model = build_model(name, data.in_shape, data.num_classes, **(QUICK_OPTIONS[name] if quick else {}))
    step, loader, val = task.make_step(entry, model, make_optimizer(settings, model.parameters()), data, settings)
    is_gan = entry.task == "gan"
    if is_gan:
        step.eval_samples = QUICK_N_FID if quick else step.eval_samples
    # the budget counts this process's CPU seconds: on a shared machine each model still gets the same work
    trainer = Trainer(step, callbacks=[Heartbeat(echo, f"generative: {name} seed {seed}")], progress=False,
                      clock="cpu")
    budget = {"max_steps": QUICK_STEPS[name]} if quick else {"time_budget": BUDGETS[name]}
    trainer.fit(loader, val if is_gan else None,
                eval_every=(QUICK_GAN_EVAL_EVERY if quick else GAN_EVAL_EVERY) if is_gan else None, **budget)
    return model, trainer, data, settings["batch_size"]


def _scores(model, scores, n: int, real_sharpness: float) -> tuple:
    samples = sample_images(model, n, seed=0)
    result = scores.score(samples)
    shares = result.pop("shares", None)
    result.update(sharpness=sharpness(samples), sharpness_real=real_sharpness,
                  shares=None if shares is None else [float(s) for s in shares])
    return result, samples


def _likelihood(name, model, trainer, data, quick) -> dict:
    test = data.extra["test"]
    if name == "vae":
        from ..models.vae import iwae_nll
        n = min(IWAE_IMAGES if not quick else 100, len(test))
        batch = test.get_batch(np.arange(n))
        elbo = trainer.step.evaluate([batch])     # the same images as the bound
        bound = trainer.step.run_eval(lambda: iwae_nll(model, batch[0], k=IWAE_K if not quick else 20,
                                                       generator=np.random.default_rng(0)))
        return {"neg_elbo": elbo["neg_elbo"], "iwae_nll": float(np.mean(bound))}
    if name == "pixelcnn":
        n = min(NLL_IMAGES if not quick else 100, len(test))
        batches = [test.get_batch(np.arange(i, min(i + 250, n))) for i in range(0, n, 250)]
        result = trainer.step.evaluate(batches)
        return {"nll": result["nll"], "bits_per_dim": result["bits_per_dim"]}
    return {}


def _probe(model, data, quick: bool) -> dict:
    """The linear probe on the VAE's latent means against the same probe on random projections."""
    train, test = data.train, data.extra["test"]
    n = min(PROBE_TRAIN if not quick else 1000, len(train))
    tr_x, tr_y = train.get_batch(np.arange(n))
    te_x, te_y = test.get_batch(np.arange(len(test)))
    mu_tr, mu_te = latent_means(model, tr_x), latent_means(model, te_x)
    dim = mu_tr.shape[1]
    return {"latent": linear_probe(mu_tr, tr_y, mu_te, te_y),
            "random projection": linear_probe(random_projection(tr_x, dim), tr_y, random_projection(te_x, dim), te_y),
            "dim": int(dim), "train images": int(n)}


CHAPTER = "modern-architectures"
NOTES = ("GAN的优点是能够生成高质量的样本，但训练不稳定、模式崩溃等问题。 … VAE的优点是能够学习数据的潜在表示"
         "，并且训练相对稳定，但生成的样本质量可能较差。 … 自回归模型的优点是生成的样本质量较高，但生成速度较"
         "慢，不适用于大规模数据。",
         "GANs can generate high-quality samples, but suffer from unstable training, mode collapse and similar "
         "problems. ... VAEs learn a latent representation of the data and train relatively stably, but their "
         "samples may be of lower quality. ... Autoregressive models generate high-quality samples, but generate "
         "slowly and do not suit large-scale data.")


@register_experiment("generative", "VAE, DCGAN, PixelCNN: sample quality (FID), stability, latent space, speed")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    from ..metrics.generative import GenerativeScores
    real_name = "mnist-5k" if quick else "mnist"
    scores = GenerativeScores(real_name)
    n = QUICK_N_FID if quick else N_FID
    real = load_images(real_name, False, download).get_batch(np.arange(n))[0]
    real_sharp = sharpness(real)
    floor = scores.floor(n=n)
    rows, extra = [], {"gan_losses": {}, "gan_val_fid": [], "shown": {"real": real[:SHOWN, 0].tolist()}}
    probe = None
    for name in MODELS:
        seeds = range(1 if name == "pixelcnn" else (QUICK_SEEDS if quick else SEEDS))
        for seed in seeds:
            start = time.perf_counter()
            model, trainer, data, batch = _train(name, seed, quick, download, echo)
            train_s = time.perf_counter() - start
            result, samples = _scores(model, scores, n, real_sharp)
            row = {"model": name, "seed": seed, "steps": trainer.global_step,
                   "training images": trainer.global_step * batch, "training s": train_s, **result}
            if seed == 0:
                row.update(_likelihood(name, model, trainer, data, quick))
                row["seconds per 64 samples"] = time_to_sample(model, 64)
                extra["shown"][name] = samples[:SHOWN, 0].tolist()
                if name == "vae":
                    probe = _probe(model, data, quick)
            if name == "dcgan":
                extra["gan_losses"][seed] = {k: moving_average(trainer.step_history.get(k, []), 200).tolist()
                                             for k in ("d_loss", "g_loss")}
                extra["gan_val_fid"].append([[s, f] for s, f in zip(trainer.history.get("step", []),
                                                                     trainer.history.get("val_fid", []))])
            echo(f"generative: {name} seed {seed}: {trainer.global_step} steps in {train_s:.0f} s; FID "
                 f"{row['fid']:.1f}, coverage {row['coverage']}/10, sharpness {row['sharpness']:.3f} (real "
                 f"{real_sharp:.3f})")
            rows.append(row)
    table = [{k: v for k, v in r.items() if k not in ("shares",)} for r in rows]
    return {"table": table, "rows": rows, "fid_floor": floor, "samples_scored": n, "probe": probe, **extra,
            "budgets": {k: (QUICK_STEPS[k] if quick else BUDGETS[k]) for k in MODELS},
            "budget_unit": "steps" if quick else "seconds"}


def _by_model(numbers) -> dict:
    out = {}
    for r in numbers["rows"]:
        out.setdefault(r["model"], []).append(r)
    return out


def _spread(values) -> float:
    values = np.asarray(values, np.float64)
    return float(values.std() / values.mean()) if len(values) > 1 and values.mean() > 0 else 0.0


def summary(numbers) -> dict:
    m = _by_model(numbers)
    fid = {k: [r["fid"] for r in rows] for k, rows in m.items()}
    first = {k: rows[0] for k, rows in m.items()}
    return {"median_fid": {k: float(np.median(v)) for k, v in fid.items()},
            "spread": {k: _spread(v) for k, v in fid.items()},
            "min_coverage": {k: min(r["coverage"] for r in rows) for k, rows in m.items()},
            "sharpness_gap": {k: abs(first[k]["sharpness"] - first[k]["sharpness_real"]) for k in first},
            "seconds_64": {k: first[k].get("seconds per 64 samples", float("nan")) for k in first}}


def claims(numbers) -> dict:
    s = summary(numbers)
    fid, spread, cov, gap, sec = (s["median_fid"], s["spread"], s["min_coverage"], s["sharpness_gap"],
                                  s["seconds_64"])
    probe = numbers["probe"]
    return {
        "GAN samples better than the VAE's (FID, sharpness)": fid["dcgan"] < fid["vae"] and gap["dcgan"] < gap["vae"],
        "GAN training less stable (FID spread across seeds)": spread["dcgan"] > spread["vae"],
        "GAN drops classes more (coverage)": cov["dcgan"] < 10 and cov["dcgan"] < cov["vae"],
        "VAE stable and its latent space useful": spread["vae"] < 0.1 and probe["latent"] > probe["random projection"],
        "autoregressive samples good but slow": fid["pixelcnn"] < fid["vae"]
            and sec["pixelcnn"] >= 10 * max(sec["vae"], sec["dcgan"]),
    }


def verdict(numbers):
    s, probe = summary(numbers), numbers["probe"]
    rows = {r["model"]: r for r in numbers["rows"] if r["seed"] == 0}
    parts = []
    for name in MODELS:
        r = rows[name]
        like = (f", test -ELBO {r['neg_elbo']:.1f}, IWAE {r['iwae_nll']:.1f} nats" if "neg_elbo" in r else
                f", test NLL {r['nll']:.1f} nats" if "nll" in r else "")
        parts.append(f"{name}: median FID {s['median_fid'][name]:.1f} over {len(_by_model(numbers)[name])} seed(s) "
                     f"(spread {s['spread'][name]:.2f}), worst coverage {s['min_coverage'][name]}/10, sharpness "
                     f"{r['sharpness']:.3f}{like}, {r['seconds per 64 samples']:.2f} s for 64 samples")
    text = (f"{numbers['samples_scored']:,} samples per model scored against the MNIST test set (real-versus-real "
            f"floor {numbers['fid_floor']:.1f}; real sharpness {rows['vae']['sharpness_real']:.3f}). "
            + "; ".join(parts) + f". Linear probe: {probe['latent']:.3f} test accuracy on the VAE's "
            f"{probe['dim']} latent means against {probe['random projection']:.3f} on {probe['dim']} random "
            f"projections of the pixels. " + format_claims(claims(numbers)))
    return all(claims(numbers).values()), text


def plot(fig, data):
    from .generative_plot import draw
    draw(fig, data, MODELS)
