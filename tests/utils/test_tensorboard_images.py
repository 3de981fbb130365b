"""nabla.utils.tensorboard_images: the images of an evaluation are chosen by the step's class (GAN/VAE/PixelCNN
samples, detection boxes, segmentation masks, nothing for the others), drawn with the project's own drawing
code, the validation images enlarged to be read; and TensorBoardLogger writes them under their tags."""
import numpy as np
import pytest

from nabla.train.steps import (AutoregressiveStep, ClassificationStep, DetectionStep, GANStep, SegmentationStep,
                               VAEStep)
from nabla.utils import tensorboard_images as ti
from nabla.vision.draw import PALETTE
from nabla.vision.draw_masks import label_colormap

pytest.importorskip("PIL", reason="Pillow is not installed (drawing boxes; pip install \"nabla[vision]\")")


class _Sampler:
    """A stand-in generative model: ``sample`` draws from the generator it is given, values in [0, 1]."""
    training = True
    calls = 0

    def eval(self):
        self.training = False

    def train(self, mode=True):
        self.training = mode

    def sample(self, n, labels=None, generator=None):
        self.calls += n
        return generator.random((n, 1, 4, 4)).astype(np.float32)


def _plain(cls, **attrs):
    """An instance of the step class ``cls`` without its constructor, given ``attrs``."""
    step = cls.__new__(cls)
    step.__dict__.update(attrs)
    return step


@pytest.mark.parametrize("cls", [GANStep, VAEStep])
def test_samples_of_a_generative_step_are_one_grid_from_a_fixed_seed(cls):
    model = _Sampler()
    first = ti.evaluation_images(_plain(cls, model=model), None, samples=4)
    second = ti.evaluation_images(_plain(cls, model=model), None, samples=4)
    assert list(first) == ["samples"] and model.training                  # training mode as it was
    assert first["samples"].shape == (1, 2 * 6 + 2, 2 * 6 + 2)              # 2 x 2 grid of 4x4, 2-pixel padding
    assert np.array_equal(first["samples"], second["samples"]) and first["samples"].max() <= 1


def test_a_pixelcnn_draws_at_most_a_few_samples():
    model = _Sampler()
    (grid,) = ti.evaluation_images(_plain(AutoregressiveStep, model=model), None, samples=16).values()
    assert model.calls == ti.AUTOREGRESSIVE_SAMPLES == 9 and grid.shape == (1, 3 * 6 + 2, 3 * 6 + 2)


def test_a_step_without_images_gives_none_and_a_subclass_gets_its_base_producer():
    assert ti.evaluation_images(_plain(ClassificationStep), [(np.zeros((2, 1, 4, 4)), None)]) == {}

    class MyGAN(GANStep):
        pass
    assert ti.producer_for(_plain(MyGAN)) is ti.generated_samples


class _Segmenter(SegmentationStep):
    num_classes = 3

    def segment(self, images):
        masks = np.zeros((len(images), 4, 5), np.int64)
        masks[:, 0, 0], masks[:, 3, 4] = 1, 2
        return masks


def _images():
    images = np.zeros((3, 1, 4, 5), np.float32)
    images[:, :, 1, 1] = 1.0                                         # one white pixel in each image
    return images


def test_the_segmentation_overlay_colours_the_predicted_classes_only():
    (tag, grid), = ti.evaluation_images(_plain(_Segmenter), [(_images(), None)], overlays=2).items()
    f = 32                                                           # 4 rows enlarged to at least 128
    assert tag == "segmentation" and grid.shape == (3, 4 * f + 4, 2 * (5 * f + 2) + 2)  # 2 images side by side
    first = np.rint(grid[:, 2:2 + 4 * f, 2:2 + 5 * f] * 255).astype(int)
    colours = label_colormap(3).astype(int)
    at = lambda r, c: first[:, r * f + f // 2, c * f + f // 2].tolist()  # noqa: E731 - the middle of a pixel
    assert at(0, 0) == np.rint(0.5 * colours[1]).tolist() and at(3, 4) == np.rint(0.5 * colours[2]).tolist()
    assert at(1, 1) == [255, 255, 255] and at(2, 2) == [0, 0, 0]       # background left clear


class _Detector(DetectionStep):
    def detect(self, images):
        assert images.shape == (2, 1, 4, 5)                          # the first ``overlays`` images, unscaled
        return [{"boxes": np.array([[1.0, 1.0, 4.0, 3.0], [0, 0, 2, 2]]), "scores": np.array([0.9, 0.3]),
                 "labels": np.array([2, 1])}] * 2


def test_detection_overlays_draw_the_true_boxes_and_the_confident_ones_in_their_class_colour():
    truth = [{"boxes": np.array([[0.0, 0.0, 1.0, 4.0]]), "labels": np.array([1])}] * 3
    (tag, grid), = ti.evaluation_images(_plain(_Detector), [(_images(), truth)], overlays=2,
                                        class_names=["bg", "a", "b"]).items()
    f = 32
    assert tag == "detections" and grid.shape == (3, 4 * f + 4, 2 * (5 * f + 2) + 2)
    first = np.rint(grid[:, 2:2 + 4 * f, 2:2 + 5 * f] * 255).astype(int)
    colour = list(PALETTE[2])
    assert first[:, 3 * f - 1, 2 * f].tolist() == colour             # the kept box's bottom edge (y1 = 3 -> 95)
    assert first[:, 2 * f, 4 * f - 1].tolist() == colour             # its right edge (x1 = 4 -> 127)
    assert first[:, 2 * f, 2 * f].tolist() == [0, 0, 0]              # inside it: the image
    assert not (first == np.array(PALETTE[1])[:, None, None]).all(axis=0).any()  # the 0.3 box is not drawn
    assert first[:, 3 * f, 0].tolist() == list(ti.TRUTH_COLOUR)      # the true box's left edge, one pixel wide
    assert first[:, 3 * f, 1].tolist() == [0, 0, 0] and first[:, 3 * f, f - 1].tolist() == list(ti.TRUTH_COLOUR)


def test_no_overlays_asked_for_or_no_validation_batch_none_drawn():
    assert ti.evaluation_images(_plain(_Segmenter), [(_images(), None)], overlays=0) == {}
    assert ti.evaluation_images(_plain(_Detector), [], overlays=2) == {}   # no validation batch
