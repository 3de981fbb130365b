"""nabla.memory: keeping freed blocks in the process (glibc's mallopt): opt-in, never done by ``import nabla``;
the ``nabla`` command and the benchmarks' worker opt in through ``apply_environment`` (off by env var)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from nabla import memory


def _is_glibc():
    return memory._glibc() is not None


def _run(code, **env):
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


# how many blocks glibc serves with mmap while a 20 MiB array is alive: 1 with glibc's defaults (threshold
# at most 32 MiB, set by frees of earlier mmapped blocks), 0 once keep_freed_memory() raised the threshold
_MMAPPED = """
import ctypes, numpy as np
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6"); libc.mallinfo2.restype = Info
def mmapped():
    before = libc.mallinfo2().hblks
    a = np.ones(20 << 20, np.uint8)
    n = libc.mallinfo2().hblks - before
    del a
    return n
"""


def test_import_leaves_the_allocator_alone():
    env = {"NABLA_KEEP_FREED_MEMORY": "1"}
    assert _run("import nabla; print(nabla.memory.keeps_freed_memory())", **env) == ["False"]
    if not _is_glibc() or not hasattr(memory._glibc(), "mallinfo2"):
        pytest.skip("mallinfo2 needs glibc >= 2.33")
    code = _MMAPPED + ("import nabla; print(mmapped()); nabla.memory.keep_freed_memory(); "
                       "print(mmapped(), nabla.memory.keeps_freed_memory())")
    assert _run(code, **env) == ["1", "0", "True"]


def test_keep_freed_memory_turns_it_on_where_glibc():
    code = "import nabla; print(nabla.memory.keep_freed_memory(), nabla.memory.keeps_freed_memory())"
    assert _run(code) == [str(_is_glibc())] * 2


def test_apply_environment_follows_the_variable():
    code = "import nabla; print(nabla.memory.apply_environment(), nabla.memory.keeps_freed_memory())"
    assert _run(code, NABLA_KEEP_FREED_MEMORY="0") == ["False", "False"]
    assert _run(code, NABLA_KEEP_FREED_MEMORY="off") == ["False", "False"]
    assert _run(code, NABLA_KEEP_FREED_MEMORY="1") == [str(_is_glibc())] * 2


def test_negative_threshold_is_an_error():
    with pytest.raises(ValueError, match="keep_freed_memory: trim_threshold"):
        memory.keep_freed_memory(-1)


def test_results_do_not_depend_on_it():
    """Allocation policy only: the same computation gives the same bits either way."""
    code = ("import numpy as np, nabla as nb; nb.memory.apply_environment(); nb.manual_seed(0); x = nb.randn(300, 400, requires_grad=True); "
            "y = (x @ x.T).relu().sum(); y.backward(); print(float(y.item()), float(np.abs(x.grad.data).sum()))")
    outs = []
    for flag in ("0", "1"):
        env = dict(os.environ, NABLA_KEEP_FREED_MEMORY=flag)
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True).stdout)
    assert outs[0] == outs[1] and np.isfinite(float(outs[0].split()[0]))
