"""torchvision as an oracle beside the CPU build of torch.

The registry's torchvision wheels (0.28.0 matches torch==2.13.0) are CUDA builds: their compiled ops
(torchvision/_C.so: nms, roi_align, roi_pool, ...) do not load beside the CPU build of torch, and
``import torchvision`` then fails with "operator torchvision::nms does not exist", because its fake-tensor
registrations name ``torchvision::nms`` and ``torchvision::qnms``.  Defining those two operators' schemas
with torch.library before the import lets it succeed.  What then works is the pure-Python and pure-PyTorch
code: the box functions (torchvision.ops.boxes, _box_convert), the batched-NMS offset trick around
whatever ``nms`` it is handed, and RoIAlign's own reference ``torchvision.ops.roi_align._roi_align``
(differentiable; reached through ``__wrapped__``, its plain form, since the public name compiles it with
torch.compile on first call).  The compiled kernels themselves (nms, roi_align, roi_pool) still raise
"Couldn't load custom C++ ops": tests check those against small references of the CPU kernels
(tests/conformance/test_vision.py).

Where the compiled ops do load (a torch and torchvision pair built for each other), nothing is defined and
torchvision is imported as it is.  ``import_torchvision()`` returns the module, or skips the test when
torch or torchvision is missing (the ``test`` extra installs both).
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

# the schemas torchvision's import refers to (torchvision/csrc/ops/nms.cpp, quantized/cpu/qnms_kernel.cpp)
_SCHEMAS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
            "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_library = None  # the torch.library.Library holding the schemas: it must outlive the import


def _compiled_ops_load(torch, package: Path) -> bool:
    """Whether torchvision's own _C extension loads here (it then defines the operators itself)."""
    for lib in sorted(package.glob("_C*.so")) + sorted(package.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(lib))
            return True
        except (OSError, RuntimeError):
            return False
    return False


def _define_schemas(torch) -> None:
    global _library
    if _library is not None:
        return
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        _library.define(schema)


def import_torchvision():
    """torchvision, importable beside a CPU torch whatever its build; pytest.skip where either is missing."""
    torch = pytest.importorskip("torch", reason="torch is the oracle for conformance tests (pip install .[test])")
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        pytest.skip("torchvision is not installed (pip install .[test] installs torchvision==0.28.0)",
                    allow_module_level=True)
    try:
        torch.ops.torchvision.nms  # noqa: B018 - defined already: by its extension or by an earlier call
    except (AttributeError, RuntimeError):
        if not _compiled_ops_load(torch, Path(spec.origin).parent):
            _define_schemas(torch)
    return importlib.import_module("torchvision")


def roi_align_reference():
    """torchvision.ops.roi_align._roi_align, uncompiled: torchvision's pure-PyTorch RoIAlign (differentiable)."""
    import_torchvision()
    fn = importlib.import_module("torchvision.ops.roi_align")._roi_align
    return getattr(fn, "__wrapped__", fn)
