"""``nabla train [MODEL]``: train a registered model on a registered data set (see ``nabla.train.run``).

Under ``mpiexec -n N`` (or with ``--nproc N``) the run is data-parallel (``nabla.distributed.training``).
"""
from __future__ import annotations

# flag -> (training setting, argparse type, help); every one defaults to None: "not given", so the model's
# training defaults apply and a resumed run can tell a contradiction from an omission
SETTING_FLAGS = {
    "epochs": (float, "passes over the training data (default: the model's)"),
    "batch-size": (int, "samples per step (default: the model's)"),
    "optimizer": (str, "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw (default: the model's)"),
    "lr": (float, "learning rate (default: the model's, else the optimizer's)"),
    "weight-decay": (float, "L2 weight decay"),
    "l1": (float, "L1 penalty lambda: lambda * sign(w) added to each weight's gradient (matrices and kernels; "
                  "biases and norm parameters are not penalised)"),
    "scheduler": (str, "cosine, step, none or warmup-cosine (default: the model's task's)"),
    "seed": (int, "random seed (default 0)"),
    "patience": (int, "early-stopping patience in evaluations (0: off)"),
    "max-steps": (int, "stop after this many optimizer steps"),
    "time-budget": (float, "stop after this many seconds of training (evaluation excluded)"),
    "budget-clock": (str, "what --time-budget counts: wall or cpu"),
    "clip": (float, "gradient-norm clipping threshold (0: off)"),
    "warmup": (int, "learning-rate warm-up steps (warmup-cosine schedule)"),
    "eval-every": (int, "steps between evaluations (default: each epoch)"),
    "eval-tokens": (int, "validation tokens scored during training (language models)"),
    "eval-size": (int, "validation pairs decoded during training (seq2seq; --eval-limit: the final evaluation)"),
    "seq-len": (int, "tokens per training window (language models)"),
    "train-scenes": (int, "detection, segmentation: a fixed training set of this many scenes (0: fresh scenes "
                          "each epoch)"),
    "dice-weight": (float, "segmentation: weight of the soft Dice loss added to the cross-entropy (0: off)"),
}


def add_sampling_arguments(g, num_samples: int = 2) -> None:
    g.add_argument("--prompt", default="In the beginning", help="text a language model's samples start from")
    g.add_argument("--temperature", type=float, default=0.8,
                   help="divides the logits before sampling: below 1 surer, above 1 more varied")
    g.add_argument("--top-k", type=int, default=10, help="sample among the k likeliest tokens (0: all)")
    g.add_argument("--length", type=int, default=300, help="tokens to sample")
    g.add_argument("--num-samples", type=int, default=num_samples)


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model on a data set (default: the registry's default model)")
    t.add_argument("model", nargs="?", help="a registered model (see `nabla models`); with --resume: "
                   "taken from the checkpoint")
    t.add_argument("--dataset", help="a registered data set (see `nabla datasets`); default: the model's")
    for flag, (kind, help_text) in SETTING_FLAGS.items():
        t.add_argument(f"--{flag}", type=kind, default=None, help=help_text)
    t.add_argument("--augment", action="store_true", default=None,
                   help="random crops of the image padded by 2 pixels (and mirror images where labels allow); "
                        "detection, segmentation: random shifts by up to 4 pixels, boxes and masks moved with the pixels")
    t.add_argument("--sync-bn", action="store_true", default=None,
                   help="with several processes: batch norm statistics over every process's batch (nn.SyncBatchNorm)")
    t.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="train data-parallel on N processes: starts mpiexec -n N (pip install \"nabla[mpi]\"); "
                        "--batch-size stays the batch of each process")
    t.add_argument("--bucket-cap-mb", type=float, default=25.0, metavar="MB",
                   help="with several processes: gradients are averaged in buckets of about this size (default 25)")
    t.add_argument("--dropout", default=None, help="the model's dropout option (same as --set dropout=P)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model option, e.g. --set width=256")
    t.add_argument("--out", help="run folder (default: a fresh runs/MODEL-DATASET[-N])")
    t.add_argument("--resume", metavar="CKPT", help="continue the run a checkpoint records (nothing else needed)")
    t.add_argument("--overwrite", action="store_true", help="replace the run an existing --out holds")
    t.add_argument("--no-download", action="store_true", help="fail instead of fetching a missing data set")
    t.add_argument("--quiet", action="store_true", help="no progress bars (the line per evaluation stays)")
    t.add_argument("--tensorboard", nargs="?", const="", default=None, metavar="DIR",
                   help="TensorBoard logs (loss, metrics, lr, samples/s, weight and gradient histograms, the run's "
                        "settings) in DIR (default: the run folder's tensorboard/); pip install \"nabla[tensorboard]\"")
    t.add_argument("--beam-size", type=int, default=1, help="beam width for the final seq2seq evaluation")
    t.add_argument("--eval-limit", type=int, default=None,
                   help="final evaluation on the first N validation / test tokens, pairs or images (default: all)")
    add_sampling_arguments(t.add_argument_group("samples printed after training a language model"))


def _options(args) -> dict:
    from .common import UsageError
    options = {}
    for pair in args.set or []:
        if "=" not in pair:
            raise UsageError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        options[key.strip()] = value
    if args.dropout is not None:
        options["dropout"] = args.dropout
    return options


def _tensorboard(args) -> tuple:
    """``--tensorboard [DIR]``: the logger's factory for the run layer (which cannot import nabla.utils), made
    after checking tensorboardX is installed, so a missing extra fails in one line before any work."""
    folder = getattr(args, "tensorboard", None)
    if folder is None:
        return ()
    import os

    from ..utils.tensorboard import TensorBoardLogger, require_tensorboardx
    require_tensorboardx()
    return (lambda run_folder: TensorBoardLogger(folder or os.path.join(run_folder, "tensorboard")),)


def request_from(args):
    """The flags as a ``Request``: given settings checked one by one, naming the flag."""
    from ..train.run import Request
    from .common import check_counts, check_flag, check_out_folder
    settings = {}
    for flag in SETTING_FLAGS:
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            settings[flag.replace("-", "_")] = check_flag(flag, flag.replace("-", "_"), value)
    if args.augment:
        settings["augment"] = True
    if args.sync_bn:
        settings["sync_bn"] = True
    check_counts(args, positive=("beam_size", "length", "num_samples", "eval_limit"),
                 non_negative=("temperature", "top_k"))
    if args.out is not None and not args.resume:  # before any work: a folder that cannot be written
        check_out_folder(args.out)
    sampling = {k: getattr(args, k) for k in ("prompt", "temperature", "top_k", "length", "num_samples")}
    return Request(model=args.model, dataset=args.dataset, options=_options(args), settings=settings,
                   out=args.out, resume=args.resume, overwrite=args.overwrite, download=not args.no_download,
                   progress=not args.quiet, eval_limit=args.eval_limit, beam_size=args.beam_size, sampling=sampling,
                   callback_factories=_tensorboard(args), command=command_line(args))


def command_line(args) -> str | None:
    """The command as typed, to keep in the run folder: ``nabla train ...``, under ``mpiexec -n N`` when this
    process is one of N that mpiexec started (``--nproc N`` says it already); None for parsed arguments that
    did not come from a command line."""
    import shlex
    from .. import comm
    if getattr(args, "argv", None) is None:
        return None
    line = shlex.join(["nabla", *args.argv])
    launched = comm.launched_size()
    return f"mpiexec -n {launched} {line}" if launched > 1 and args.nproc is None else line


def _report(e, quiet=False) -> int:
    from .common import _exit_code, report_error
    if quiet:
        return getattr(e, "exit_code", None) or _exit_code(e)
    code = report_error("train", e)
    return getattr(e, "exit_code", None) or code


def _processes(args) -> int:
    """How many processes this command trains on: mpiexec's count, or --nproc N (then 0: start them)."""
    from .. import comm
    from .common import UsageError, check_counts
    launched, nproc = comm.launched_size(), args.nproc
    check_counts(args, positive=("nproc", "bucket_cap_mb"))
    if nproc is not None and launched > 1 and nproc != launched:
        raise UsageError(f"--nproc {nproc}: this process is one of {launched} started by mpiexec; leave --nproc out")
    return 0 if nproc is not None and nproc > 1 and launched == 1 else launched


def run(args, echo=print):
    from ..train import run as runs
    processes = _processes(args)
    if processes == 0:  # --nproc N: the same command again, as N MPI processes
        from ..distributed.launcher import launch
        code = launch(args.nproc, args.argv)
        if code:
            raise SystemExit(code)
        return {}
    request = request_from(args)
    if processes > 1:
        from ..distributed.training import train
        return train(request, echo, report=_report, bucket_cap_mb=args.bucket_cap_mb)
    return runs.train(request, echo=echo)
