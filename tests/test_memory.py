"""nabla.memory: keeping freed blocks in the process (glibc's mallopt), on by default, off by env var."""
import os
import subprocess
import sys

import numpy as np
import pytest

from nabla import memory


def _is_glibc():
    return memory._glibc() is not None


def test_on_by_default_where_glibc():
    assert memory.keeps_freed_memory() == _is_glibc()
    assert memory.keep_freed_memory() == _is_glibc()


def test_environment_variable_turns_it_off():
    env = dict(os.environ, NABLA_KEEP_FREED_MEMORY="0")
    code = "import nabla; print(nabla.memory.keeps_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_negative_threshold_is_an_error():
    with pytest.raises(ValueError, match="keep_freed_memory: trim_threshold"):
        memory.keep_freed_memory(-1)


def test_results_do_not_depend_on_it():
    """Allocation policy only: the same computation gives the same bits either way."""
    code = ("import numpy as np, nabla as nb; nb.manual_seed(0); x = nb.randn(300, 400, requires_grad=True); "
            "y = (x @ x.T).relu().sum(); y.backward(); print(float(y.item()), float(np.abs(x.grad.data).sum()))")
    outs = []
    for flag in ("0", "1"):
        env = dict(os.environ, NABLA_KEEP_FREED_MEMORY=flag)
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True).stdout)
    assert outs[0] == outs[1] and np.isfinite(float(outs[0].split()[0]))
