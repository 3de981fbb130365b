"""Sample-quality metrics for generative models of 28x28 grey images, on a pinned reference classifier.

With ``phi(x)`` the 128 post-ReLU features of the reference classifier (``reference_classifier``) and
``p(y|x)`` its softmax:

* **classifier FID** (Heusel et al. 2017, with an MNIST / Fashion-MNIST classifier instead of Inception):
  the Fréchet distance between Gaussians fitted to the features of the samples and of the real images,

      FID = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr( (S_1 S_2)^(1/2) ),

  with ``tr((S_1 S_2)^(1/2)) = sum_i sqrt(lambda_i)``, ``lambda_i`` the eigenvalues of the symmetric positive
  semi-definite ``S_1^(1/2) S_2 S_1^(1/2)`` (similar to ``S_1 S_2``).  That matrix is ``A^T A`` with ``A =
  S_2^(1/2) S_1^(1/2)``, so ``sqrt(lambda_i)`` are the singular values of ``A`` and the trace is its nuclear
  norm: computed so (``eigh`` for the two symmetric square roots, ``svd`` for the singular values; float64,
  NumPy only, no SciPy, no complex parts to discard).  Taking the square roots of ``eigh``'s eigenvalues
  instead amplifies their rounding near 0 (an error of 1e-12 becomes 1e-6 per eigenvalue: a set against
  itself then scored -7e-6 with the reference classifier's rank-deficient features; the singular values
  give -4e-12).  FID depends on the classifier, the feature layer and N (it is biased upward at small N):
  always report the real-versus-real floor (``GenerativeScores.floor``) with it.
* **inception score** analogue (Salimans et al. 2016): ``IS = exp( E_x KL(p(y|x) || p(y)) )``, ``p(y) =
  E_x p(y|x)``; from 1 (one class, or no confident prediction) to the number of classes.
* **class coverage**: the share of the samples the classifier puts in each class; ``covered`` counts the
  classes with at least ``threshold`` (5 %, half the uniform share) of them, and ``KL(shares || uniform) =
  sum_c s_c log(C s_c)`` measures the imbalance (0 when uniform, log C for one class): mode collapse.

Images are float arrays in [0, 1], (N, 1, 28, 28) or (N, 28, 28); a GAN's [-1, 1] output needs ``(x + 1) / 2``
first.  Features are computed in eval mode, under no_grad, ``batch`` images at a time.
"""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..autograd.tensor import Tensor, from_numpy
from ..data.datasets import get_dataset, get_dataset_class

__all__ = ["load_reference_classifier", "feature_statistics", "frechet_distance", "classifier_fid",
           "classifier_outputs", "inception_score", "class_coverage", "GenerativeScores", "REFERENCE_OF"]

# data set -> whose reference classifier scores it
REFERENCE_OF = {"mnist": "mnist", "binarized-mnist": "mnist", "mnist-5k": "mnist", "binarized-mnist-5k": "mnist",
                "fashion-mnist": "fashion-mnist", "binarized-fashion-mnist": "fashion-mnist"}
# data set -> whose real test images the samples are compared with (the grey set, not its binarized view)
_REAL_OF = {"mnist": "mnist", "binarized-mnist": "mnist", "mnist-5k": "mnist-5k", "binarized-mnist-5k": "mnist-5k",
            "fashion-mnist": "fashion-mnist", "binarized-fashion-mnist": "fashion-mnist"}


def _canonical(dataset: str) -> str:
    """The registered name of ``dataset`` (aliases accepted) if a reference classifier scores it."""
    valid = ", ".join(REFERENCE_OF)
    try:
        name = get_dataset_class(dataset).name
    except (ValueError, AttributeError):
        name = None
    if name not in REFERENCE_OF:
        raise ValueError(f"no reference classifier for data set {dataset!r}; valid names: {valid}")
    return name


def load_reference_classifier(dataset: str = "mnist"):
    """The shipped reference classifier of ``dataset`` (eval mode): MNIST's for mnist, mnist-5k and
    binarized-mnist, Fashion-MNIST's for fashion-mnist and binarized-fashion-mnist."""
    # imported here: `python -m nabla.metrics.reference_classifier` must not find it imported by the package
    from .reference_classifier import load_classifier, reference_path
    ref = REFERENCE_OF[_canonical(dataset)]
    path = reference_path(ref)
    if not path.is_file():
        raise FileNotFoundError(f"reference classifier weights for {ref} not found at {path}; make them with: "
                                f"python -m nabla.metrics.reference_classifier --dataset {ref} --out {path}")
    return load_classifier(path)


def feature_statistics(features) -> tuple:
    """Mean (D,) and covariance (D, D) (unbiased, N - 1) of ``features`` (N, D), in float64."""
    f = np.asarray(features.data if isinstance(features, Tensor) else features, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"feature_statistics: expected features of shape (N, D) with N >= 2, got {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric PSD matrix, by eigendecomposition (negative rounding -> 0)."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (closed form; see the module
    docstring).  Rounding can leave a result a hair below 0 for identical statistics (|d| ~ 1e-12)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if d < 0 or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"frechet_distance: expected mu1, mu2 of shape (D,) and sigma1, sigma2 of shape (D, D), "
                         f"got {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}")
    tr_sqrt = np.linalg.svd(_psd_sqrt(s2) @ _psd_sqrt(s1), compute_uv=False).sum()   # tr (S1 S2)^(1/2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def _images(x, who: str) -> np.ndarray:
    a = np.asarray(x.data if isinstance(x, Tensor) else x, np.float32)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1:] != (1, 28, 28):
        raise ValueError(f"{who}: expected images of shape (N, 1, 28, 28) or (N, 28, 28), got {a.shape}")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(f"{who}: expected images in [0, 1], got values in [{lo:.3g}, {hi:.3g}] "
                         "(a generator's [-1, 1] output needs (x + 1) / 2)")
    return a


def classifier_outputs(classifier, images01, batch: int = 1000) -> tuple:
    """(features (N, 128), probabilities (N, 10)) of ``classifier`` on [0, 1] images, float64; eval mode and
    no_grad (the classifier's training flag is restored afterwards)."""
    x = _images(images01, "classifier_outputs")
    was_training = classifier.training
    classifier.eval()
    feats, probs = [], []
    try:
        with no_grad():
            for a in range(0, len(x), batch):
                f = classifier.features(from_numpy(np.ascontiguousarray(x[a:a + batch])))
                logits = classifier.head(f).data.astype(np.float64)
                logits -= logits.max(1, keepdims=True)
                e = np.exp(logits)
                feats.append(f.data.astype(np.float64))
                probs.append(e / e.sum(1, keepdims=True))
    finally:
        classifier.train(was_training)
    return np.concatenate(feats), np.concatenate(probs)


def classifier_fid(samples01, real01, classifier=None, dataset: str = "mnist", batch: int = 1000) -> float:
    """The classifier FID between two sets of [0, 1] images (``classifier``: the reference one of
    ``dataset`` when None, else a module with ``features(x)`` and ``head(features)``)."""
    classifier = classifier if classifier is not None else load_reference_classifier(dataset)
    f1, _ = classifier_outputs(classifier, samples01, batch)
    f2, _ = classifier_outputs(classifier, real01, batch)
    return frechet_distance(*feature_statistics(f1), *feature_statistics(f2))


def _probabilities(probs, who: str) -> np.ndarray:
    p = np.asarray(probs.data if isinstance(probs, Tensor) else probs, np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"{who}: expected class probabilities of shape (N, C), got {p.shape}")
    return p


def inception_score(probs) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))`` of class probabilities (N, C) (rows p(y|x)); see the module docstring."""
    p = _probabilities(probs, "inception_score")
    marginal = p.mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0)
    return float(np.exp(terms.sum(1).mean()))


def class_coverage(probs_or_labels, num_classes: int = 10, threshold: float = 0.05) -> tuple:
    """``(covered, shares, kl_uniform)``: how many classes get at least ``threshold`` of the samples, each
    class's share (C,), and KL(shares || uniform).  Takes probabilities (N, C) (argmax) or labels (N,)."""
    a = np.asarray(probs_or_labels.data if isinstance(probs_or_labels, Tensor) else probs_or_labels)
    labels = _probabilities(a, "class_coverage").argmax(1) if a.ndim == 2 else a
    if labels.ndim != 1 or len(labels) == 0 or labels.dtype.kind not in "iu" or labels.min() < 0 \
            or labels.max() >= num_classes:
        raise ValueError(f"class_coverage: expected probabilities (N, {num_classes}) or labels (N,) in "
                         f"[0, {num_classes}), got an array of shape {a.shape} and dtype {a.dtype}")
    shares = np.bincount(labels, minlength=num_classes) / len(labels)
    nz = shares[shares > 0]
    return int((shares >= threshold).sum()), shares, float((nz * np.log(nz * num_classes)).sum())


class GenerativeScores:
    """Scores generated images against a data set's real test images with its reference classifier.

    ``GenerativeScores(dataset="mnist", classifier=None, real01=None, download=False, batch=1000)``: the real
    images are ``real01`` ([0, 1], e.g. held-out validation images) or by default the test split of the grey set
    (``binarized-mnist`` -> ``mnist``'s 10,000 grey test images in [0, 1]; ``mnist-5k`` -> its own 1,000);
    their features and statistics are computed once, on first use, and cached.  ``classifier``: the reference
    classifier of ``dataset`` when None, else a module with ``features(x)`` and ``head(features)``.
    ``score(samples01) -> {"fid", "coverage", "class_kl", "inception_score"}``; ``floor(n, seed)`` is the
    FID of ``n`` random training images against the test images: the real-versus-real floor.
    """

    def __init__(self, dataset: str = "mnist", classifier=None, real01=None, download: bool = False,
                 batch: int = 1000):
        self.dataset = _canonical(dataset)
        self.real_dataset = _REAL_OF[self.dataset]
        self.classifier = classifier if classifier is not None else load_reference_classifier(self.dataset)
        self.download, self.batch = download, batch
        self._real_images = None if real01 is None else _images(real01, "GenerativeScores")
        self._real = None

    def _grey_split(self, train: bool):
        return get_dataset(self.real_dataset, train=train, download=self.download)

    def _images_of(self, split) -> np.ndarray:
        return split.get_batch(np.arange(len(split)))[0]

    @property
    def real_statistics(self) -> tuple:
        """(mu, sigma) of the real test images' features (computed once)."""
        if self._real is None:
            real = self._real_images if self._real_images is not None else self._images_of(self._grey_split(False))
            feats, _ = classifier_outputs(self.classifier, real, self.batch)
            self._real_images = None        # only the statistics are kept
            self._real = feature_statistics(feats)
        return self._real

    def score(self, samples01) -> dict:
        """FID against the real test images, class coverage (classes with >= 5 % of the samples), KL of the
        class shares from uniform, the inception score, and the class shares themselves, of [0, 1] images."""
        feats, probs = classifier_outputs(self.classifier, samples01, self.batch)
        covered, shares, kl = class_coverage(probs, probs.shape[1])
        return {"fid": frechet_distance(*feature_statistics(feats), *self.real_statistics), "coverage": covered,
                "class_kl": kl, "inception_score": inception_score(probs), "shares": [float(v) for v in shares]}

    def floor(self, n: int = 10_000, seed: int = 0) -> float:
        """FID of ``n`` training images (drawn without replacement with ``np.random.default_rng(seed)``;
        at most the whole training split) against the real test images."""
        train = self._grey_split(True)
        idx = np.sort(np.random.default_rng(seed).permutation(len(train))[:n])
        feats, _ = classifier_outputs(self.classifier, train.get_batch(idx)[0], self.batch)
        return frechet_distance(*feature_statistics(feats), *self.real_statistics)

    def __repr__(self) -> str:
        return f"GenerativeScores(dataset={self.dataset!r}, real={self.real_dataset!r})"
