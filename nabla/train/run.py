"""A training run, as ``nabla train`` starts it: a model from the registry, a data set, settings resolved
from the defaults, the model's entry, a resumed checkpoint and the user's flags; a run folder of its own;
the one Trainer; the test figures at the end.  Also what ``nabla eval`` and ``nabla sample`` do with a
checkpoint.  The command line only parses and calls these (``nabla.cli``).

Run folders: each run gets a fresh one, ``runs/<model>-<dataset>``, then ``-2``, ``-3``...; an explicit
folder that already holds a run is refused unless the run is resumed or ``overwrite`` is asked for.
Checkpoints record the model, its options, the data set and every setting, so a resume needs nothing
else; a setting given again on resume must agree with the record, except the budget (``EXTENDABLE``):
a larger budget re-plans the schedule over the new total.

Several processes (``mpiexec -n N nabla train ...``, ``nabla.distributed``): ``train`` and ``prepare`` take the
Trainer's ``strategy``; rank 0 alone claims the run folder and writes checkpoints, logs and test.json; every
rank builds the same model and data; the task must say it supports data parallelism (``Task.data_parallel``).
A checkpoint written by N processes resumes on M: the global step continues, the effective batch is the new
command's (a note says so when it differs), and the position in the current epoch is kept by samples done.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from .. import nn
from ..data.datasets import folder_name
from ..models import build_model, default_model_name, get_model_entry
from . import settings as S
from .callbacks import CSVLogger, EarlyStopping, JSONLogger, ModelCheckpoint, ProgressLine, write_json
from .checkpoint import CheckpointError, load_checkpoint
from .tasks import check_dataset, get_task
from .tasks.base import task_for
from .strategy import Strategy
from .trainer import Trainer

RUN_FILES = ("last.safetensors", "best.safetensors", "history.json", "history.csv")


class RunError(ValueError):
    """A request that cannot start: a contradiction with the checkpoint, a folder that holds a run or cannot
    be written, an option of the wrong type."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``last`` is the checkpoint that resumes it (None if none was written yet)."""

    def __init__(self, last):
        super().__init__(last)
        self.last = last


@dataclass
class Request:
    """What the user asked for (``nabla train`` flags); None: not given."""
    model: str | None = None
    dataset: str | None = None
    options: dict = field(default_factory=dict)    # option -> text (``--set``), parsed by the registry
    settings: dict = field(default_factory=dict)   # training settings given explicitly (typed)
    out: str | None = None
    resume: str | None = None
    overwrite: bool = False
    download: bool = True
    progress: bool = True
    eval_limit: int | None = None
    beam_size: int = 1
    sampling: dict = field(default_factory=dict)   # prompt, temperature, top_k, length, num_samples
    # callbacks the caller adds (e.g. the CLI's TensorBoard logger, from a higher layer): each a function
    # (run folder) -> Callback, called on process 0 only, where the run folder is known
    callback_factories: tuple = ()
    command: str | None = None  # the command line that asked for it, kept in the run folder's command.txt


# ---------------------------------------------------------------------------------------------- checkpoints
def check_finite_weights(state: dict, path) -> None:
    """A checkpoint whose weights are NaN or infinite is damaged (or its run diverged): say so, by tensor."""
    weights = state.get("model") or {}
    for name, w in weights.items():
        a = np.asarray(w)
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = int((~np.isfinite(a)).sum())
            raise CheckpointError(f"checkpoint {os.fspath(path)!r} holds non-finite values: tensor {name!r} has "
                                  f"{bad} NaN/inf of {a.size}; the file is damaged or its run diverged")


def read_checkpoint(path) -> tuple:
    """``(state, config)`` of a checkpoint written by ``nabla train``, its weights checked."""
    state = load_checkpoint(path)
    config = state.get("config") or {}
    if "model" not in config:
        raise CheckpointError(f"{os.fspath(path)!r} holds no model configuration: it was not written by "
                              "`nabla train`")
    check_finite_weights(state, path)
    return state, config


def recorded_settings(config: dict) -> dict:
    """The settings a checkpoint records (older files: the flat keys they kept)."""
    if "settings" in config:
        return dict(config["settings"])
    flat = {k: config[k] for k in ("optimizer", "lr", "batch_size", "seed", "scheduler", "augment", "seq_len",
                                   "time_budget", "budget_clock") if k in config}
    return {k: v for k, v in flat.items() if v is not None}


# ---------------------------------------------------------------------------------------------- run folders
def _holds_run(folder) -> bool:
    return any(os.path.exists(os.path.join(folder, f)) for f in RUN_FILES)


def check_writable(folder) -> None:
    """Create ``folder`` if needed and write a probe file in it: a one-line RunError before any work."""
    if os.path.isfile(folder):
        raise RunError(f"{os.fspath(folder)!r} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RunError(f"cannot write the run folder {os.fspath(folder)!r}: {e.strerror or e}") from None


def claim_run_folder(base: str) -> str:
    """``base``, else ``base-2``, ``base-3``...: the first that does not exist, created at once (two runs
    started together never share one)."""
    parent = os.path.dirname(base) or "."
    check_writable(parent)
    for i in range(1, 10_000):
        folder = base if i == 1 else f"{base}-{i}"
        try:
            os.makedirs(folder)
            return folder
        except FileExistsError:
            continue
        except OSError as e:
            raise RunError(f"cannot create the run folder {folder!r}: {e.strerror or e}") from None
    raise RunError(f"too many runs named {base!r}-N; pass --out")


def choose_folder(request: Request, model: str, dataset: str) -> str:
    if request.resume:
        folder = os.path.dirname(os.path.abspath(request.resume))
        if request.out and os.path.abspath(request.out) != folder:
            raise RunError(f"--out {request.out!r} contradicts the resumed run's folder {folder!r}: a resumed run "
                           "continues in its own folder")
        check_writable(folder)
        return folder
    if request.out is None:
        return claim_run_folder(os.path.join("runs", f"{model}-{folder_name(dataset)}"))  # coco:PATH -> a slug
    if os.path.isfile(request.out):
        raise RunError(f"--out {request.out!r} is a file, not a folder")
    if _holds_run(request.out) and not request.overwrite:
        raise RunError(f"{request.out!r} already holds a run: pass --resume {os.path.join(request.out, 'last.safetensors')}"
                       f" to continue it, --overwrite to replace it, or another --out")
    check_writable(request.out)
    if request.overwrite:
        for f in RUN_FILES:
            if os.path.exists(os.path.join(request.out, f)):
                os.unlink(os.path.join(request.out, f))
    return request.out


# ---------------------------------------------------------------------------------------------- what to run
def _disagree(what: str, given, recorded) -> RunError:
    return RunError(f"{what} contradicts the checkpoint, which records {recorded!r} (given: {given!r}); leave it "
                    "out to continue the run as recorded, or start a new run")


def _resolve_names(request: Request, config: dict) -> tuple:
    """``(entry, dataset name, recorded settings)``; on resume, model and data set come from the checkpoint."""
    if config:
        if request.model and request.model != config["model"]:
            raise _disagree(f"model {request.model!r}", request.model, config["model"])
        entry = get_model_entry(config["model"])
        dataset = config["dataset"]
        if request.dataset and check_dataset(entry, request.dataset) != dataset:
            raise _disagree(f"--dataset {request.dataset}", request.dataset, dataset)
        return entry, dataset, recorded_settings(config)
    try:
        entry = get_model_entry(request.model or default_model_name())
        return entry, check_dataset(entry, request.dataset or entry.default_dataset), {}
    except KeyError as e:
        raise RunError(str(e).strip("'\"")) from None
    except ValueError as e:  # a data set of another task, or an unknown name
        raise RunError(str(e)) from None


def _resolve_options(entry, request: Request, config: dict) -> dict:
    options = {}
    for name, text in request.options.items():
        try:
            key, value = entry.parse_option(name, text)
        except ValueError as e:
            raise RunError(str(e)) from None
        options[key] = value
    recorded = (config or {}).get("options")
    if recorded is not None:
        for k, v in options.items():
            if recorded.get(k) != v:
                raise _disagree(f"--set {k}={v}", v, recorded.get(k))
        return dict(recorded)
    return options


def _resolve_settings(entry, request: Request, recorded: dict) -> dict:
    if recorded:
        for k, v in request.settings.items():
            if k not in S.EXTENDABLE and k in recorded and recorded[k] != v:
                raise _disagree(f"--{k.replace('_', '-')} {v}", v, recorded[k])
    try:
        return S.resolve(entry.task, entry.training, recorded, request.settings)
    except S.SettingsError as e:
        raise RunError(str(e)) from None


def run_config(entry, dataset, options, settings, data, optimizer, task: str | None = None,
               world_size: int = 1, bucket_cap_mb: float | None = None) -> dict:
    """What a checkpoint records: enough to rebuild the model, its data, and to continue the run; ``task``: the
    run's task where the data set's differs from the model's (an image classifier on a binary set);
    ``world_size``: the processes that trained it (the effective batch is world_size x batch_size);
    ``bucket_cap_mb``: their gradient buckets' size (None in one process)."""
    settings = dict(settings, lr=optimizer.param_groups[0]["lr"])  # the rate actually used
    return {"model": entry.name, "task": task or entry.task, "options": {**entry.options, **options},
            "dataset": dataset,
            "in_shape": list(data.in_shape), "num_classes": int(data.num_classes), **data.config,
            "settings": settings, "world_size": int(world_size),
            "bucket_cap_mb": None if world_size == 1 else bucket_cap_mb,
            # the flat keys older readers look for
            "optimizer": settings["optimizer"], "lr": settings["lr"], "batch_size": settings["batch_size"],
            "seed": settings["seed"], "scheduler": settings["scheduler"], "augment": settings["augment"]}


def _budget_text(settings, steps_per_epoch) -> str:
    per = f" of {steps_per_epoch} steps" if steps_per_epoch else ""
    parts = []
    if settings["epochs"]:
        n = settings["epochs"]
        parts.append(f"{n:g} epoch{'' if n == 1 else 's'}{per}")
    if settings["max_steps"]:
        parts.append(f"{settings['max_steps']} steps")
    if settings["time_budget"]:
        parts.append(f"{settings['time_budget']:g} s ({settings['budget_clock']} clock)")
    return ("up to " if len(parts) > 1 else "") + " / ".join(parts)


@dataclass
class Run:
    """A run put together and ready to train (``prepare``)."""
    entry: object
    task: object
    dataset: str
    settings: dict
    folder: str
    data: object
    trainer: Trainer
    checkpoints: ModelCheckpoint
    state: dict | None = None


def prepare(request: Request, echo=print, strategy: Strategy | None = None) -> Run:
    """Everything checked and built, nothing trained: model, data, step, Trainer, callbacks, run folder (rank 0's;
    the other ranks of a data-parallel run claim none)."""
    strategy = strategy if strategy is not None else Strategy()
    state, config = read_checkpoint(request.resume) if request.resume else (None, {})
    entry, dataset, recorded = _resolve_names(request, config)
    options = _resolve_options(entry, request, config)
    settings = _resolve_settings(entry, request, recorded)
    for option, setting in entry.options_from_settings.items():
        options.setdefault(option, settings[setting])
    task = task_for(entry, dataset)  # the model's own, or the binary task for a classifier on a binary set
    if strategy.world_size > 1 and not task.data_parallel:
        raise RunError(f"data parallelism is not supported for the {task.name} task yet ({entry.name} on {dataset}): "
                       "run it in one process")
    folder = choose_folder(request, entry.name, dataset) if strategy.is_global_zero else None
    try:
        return _build(request, entry, dataset, options, settings, task, folder, state, config, echo, strategy)
    except BaseException:
        discard_fresh_folder(request, folder)  # a run that never started leaves no empty runs/NAME-N behind
        raise


def discard_fresh_folder(request: Request, folder: str) -> None:
    """Remove the run folder this request claimed (``runs/<model>-<dataset>[-N]``) if nothing was written in
    it; a folder the user named (``--out``) or a resumed run's folder is left alone."""
    if request.resume is None and request.out is None and folder is not None:
        try:
            os.rmdir(folder)  # fails, harmlessly, unless the folder is empty
        except OSError:
            pass


def _build(request, entry, dataset, options, settings, task, folder, state, config, echo, strategy) -> Run:
    backend.manual_seed(settings["seed"])
    data = task.load(dataset, settings, request.download, config or None)
    try:
        model = build_model(entry.name, data.in_shape, data.num_classes, **options)
    except (TypeError, ValueError) as e:
        raise RunError(str(e)) from None
    if settings["sync_bn"]:  # before the optimizer: the converted layers hold new Parameters
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = S.make_optimizer(settings, model.parameters())
    scheduler, interval = S.make_scheduler(settings, optimizer)
    step, loader, val = task.make_step(entry, model, optimizer, data, settings)
    data.extra.update(loader=loader, val_data=val)
    checkpoints = ModelCheckpoint(folder or os.curdir, monitor=step.monitor[0], mode=step.monitor[1])
    callbacks = []
    if strategy.is_global_zero:  # rank 0 writes and decides: the other ranks take its decision to stop
        callbacks = [checkpoints, CSVLogger(os.path.join(folder, "history.csv")),
                     JSONLogger(os.path.join(folder, "history.json")), ProgressLine(echo)]
        if settings["patience"]:
            callbacks.append(EarlyStopping(step.monitor[0], patience=settings["patience"], mode=step.monitor[1]))
        callbacks += [make(folder) for make in request.callback_factories]
    trainer = Trainer(step, scheduler=scheduler, schedule_interval=interval, callbacks=callbacks,
                      progress=request.progress, clip_grad_norm=settings["clip"] or None,
                      config=run_config(entry, dataset, options, settings, data, optimizer, task.name,
                                        strategy.world_size, getattr(strategy, "bucket_cap_mb", None)),
                      clock=settings["budget_clock"], l1=settings["l1"], strategy=strategy)
    if state is not None:
        if os.path.basename(request.resume) != "last.safetensors":
            echo(f"note: resuming from {request.resume}, not last.safetensors: the run continues from the state this "
                 "file holds, and its later checkpoints replace the run's last.safetensors")
        trainer.load_state_dict(state)
        S.replan(scheduler, settings, trainer.epoch)
    return Run(entry, task, dataset, settings, folder, data, trainer, checkpoints, state)


def batch_text(batch_size: int, world_size: int) -> str:
    """"batch 64", or with several processes "batch 64 per process x 4 processes = effective batch 256"."""
    if world_size == 1:
        return f"batch {batch_size}"
    return f"batch {batch_size} per process x {world_size} processes = effective batch {batch_size * world_size}"


def continue_elsewhere(run: Run, world_size: int, echo) -> None:
    """A checkpoint of another number of processes: the same global step, the effective batch this command
    gives (said when it differs), and the current epoch continued from the samples already done (the batch
    count converted; the order of an epoch depends on the number of processes, so bit-exactness is lost).  A
    loader whose generator every rank shares (``state_fits_any_world_size``: length buckets, random LM windows)
    keeps its recorded state, so the epoch goes on in its own order."""
    if run.state is None:
        return
    before = int((run.state.get("config") or {}).get("world_size", 1))
    if before == world_size:
        return
    t, batch = run.trainer, run.settings["batch_size"]
    echo(f"note: the checkpoint was written by {before} process{'es' if before > 1 else ''} (effective batch "
         f"{before * batch}); this run has {world_size} (effective batch {world_size * batch}): the global step "
         f"continues from {t.global_step}, not bit-identical to an uninterrupted run")
    loader = run.data.extra["loader"]
    per_epoch = len(loader) if hasattr(loader, "__len__") else None
    done = t.batch_in_epoch * before // world_size  # samples done in this epoch / the new effective batch
    t.batch_in_epoch = min(done, per_epoch - 1) if per_epoch else done
    if not getattr(loader, "state_fits_any_world_size", False):
        t._epoch_loader_state = None  # a one-process loader's generator means nothing to a DistributedSampler


def _opening(run: Run, echo) -> None:
    t, s, loader = run.trainer, run.settings, run.data.extra["loader"]
    if run.state is not None:
        echo(f"resumed the run in {run.folder} at epoch {t.epoch}, step {t.global_step}")
    lr = t.optimizer.param_groups[0].get("initial_lr", t.optimizer.param_groups[0]["lr"])
    batch = batch_text(s["batch_size"], t.strategy.world_size)
    echo(f"run folder: {run.folder}")
    echo(f"training {run.entry.name} ({t.model.num_parameters():,} parameters) on {run.dataset} ({run.data.sizes}), "
         f"{s['optimizer']} lr={lr:g} ({s['scheduler']} schedule), {batch}, "
         f"{_budget_text(s, len(loader) if hasattr(loader, '__len__') else None)}, "
         + (f"clip {s['clip']:g}, " if s["clip"] else "") + f"seed {s['seed']}")


def train(request: Request, echo=print, strategy: Strategy | None = None) -> dict:
    """``nabla train``: prepare, train within the budget, report on the test split.  ``strategy``: the processes
    that train together (``nabla.distributed.DDPStrategy``; default: this one)."""
    strategy = strategy if strategy is not None else Strategy()
    run = strategy.prepare_run(lambda: prepare(request, echo, strategy),
                               lambda r: discard_fresh_folder(request, r.folder))
    continue_elsewhere(run, strategy.world_size, echo)
    t, s = run.trainer, run.settings
    if run.state is not None and t.budget_spent(run.data.extra["loader"], s["epochs"], s["max_steps"],
                                                 s["time_budget"]):
        echo(f"the run in {run.folder} is complete ({t.epoch} epochs, {t.global_step} steps): nothing to do; pass "
             "a larger --epochs, --max-steps or --time-budget to extend it")
        return {"complete": True, "folder": run.folder}
    _opening(run, echo)
    if strategy.is_global_zero and request.command:  # one line per session: the run's command, then its resumes
        with open(os.path.join(run.folder, "command.txt"), "a", encoding="utf-8") as f:
            f.write(request.command + "\n")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        t.fit(run.data.extra["loader"], run.data.extra["val_data"], epochs=s["epochs"], max_steps=s["max_steps"],
              time_budget=s["time_budget"], eval_every=s["eval_every"])
    except KeyboardInterrupt:
        last = run.checkpoints.last_path
        discard_fresh_folder(request, run.folder)
        raise RunInterrupted(last if os.path.exists(last) else None) from None
    except BaseException:
        discard_fresh_folder(request, run.folder)
        raise
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    loader = run.data.extra["loader"]
    done = t.global_step / len(loader) if hasattr(loader, "__len__") and len(loader) else t.epoch
    done_text = f"{done:g}" if done == int(done) else f"{done:.2f}" if done >= 0.01 else "<0.01"
    session = "this session: " if run.state is not None else ""  # t.elapsed counts the earlier sessions too
    echo(f"trained {done_text} epoch{'' if done == 1 else 's'} ({t.global_step} steps): {t.elapsed:.1f} s of "
         f"training by the {s['budget_clock']} clock{' in all' if session else ''} ({session}{wall:.1f} s wall, "
         f"{cpu:.1f} s CPU including evaluation)")
    report = {"elapsed": wall, "dataset": run.dataset, "download": request.download, "folder": run.folder,
              "eval_limit": request.eval_limit, "beam_size": request.beam_size, "sampling": request.sampling}
    result = run.task.final_report(t, run.data, s, report, echo)
    # the figures of the final report, kept beside the history (test.json: last weights, test split)
    if strategy.is_global_zero:
        write_json(os.path.join(run.folder, "test.json"), {"model": run.entry.name, "dataset": run.dataset,
                                                           "command": request.command,
                                                           "steps": t.global_step, "training_seconds": t.elapsed,
                                                           **{k: v for k, v in result.items() if k != "samples"}})
    written = run.checkpoints.written
    best = run.checkpoints.best
    echo("checkpoints: " + ", ".join(
        f"{p} ({'last' if p.endswith('last.safetensors') else f'best within this run by {run.checkpoints.monitor}'})"
        for p in written) + (f"; best {run.checkpoints.monitor} {best:.4f}" if best is not None else ""))
    echo(f"run folder: {run.folder}")
    return {**result, "folder": run.folder, "history": t.history, "steps": t.global_step}


# ---------------------------------------------------------------------------------------------- eval / sample
def rebuild_from_checkpoint(path) -> tuple:
    """``(model, config, state)`` from a checkpoint written by ``nabla train``: no code is executed."""
    state, config = read_checkpoint(path)
    entry = get_model_entry(config["model"])
    try:
        model = entry.rebuild(config, state["model"])
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{os.fspath(path)!r}: its weights do not fit the model it records ({e})") from None
    return model, config, state


def _checkpoint_task(config):
    return get_task(config.get("task") or get_model_entry(config["model"]).task)


def _eval_dataset(config, task, dataset: str) -> str:
    """The registered name of ``dataset`` if the checkpoint's task scores on it (a classifier trained on a binary
    set is not scored on the ten digits, nor one of the ten digits on a binary set); else a one-line ValueError."""
    entry = get_model_entry(config["model"])
    name = check_dataset(entry, dataset)
    fits = task_for(entry, name).name
    if fits != task.name:
        raise ValueError(f"{config['model']} was trained for the {task.name} task on {config['dataset']}; {name} is a "
                         f"{fits} data set: evaluate it on a data set of its task")
    return name


def evaluate(path, dataset: str | None = None, download: bool = True, eval_limit: int | None = None,
             beam_size: int = 1, echo=print, iwae_k: int | None = None) -> dict:
    """``nabla eval``: the checkpoint's model on a data set's test split (default: the one it trained on)."""
    model, config, state = rebuild_from_checkpoint(path)
    task = _checkpoint_task(config)
    name = _eval_dataset(config, task, dataset) if dataset else config["dataset"]
    options = {"checkpoint": os.fspath(path), "dataset": name, "download": download, "eval_limit": eval_limit,
               "beam_size": beam_size, "iwae_k": iwae_k, "epoch": state.get("epoch"),
               "step": state.get("global_step", state.get("step"))}
    return task.evaluate(model, config, options, echo)


def sample(path, options: dict, echo=print):
    """``nabla sample``: text from a language model, or the prompt converted by a seq2seq model."""
    model, config, _ = rebuild_from_checkpoint(path)
    return _checkpoint_task(config).sample(model, config, options, echo)
