"""The ``nabla`` command: train, evaluate, list models and data sets, run the notes' experiments.

    nabla train [MODEL] [--dataset NAME] [--epochs N] [--batch-size B] [--optimizer adam] [--lr LR]
                [--weight-decay WD] [--augment] [--dropout P] [--seed S] [--out DIR] [--resume CKPT] [--set key=value]
    nabla eval CKPT [--dataset NAME]
    nabla sample CKPT [--prompt TEXT] [--temperature T] [--top-k K] [--length N]   (nabla/cli_seq.py)
    nabla models | nabla datasets
    nabla experiment NAME [--out DIR] [--quick] | nabla experiment --list
    nabla bench [WORKLOAD ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from functools import partial

OPTIMIZERS = {  # name -> (class name in nabla.optim, default lr, extra kwargs)
    "sgd": ("SGD", 0.1, {}),
    "momentum": ("SGD", 0.05, {"momentum": 0.9}),
    "nesterov": ("SGD", 0.05, {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", 0.01, {}),
    "rmsprop": ("RMSprop", 1e-3, {}),
    "adam": ("Adam", 1e-3, {}),
    "adamw": ("AdamW", 1e-3, {}),
}


class UsageError(Exception):
    pass


def _parse_value(text: str):
    """--set width=256 -> 256; true/false -> bool; else JSON, else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return json.loads(text)
    except ValueError:
        return text


def _options(pairs, entry):
    opts = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UsageError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        key = key.replace("-", "_")
        if key not in entry.options:
            raise UsageError(f"model {entry.name!r} has no option {key!r}; its options: "
                             f"{', '.join(f'{k}={v}' for k, v in entry.options.items()) or 'none'}")
        opts[key] = _parse_value(value)
    return opts


def _model_options(args, entry):
    """The model options from --set key=value and --dropout."""
    options = _options(args.set, entry)
    if args.dropout is not None:
        if "dropout" not in entry.options:
            raise UsageError(f"model {entry.name!r} has no dropout option")
        options["dropout"] = args.dropout
    return options


def load_data(name: str, download: bool = True):
    """(train set, test set, info) for a registered data set."""
    from .data import datasets
    train = datasets.get_dataset(name, train=True, download=download)
    test = datasets.get_dataset(name, train=False, download=download)
    info = next(d for d in datasets.list_datasets() if d["name"] == type(train).name)
    return train, test, info


def _normalizer(train):
    """Mean and std of the training pixels (in [0, 1]) for input standardisation."""
    import numpy as np
    if not hasattr(train, "data"):  # generated regression data is used as it is
        return 0.0, 1.0
    images = train.data.data
    scale = 1.0 / train.max_value
    mean = float(images.mean(dtype=np.float64) * scale)
    std = float(images.std(dtype=np.float64) * scale)
    return mean, std


def _loaders(train, test, batch_size, seed, normalize, val_fraction=0.1, augment=False):
    import copy
    from .data import DataLoader, Subset, random_split
    from .data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip
    if normalize != (0.0, 1.0):
        train.transform = test.transform = Normalize([normalize[0]], [normalize[1]])
    n_val = max(1, int(round(len(train) * val_fraction)))
    fit_set, val_set = random_split(train, [len(train) - n_val, n_val], generator=seed)
    if augment:  # the training part only: a random shift by up to 2 pixels, and a mirror image unless digits
        if len(getattr(train, "image_shape", ())) != 2:
            raise ValueError(f"--augment needs an image data set, got {type(train).__name__}")
        shifted = copy.copy(train)
        flip = [] if type(train).name in ("mnist", "mnist-5k", "digits") else [RandomHorizontalFlip()]
        shifted.transform = Compose([RandomCrop(train.image_shape, padding=2)] + flip
                                    + ([train.transform] if train.transform else []))
        fit_set = Subset(shifted, fit_set.indices)
    train_loader = DataLoader(fit_set, batch_size=batch_size, shuffle=True, seed=seed)
    val_loader = DataLoader(val_set, batch_size=1000)
    test_loader = DataLoader(test, batch_size=1000)
    return train_loader, val_loader, test_loader


def _make_optimizer(name, params, lr, weight_decay):
    from . import optim
    if name not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {name!r}; valid names: {', '.join(OPTIMIZERS)}")
    cls_name, default_lr, extra = OPTIMIZERS[name]
    return getattr(optim, cls_name)(params, lr=default_lr if lr is None else lr, weight_decay=weight_decay,
                                    **extra)


def _make_scheduler(name, optimizer, epochs):
    from .optim import lr_scheduler
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(epochs // 3, 1), gamma=0.1)
    return None


def cmd_train(args, echo=print):
    import nabla as nb
    from . import nn
    from .models import build_model, get_model_entry, model_names
    from .train import EarlyStopping, JSONLogger, CSVLogger, ModelCheckpoint, Trainer

    try:
        entry = get_model_entry(args.model)
    except KeyError:
        raise UsageError(f"unknown model {args.model!r}; valid names: {', '.join(model_names())}") from None
    if entry.task in ("lm", "seq2seq"):  # language models and seq2seq: nabla/cli_seq.py
        from . import cli_seq
        return cli_seq.train(args, entry, echo)
    options = _model_options(args, entry)
    dataset = args.dataset or entry.default_dataset
    nb.manual_seed(args.seed)
    train, test, info = load_data(dataset, download=not args.no_download)
    normalize = _normalizer(train)
    train_loader, val_loader, test_loader = _loaders(train, test, args.batch_size, args.seed, normalize,
                                                     augment=args.augment)
    in_shape, num_classes = tuple(info["shape"]), int(info["num_classes"])
    model = build_model(entry.name, in_shape, num_classes, **options)
    optimizer = _make_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    scheduler = _make_scheduler(args.scheduler, optimizer, args.epochs)
    out = args.out or os.path.join("runs", f"{entry.name}-{info['name']}")
    # every option, defaults included: a later change of a default does not change what the file rebuilds
    config = {"model": entry.name, "options": {**entry.options, **options}, "dataset": info["name"],
              "in_shape": list(in_shape),
              "num_classes": num_classes, "normalize": list(normalize), "optimizer": args.optimizer,
              "lr": optimizer.param_groups[0]["lr"], "scheduler": args.scheduler, "batch_size": args.batch_size,
              "seed": args.seed, "augment": args.augment}
    regression = entry.task == "regression"
    monitor = "val_loss" if regression else "val_accuracy"
    callbacks = [ModelCheckpoint(out, monitor=monitor), CSVLogger(os.path.join(out, "history.csv")),
                 JSONLogger(os.path.join(out, "history.json"))]
    if args.patience:
        callbacks.append(EarlyStopping(monitor, patience=args.patience))
    # GoogLeNet: the main loss + 0.3 x each auxiliary classifier's; other models: the task's loss
    loss_fn = entry.training_loss(nn.MSELoss() if regression else nn.CrossEntropyLoss())
    trainer = Trainer(model, loss_fn, optimizer, scheduler=scheduler, metrics=() if regression else ("accuracy",),
                      callbacks=callbacks,
                      progress=not args.quiet, config=config)
    if args.resume:
        trainer.resume(args.resume, train_loader)
        echo(f"resumed from {args.resume} at epoch {trainer.epoch}")
    echo(f"training {entry.name} ({model.num_parameters():,} parameters) on {info['name']} "
         f"({len(train_loader.dataset):,} train / {len(val_loader.dataset):,} validation / {len(test):,} test), "
         f"{args.optimizer} lr={config['lr']} ({args.scheduler} schedule), batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}")
    start = time.perf_counter()
    history = trainer.fit(train_loader, val_loader, epochs=args.epochs)
    elapsed = time.perf_counter() - start
    if history.get("val_accuracy"):
        for i, (loss, acc, vacc) in enumerate(zip(history["loss"], history["accuracy"], history["val_accuracy"])):
            echo(f"epoch {i + 1}: loss {loss:.4f}  train acc {acc:.4f}  val acc {vacc:.4f}")
    result = trainer.evaluate(test_loader)
    if regression:
        echo(f"test MSE: {result['loss']:.4f}  (training time {elapsed:.1f} s)")
        weights = {k: [round(float(v), 4) for v in t.data.ravel()] for k, t in model.state_dict().items()}
        echo(f"learned parameters: {weights}")
    else:
        echo(f"test accuracy: {result['accuracy'] * 100:.2f}%  (test loss {result['loss']:.4f}, "
             f"training time {elapsed:.1f} s)")
    echo(f"checkpoints: {os.path.join(out, 'last.safetensors')} (last), "
         f"{os.path.join(out, 'best.safetensors')} (best by {monitor})")
    return result


def rebuild_from_checkpoint(path):
    """(model, config, state) from a checkpoint written by ``nabla train``: no code is executed."""
    from .models import build_model
    from .train import CheckpointError, load_checkpoint
    state = load_checkpoint(path)
    config = state.get("config") or {}
    if "model" not in config:
        raise CheckpointError(f"{path!r} holds no model configuration: it was not written by `nabla train`")
    options = dict(config.get("options", {}))
    build = partial(build_model, config["model"], tuple(config["in_shape"]), int(config["num_classes"]))
    model = build(**options)
    missing = set(model.state_dict()) - set(state["model"])
    if (missing and "aux_logits" not in options and hasattr(model, "aux_logits")
            and all(k.startswith(("aux1.", "aux2.")) for k in missing)):
        # a file from before the options were recorded with their defaults, trained when googlenet-small's
        # auxiliary classifiers were off by default: the model it holds has none
        model = build(**options, aux_logits=False)
    model.load_state_dict(state["model"])
    return model, config, state


def cmd_eval(args, echo=print):
    from . import nn
    from .data import DataLoader
    from .data.transforms import Normalize
    from .models import get_model_entry
    from .train import Trainer
    from . import cli_seq
    if cli_seq.is_sequence_checkpoint(args.checkpoint):
        return cli_seq.evaluate(args, echo)
    model, config, state = rebuild_from_checkpoint(args.checkpoint)
    dataset = args.dataset or config["dataset"]
    from .data import datasets
    test = datasets.get_dataset(dataset, train=False, download=not args.no_download)
    if tuple(config["normalize"]) != (0.0, 1.0):
        test.transform = Normalize([config["normalize"][0]], [config["normalize"][1]])
    regression = get_model_entry(config["model"]).task == "regression"
    loss_fn = nn.MSELoss() if regression else nn.CrossEntropyLoss()
    trainer = Trainer(model, loss_fn, optimizer=None, metrics=() if regression else ("accuracy",), progress=False)
    result = trainer.evaluate(DataLoader(test, batch_size=1000))
    score = f"MSE {result['loss']:.4f}" if regression else \
        f"accuracy {result['accuracy'] * 100:.2f}%, loss {result['loss']:.4f}"
    echo(f"{config['model']} from {args.checkpoint} (epoch {state.get('epoch')}) on {dataset} test "
         f"({len(test):,} samples): {score}")
    return result


def cmd_models(args, echo=print):
    from .models import get_model_entry, model_names
    for name in model_names():
        e = get_model_entry(name)
        opts = ", ".join(f"{k}={v}" for k, v in e.options.items())
        echo(f"{name:24s} {e.description}" + (f"  [options: {opts}]" if opts else ""))


def cmd_datasets(args, echo=print):
    from .data.datasets import list_datasets
    for d in list_datasets():
        sizes = " / ".join(f"{v:,} {k}" for k, v in d["sizes"].items())
        state = "present" if d["present"] else f"missing (install: {d['install']})"
        echo(f"{d['name']:14s} {sizes:28s} {'x'.join(map(str, d['shape'])):9s} {d['num_classes']:3d} classes  "
             f"{state}\n{'':14s} {d['description']}")


def cmd_experiment(args, echo=print):
    from .experiments import experiment_names, get_experiment, run_experiment
    if args.list or not args.name:
        for name in experiment_names():
            echo(f"{name:24s} {get_experiment(name).summary}")
        return None
    if args.name not in experiment_names():
        raise UsageError(f"unknown experiment {args.name!r}; valid names: {', '.join(experiment_names())}")
    return run_experiment(args.name, args.out or os.path.join("runs", "experiments"), quick=args.quick, echo=echo)


def cmd_bench(args, echo=print):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for root in (os.getcwd(), here):
        if os.path.exists(os.path.join(root, "benchmarks", "run.py")):
            cmd = ["env", "-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE", sys.executable,
                   os.path.join(root, "benchmarks", "run.py"), *args.workloads]
            return subprocess.call(cmd, cwd=root)
    raise UsageError("benchmarks live in nabla's source tree (benchmarks/run.py); run `nabla bench` from a clone")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nabla", description="nabla: deep learning from first principles on NumPy")
    sub = p.add_subparsers(dest="command")

    t = sub.add_parser("train", help="train a model on a data set (default: an MLP on MNIST)")
    t.add_argument("model", nargs="?", default="mlp", help="a registered model (see `nabla models`)")
    t.add_argument("--dataset", help="a registered data set (see `nabla datasets`); default: the model's")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--optimizer", default="adam", choices=list(OPTIMIZERS))
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: the optimizer's)")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--scheduler", default="cosine", choices=["cosine", "step", "none"],
                   help="learning-rate schedule over the epochs (default: cosine annealing to 0)")
    t.add_argument("--augment", action="store_true",
                   help="random crops of the image padded by 2 pixels (and, except for digits, mirror images)")
    t.add_argument("--dropout", type=float, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="folder for checkpoints and logs (default runs/MODEL-DATASET)")
    t.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint")
    t.add_argument("--patience", type=int, default=0, help="early stopping patience in epochs (0: off)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model option, e.g. --set width=256")
    t.add_argument("--no-download", action="store_true", help="fail instead of fetching a missing data set")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    from .cli_seq import add_eval_arguments, add_sample_parser, add_train_arguments
    add_train_arguments(t)

    e = sub.add_parser("eval", help="evaluate a checkpoint on a data set's test split")
    e.add_argument("checkpoint")
    e.add_argument("--dataset")
    e.add_argument("--no-download", action="store_true")
    add_eval_arguments(e)

    add_sample_parser(sub)
    sub.add_parser("models", help="list the registered models")
    sub.add_parser("datasets", help="list the data sets, their sizes and whether they are present")

    x = sub.add_parser("experiment", help="run one of the notes' experiments")
    x.add_argument("name", nargs="?")
    x.add_argument("--list", action="store_true")
    x.add_argument("--out")
    x.add_argument("--quick", action="store_true", help="a small configuration (seconds)")

    b = sub.add_parser("bench", help="time nabla against PyTorch (benchmarks/)")
    b.add_argument("workloads", nargs="*")
    return p


def cmd_sample(args, echo=print):
    from .cli_seq import sample
    return sample(args, echo)


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "models": cmd_models, "datasets": cmd_datasets,
            "experiment": cmd_experiment, "bench": cmd_bench, "sample": cmd_sample}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["train"] + list(argv if argv is not None else sys.argv[1:]))
    try:
        result = COMMANDS[args.command](args)
    except UsageError as e:
        parser.error(str(e))  # exits with status 2 and the usage line
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a clean one-line error for the known failure kinds
        from .train import CheckpointError, TrainingDiverged
        from .data.datasets import DatasetNotFoundError, FetchError, ChecksumError
        if isinstance(e, (CheckpointError, TrainingDiverged, DatasetNotFoundError, FetchError, ChecksumError,
                          ValueError, KeyError)):
            print(f"nabla {args.command}: error: {e}", file=sys.stderr)
            return 1
        raise
    return 0 if result is None or result is not False else 1


if __name__ == "__main__":
    sys.exit(main())
