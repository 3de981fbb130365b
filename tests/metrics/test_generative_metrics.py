"""Classifier FID, the inception-score analogue and class coverage (nabla.metrics.generative)."""
import numpy as np
import pytest

from nabla.data.datasets import MNIST5k
from nabla.metrics import (GenerativeScores, class_coverage, classifier_fid, feature_statistics, frechet_distance,
                           inception_score, load_reference_classifier)
from nabla.metrics import generative


def _random_stats(seed, d=16, n=400, rank=None):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, rank or d)) @ rng.normal(size=(rank or d, d)) + rng.normal(size=d)
    return feature_statistics(np.maximum(f, 0))     # ReLU features: some columns all zero, rank deficient


# ---------------------------------------------------------------------- the Fréchet distance
def test_frechet_distance_of_a_set_with_itself_is_zero():
    for rank in (None, 5):
        mu, sigma = _random_stats(0, d=128, rank=rank)
        assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6


def test_frechet_distance_of_one_dimensional_gaussians():
    # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2
    d = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[0.25]]))
    assert d == pytest.approx(9 + (2 - 0.5) ** 2, rel=1e-12)


def test_frechet_distance_of_commuting_covariances():
    # diagonal covariances: sum_i (sqrt(a_i) - sqrt(b_i))^2 for the covariance part
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
    d = frechet_distance(np.zeros(3), np.diag(a), np.ones(3), np.diag(b))
    assert d == pytest.approx(3 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum(), rel=1e-12)


def test_frechet_distance_matches_the_eigenvalues_of_s1_s2():
    """tr((S1 S2)^(1/2)) = sum sqrt(eig(S1 S2)): S1 S2 is similar to a PSD matrix, so its eigenvalues are real
    and non-negative (up to rounding)."""
    mu1, s1 = _random_stats(3, d=24)
    mu2, s2 = _random_stats(4, d=24)
    lam = np.linalg.eigvals(s1 @ s2)
    assert np.abs(lam.imag).max() < 1e-8 * np.abs(lam).max()
    direct = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(lam.real, 0, None)).sum()
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(direct, rel=1e-6)


def test_frechet_distance_matches_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg", reason="scipy is not installed: the sqrtm cross-check needs it")
    mu1, s1 = _random_stats(1, d=32)
    mu2, s2 = _random_stats(2, d=32)
    covmean = linalg.sqrtm(s1 @ s2).real
    direct = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(direct, rel=1e-6)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="frechet_distance: expected"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="feature_statistics"):
        feature_statistics(np.zeros((1, 3)))


# ---------------------------------------------------------------------- inception score and coverage
def test_inception_score_bounds():
    eye = np.eye(10)
    assert inception_score(np.tile(eye, (5, 1))) == pytest.approx(10)       # confident, all classes equally
    assert inception_score(np.tile(eye[3], (50, 1))) == pytest.approx(1)     # one class only
    assert inception_score(np.full((20, 10), 0.1)) == pytest.approx(1)       # no confident prediction
    assert inception_score(np.tile(eye[:4], (3, 1))) == pytest.approx(4)


def test_class_coverage_counts_classes_with_five_percent():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 15 + [3] * 4 + [4] * 1)
    covered, shares, kl = class_coverage(labels)
    assert covered == 3 and shares.shape == (10,) and shares[:5].tolist() == [0.5, 0.3, 0.15, 0.04, 0.01]
    nz = shares[shares > 0]
    assert kl == pytest.approx((nz * np.log(nz * 10)).sum())
    covered, shares, kl = class_coverage(np.eye(10)[np.arange(1000) % 10])     # probabilities: argmax
    assert covered == 10 and kl == pytest.approx(0) and np.allclose(shares, 0.1)
    assert class_coverage(np.full(100, 7))[0] == 1 and class_coverage(np.full(100, 7))[2] == pytest.approx(np.log(10))
    with pytest.raises(ValueError, match="class_coverage"):
        class_coverage(np.array([0, 10]))


# ---------------------------------------------------------------------- with the shipped classifier
def _real():
    if not MNIST5k.is_present():
        pytest.skip(f"MNIST5k is not installed here; install it with: {MNIST5k.install_hint()}")
    ds = MNIST5k(train=False)
    return ds.get_batch(np.arange(len(ds)))[0]


@pytest.fixture(scope="module")
def classifier():
    return load_reference_classifier("mnist")


def test_classifier_fid_of_a_set_with_itself_is_zero_and_grows_with_noise(classifier):
    real = _real()
    assert abs(classifier_fid(real, real, classifier=classifier)) < 1e-6
    rng = np.random.default_rng(0)
    fids = [classifier_fid(np.clip(real + rng.normal(0, s, real.shape), 0, 1).astype(np.float32), real,
                           classifier=classifier) for s in (0.05, 0.15, 0.3, 0.6)]
    assert 0 < fids[0] < fids[1] < fids[2] < fids[3], fids


def test_classifier_fid_takes_only_images_in_0_1(classifier):
    real = _real()
    with pytest.raises(ValueError, match=r"\[0, 1\].*\(x \+ 1\) / 2"):
        classifier_fid(real * 2 - 1, real, classifier=classifier)
    with pytest.raises(ValueError, match="shape"):
        classifier_fid(real[:, :, :14], real, classifier=classifier)


def test_generative_scores_on_real_images():
    real = _real()
    scores = GenerativeScores("mnist-5k")
    got = scores.score(real)
    assert set(got) == {"fid", "coverage", "class_kl", "inception_score", "shares"}
    assert abs(got["fid"]) < 1e-6 and got["coverage"] == 10 and got["class_kl"] < 0.01
    assert 8.5 < got["inception_score"] <= 10
    ones = real[MNIST5k(train=False).targets.numpy() == 1]
    collapsed = scores.score(ones)
    assert collapsed["coverage"] == 1 and collapsed["inception_score"] < 1.5 and collapsed["fid"] > 100
    floor = scores.floor(n=1000)
    assert 0 < floor < collapsed["fid"] / 10
    # other real images (a validation split): their statistics instead of the test split's
    held_out = GenerativeScores("mnist-5k", classifier=scores.classifier, real01=real[:500])
    assert abs(held_out.score(real[:500])["fid"]) < 1e-6 and held_out.score(real[500:])["fid"] > 0


def test_load_reference_classifier_names():
    for name in ("mnist", "binarized-mnist", "binarized_mnist", "mnist-5k"):
        assert generative.REFERENCE_OF[generative._canonical(name)] == "mnist"
    for name in ("fashion-mnist", "binarized-fashion-mnist"):
        assert generative.REFERENCE_OF[generative._canonical(name)] == "fashion-mnist"
    with pytest.raises(ValueError, match="no reference classifier for data set 'cifar'; valid names: mnist, "):
        load_reference_classifier("cifar")
    with pytest.raises(ValueError, match="'digits'"):
        load_reference_classifier("digits")


def test_a_missing_weight_file_says_how_to_make_it(monkeypatch, tmp_path):
    from nabla.metrics import reference_classifier
    monkeypatch.setattr(reference_classifier, "REFERENCE_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m nabla.metrics.reference_classifier --dataset "
                                                "fashion-mnist --out"):
        load_reference_classifier("binarized-fashion-mnist")
