"""TensorBoard logs: ``SummaryWriter`` with ``torch.utils.tensorboard.SummaryWriter``'s method names and
signatures, and ``TensorBoardLogger``, the Trainer callback behind ``nabla train ... --tensorboard [DIR]``.

The event files are written by ``tensorboardX`` (the optional extra ``nabla[tensorboard]``, imported only when a
writer is made); nabla Tensors are handed over as NumPy arrays.  ``tensorboard --logdir DIR`` shows them.
``SummaryWriter.add_graph(model, input)`` writes the model's autograd graph (``nabla.utils.tensorboard_graph``).

What the callback logs (step = the optimizer step, ``trainer.global_step``):

* every ``log_every_n_steps`` steps: ``train/loss`` and the step's other figures (``train/accuracy``...) as the
  step computed them, ``train/lr`` (the first parameter group's rate) and ``train/samples_per_sec``

      samples/s = batch_size x processes x steps since the last point / wall seconds since the last point

  (images/s for image models; evaluation time is left out: the clock restarts after each evaluation), and
  ``train/lr_N`` for each further parameter group or optimizer N (a GAN's generator: ``train/lr_1``);
* at each evaluation (each epoch, or every ``--eval-every`` steps): the history row, ``val/NAME`` for the
  validation figures and ``epoch/NAME`` for the means since the last row (loss, metrics, lr, time), and a
  histogram per parameter of its weights (``weights/NAME``) and of its last gradient (``grads/NAME``: the
  gradient the optimizer stepped with, after the processes' averaging, the L1 term and clipping);
* at each evaluation, images chosen by the step's class (``nabla.utils.tensorboard_images``): a grid of
  ``sample_grid`` samples of a GAN or VAE, or of at most 9 of a PixelCNN (it samples pixel by pixel)
  (``samples``, from a fixed seed, so the grids of successive evaluations compare); the first ``overlays``
  validation images with their true boxes and a detector's boxes (``detections``), or a segmentation model's
  predicted classes (``segmentation``), drawn on them;
* at the start: the run's configuration (model, options, data set, settings) as text (``run/config``).
"""
from __future__ import annotations

import json
import time

import numpy as np

from .. import comm
from ..train.callbacks import Callback

INSTALL_HINT = 'TensorBoard logging needs tensorboardX: pip install "nabla[tensorboard]"'


def require_tensorboardx():
    """The tensorboardX module, or an ImportError of one line saying how to install it."""
    try:
        import tensorboardX
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return tensorboardX


def _numpy(value):
    """A nabla Tensor (detached) or anything array-like as a NumPy array; Python numbers stay numbers."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return np.asarray(value.detach().numpy())
    if isinstance(value, (int, float, bool)):
        return value
    return np.asarray(value)


def _scalar(value) -> float:
    """One number from a Python number, a 0-d/1-element array or Tensor."""
    value = _numpy(value)
    return float(value.reshape(()) if isinstance(value, np.ndarray) else value)


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir`` (default ``runs/DATE_TIME_HOST`` + ``comment``), as
    ``torch.utils.tensorboard.SummaryWriter`` does; events are queued (``max_queue``) and flushed every
    ``flush_secs`` seconds, at ``flush()`` and at ``close()``.  ``purge_step``: events at this step or later
    from an earlier (crashed) run in the same folder are hidden (resuming)."""

    def __init__(self, log_dir=None, comment: str = "", purge_step=None, max_queue: int = 10,
                 flush_secs: int = 120, filename_suffix: str = ""):
        tbx = require_tensorboardx()
        self._writer = tbx.SummaryWriter(logdir=None if log_dir is None else str(log_dir), comment=comment,
                                         purge_step=purge_step, max_queue=max_queue, flush_secs=flush_secs,
                                         filename_suffix=filename_suffix)

    @property
    def log_dir(self) -> str:
        return self._writer.logdir

    def get_logdir(self) -> str:
        return self._writer.logdir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """One number; ``new_style``/``double_precision`` are accepted for PyTorch's signature: the value is
        stored as TensorBoard's simple float either way (it shows the same curve)."""
        self._writer.add_scalar(tag, _scalar(scalar_value), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves on one chart; each is written to its own sub-folder, ``log_dir/main_tag/tag`` (PyTorch:
        ``log_dir/main_tag_tag``)."""
        self._writer.add_scalars(main_tag, {k: _scalar(v) for k, v in tag_scalar_dict.items()}, global_step,
                                 walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """The distribution of ``values`` (a Tensor or array, any shape)."""
        values = np.asarray(_numpy(values), dtype=np.float64).ravel()
        self._writer.add_histogram(tag, values, global_step, bins, walltime, max_bins)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: floats in [0, 1] (scaled to 0..255) or uint8, laid out as ``dataformats`` says (CHW, HWC,
        HW...)."""
        self._writer.add_image(tag, _numpy(img_tensor), global_step, walltime, dataformats)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images, shown as one grid."""
        self._writer.add_images(tag, _numpy(img_tensor), global_step, walltime, dataformats)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them) rendered to an image (needs matplotlib)."""
        self._writer.add_figure(tag, figure, global_step, close, walltime)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """``model``'s autograd graph on ``input_to_model`` (a Tensor, array or tuple of them), folded by module,
        for TensorBoard's GRAPHS tab (``nabla.utils.tensorboard_graph``).  ``verbose`` prints the node count;
        ``use_strict_trace`` is accepted for PyTorch's signature (nabla records the graph as it runs)."""
        from .tensorboard_graph import graph_def
        if input_to_model is None:
            raise ValueError(f"add_graph: {type(model).__name__} needs input_to_model to run its forward on")
        graph = graph_def(model, input_to_model)
        if verbose:
            print(f"add_graph: {len(graph.node)} nodes")
        self._writer._get_file_writer().add_onnx_graph(graph)   # writes the GraphDef alone, as an event

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Text, rendered as Markdown by TensorBoard."""
        self._writer.add_text(tag, text_string, global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        """A run's hyper-parameters and its final figures (TensorBoard's HPARAMS tab); written, as in PyTorch,
        to a sub-folder (``run_name``, default: the current time).  ``hparam_domain_discrete`` is accepted for
        PyTorch's signature; tensorboardX infers the domains."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError(f"add_hparams: hparam_dict and metric_dict must be dicts, got "
                            f"{type(hparam_dict).__name__} and {type(metric_dict).__name__}")
        metrics = {k: _scalar(v) for k, v in metric_dict.items()}
        self._writer.add_hparams(hparam_dict, metrics, name=run_name, global_step=global_step)

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _step_rate(trainer) -> int:
    """Samples one optimizer step consumes, over all processes (0 when the batch size is unknown)."""
    batch = trainer.config.get("batch_size") or getattr(trainer.train_loader, "batch_size", None) or 0
    return int(batch) * int(trainer.strategy.world_size)


class TensorBoardLogger(Callback):
    """Logs a training run to TensorBoard (see the module's docstring for what); only process 0 writes.

    ``log_dir``: the folder of the event files; ``log_every_n_steps``: steps between the training points;
    ``histograms``: weight and gradient histograms at each evaluation; ``sample_grid``: samples drawn for the
    grid of a generative model (0: none); ``overlays``: validation images drawn with a detector's boxes or a
    segmentation model's predicted classes (0: none)."""

    def __init__(self, log_dir, log_every_n_steps: int = 10, histograms: bool = True, sample_grid: int = 16,
                 overlays: int = 8):
        if int(log_every_n_steps) < 1:
            raise ValueError(f"TensorBoardLogger: log_every_n_steps must be >= 1, got {log_every_n_steps}")
        self.log_dir, self.every = str(log_dir), int(log_every_n_steps)
        self.histograms, self.sample_grid, self.overlays = histograms, int(sample_grid), int(overlays)
        self.writer = None
        self._clock = self._steps = 0

    def on_train_begin(self, trainer):
        if comm.rank() != 0:
            return
        # a resumed run writes on from its step; events of a killed session beyond it are hidden
        self.writer = SummaryWriter(self.log_dir, purge_step=trainer.global_step or None)
        config = json.dumps(trainer.config, indent=1, default=str)
        self.writer.add_text("run/config", "    " + config.replace("\n", "\n    "), trainer.global_step)
        self._restart_clock()

    def _restart_clock(self):
        self._clock, self._steps = time.perf_counter(), 0

    def on_epoch_begin(self, trainer, epoch):
        self._restart_clock()

    def on_batch_end(self, trainer, batch, loss):
        self._steps += 1
        if self.writer is None or trainer.global_step % self.every:
            return
        step = trainer.global_step
        for name, values in trainer.step_history.items():
            if values:
                self.writer.add_scalar(f"train/{name}", values[-1], step)
        for i, group in enumerate(trainer.step_groups()):
            self.writer.add_scalar("train/lr" if i == 0 else f"train/lr_{i}", group["lr"], step)
        seconds, rate = time.perf_counter() - self._clock, _step_rate(trainer)
        if rate and seconds > 0:
            self.writer.add_scalar("train/samples_per_sec", rate * self._steps / seconds, step)
        self._restart_clock()

    def on_evaluate(self, trainer, logs):
        if self.writer is None:
            return
        step = trainer.global_step
        for name, value in logs.items():
            if name not in ("epoch", "step") and isinstance(value, (int, float)) and not isinstance(value, bool):
                tag = f"val/{name[4:]}" if name.startswith("val_") else f"epoch/{name}"
                self.writer.add_scalar(tag, value, step)
        if self.histograms:
            self._histograms(trainer, step)
        self._images(trainer, step)
        self.writer.flush()
        self._restart_clock()  # the evaluation's time is no training time

    def _histograms(self, trainer, step):
        for model_name, model in trainer.step.models.items():
            prefix = "" if len(trainer.step.models) == 1 else f"{model_name}."
            for name, p in model.named_parameters():
                self.writer.add_histogram(f"weights/{prefix}{name}", p, step)
                if p.grad is not None:
                    self.writer.add_histogram(f"grads/{prefix}{name}", p.grad, step)

    def _images(self, trainer, step):
        from .tensorboard_images import evaluation_images
        images = evaluation_images(trainer.step, trainer.val_data, self.sample_grid, self.overlays,
                                   trainer.config.get("classes"))
        for tag, image in images.items():
            self.writer.add_image(tag, image, step)

    def on_train_end(self, trainer):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
