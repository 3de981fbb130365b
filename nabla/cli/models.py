"""``nabla models``: the registered models, their task, options (type and default) and training defaults."""
from __future__ import annotations


def add_parser(sub) -> None:
    m = sub.add_parser("models", help="list the registered models")
    m.add_argument("--verbose", "-v", action="store_true", help="also each model's training defaults")


def _options(entry) -> str:
    parts = []
    for k, o in entry.option_specs.items():
        allowed = f" in {{{', '.join(map(str, o.choices))}}}" if o.choices else ""
        parts.append(f"{k}={o.default} ({o.type_name()}{allowed})")
    return ", ".join(parts)


def run(args, echo=print):
    from ..models import default_model_name, get_model_entry, model_names
    default = default_model_name()
    for name in model_names():
        e = get_model_entry(name)
        mark = " (default)" if name == default else ""
        opts = _options(e)
        echo(f"{name + mark:24s} [{e.task}, data set {e.default_dataset}] {e.description}"
             + (f"\n{'':24s} options: {opts}" if opts else ""))
        if args.verbose and e.training:
            echo(f"{'':24s} training: {', '.join(f'{k}={v}' for k, v in e.training.items())}")
