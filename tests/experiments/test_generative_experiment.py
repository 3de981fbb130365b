"""The generative experiment in its quick configuration (test_experiments.py runs it; its cached result is shared
here), and its measures on their own: sharpness, the linear probe, random projections."""
import numpy as np

from nabla.experiments.generative_measures import linear_probe, random_projection, sharpness

from .test_experiments import _run


def test_generative_table(tmp_path_factory):
    result, record, lines, _ = _run("generative", tmp_path_factory)
    rows = record["table"]
    assert [r["model"] for r in rows] == ["vae", "vae", "dcgan", "dcgan", "pixelcnn"]
    for r in rows:
        assert r["fid"] > 0 and 0 <= r["coverage"] <= 10 and r["inception_score"] >= 1 and r["sharpness"] > 0
    first = {r["model"]: r for r in rows if r["seed"] == 0}
    assert first["vae"]["iwae_nll"] <= first["vae"]["neg_elbo"] + 1.0      # a tighter bound on the same images
    assert first["pixelcnn"]["nll"] > 0 and all(r["seconds per 64 samples"] > 0 for r in first.values())
    data = record["data"]
    assert len(data["claims"]) == 5 and 0 <= data["probe"]["latent"] <= 1 and data["fid_floor"] >= 0
    assert np.asarray(data["shown"]["pixelcnn"]).shape == (16, 28, 28) and len(data["gan_val_fid"]) == 2
    assert sum(ln.startswith("generative: ") and "steps in" in ln for ln in lines) == 5


def test_sharpness_is_zero_on_flat_images_and_higher_on_edges():
    flat = np.full((2, 1, 8, 8), 0.5)
    edge = np.zeros((2, 1, 8, 8))
    edge[..., 4:] = 1.0
    blurred = np.clip(np.cumsum(np.full((2, 1, 8, 8), 0.125), axis=-1) - 0.125, 0, 1)
    assert sharpness(flat) == 0.0 and sharpness(edge) > sharpness(blurred) > 0


def test_the_probe_reads_a_separable_code_and_random_projection_keeps_shape():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = np.eye(3)[y] * 3 + rng.normal(scale=0.3, size=(600, 3))
    assert linear_probe(x[:400], y[:400], x[400:], y[400:]) > 0.95
    assert random_projection(rng.random((5, 1, 4, 4)), 3).shape == (5, 3)
