"""``nabla convert IN.pt OUT.safetensors``: a PyTorch state dict as a safetensors file nabla (and PyTorch) read.

The ``.pt`` file is read by ``torch.load(path, map_location="cpu", weights_only=True)`` -- PyTorch's own
unpickler restricted to tensors and plain containers, so loading runs no code from the file -- and its
tensors are written with nabla's atomic safetensors writer (``nabla.save``), keys unchanged, so
``model.load_state_dict(nabla.load(OUT))`` loads it and so does ``safetensors.torch.load_file(OUT)``.
torch is needed for this command only (the optional extra ``nabla[torch]``) and is imported here alone.
"""
from __future__ import annotations

MISSING_TORCH = 'nabla convert needs torch: pip install "nabla[torch]"'
WRAPPERS = ("state_dict", "model")  # checkpoints that hold the state dict under one of these keys


def add_parser(sub) -> None:
    c = sub.add_parser("convert", help="convert a PyTorch .pt state dict to safetensors (needs nabla[torch])")
    c.add_argument("input", help="a .pt/.pth file holding a state dict (or a checkpoint dict with one)")
    c.add_argument("output", help="the .safetensors file to write")


def _import_torch():
    try:
        import torch
    except ImportError:  # also where sys.modules["torch"] is None
        raise ImportError(MISSING_TORCH) from None
    return torch


def _state_dict(obj, torch, path):
    """The state dict inside what ``torch.load`` gave: the object itself, or its "state_dict"/"model"."""
    if isinstance(obj, dict):
        for key in WRAPPERS:
            inner = obj.get(key)
            if isinstance(inner, dict) and any(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
        if any(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise ValueError(f"{path!r} holds a {type(obj).__name__} that is not a state dict (expected a dict of "
                     f"tensors, or a checkpoint dict with one under {' or '.join(map(repr, WRAPPERS))})")


def convert(src, dst, echo=print) -> dict:
    """Write the state dict of the PyTorch file ``src`` to the safetensors file ``dst``; returns
    {name: NumPy array} as written.  bfloat16 (which NumPy lacks) is widened to float32, with a note."""
    import os

    from ..serialization import save
    torch = _import_torch()
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src!r} does not exist")
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch's unpickler refuses many ways; one line says which
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"{src!r} is not a PyTorch weights file that loads with weights_only=True "
                         f"({type(e).__name__}: {first})") from None
    arrays, skipped, widened = {}, [], []
    for name, value in _state_dict(obj, torch, src).items():
        if not isinstance(value, torch.Tensor):
            skipped.append(str(name))
            continue
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
            widened.append(str(name))
        arrays[str(name)] = value.contiguous().numpy()
    if skipped:
        echo(f"skipped {len(skipped)} non-tensor entr{'y' if len(skipped) == 1 else 'ies'}: {', '.join(skipped)}")
    if widened:
        echo(f"widened {len(widened)} bfloat16 tensor(s) to float32 (NumPy has no bfloat16)")
    save(arrays, dst)
    return arrays


def run(args, echo=print):
    arrays = convert(args.input, args.output, echo=echo)
    count = sum(a.size for a in arrays.values())
    echo(f"wrote {args.output}: {len(arrays)} tensors, {count:,} values")
    return True
