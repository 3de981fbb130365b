"""One line per epoch as it ends (also under --quiet), and Ctrl-C says how to resume."""
import re
import signal
import threading
import time
from pathlib import Path

from .helpers import SMALL_MLP, assert_ok, epoch_lines, nabla, popen_nabla, show


def test_one_line_per_epoch_with_loss_metric_time_and_eta(tmp_path, mnist5k):
    res = assert_ok(nabla("train", *SMALL_MLP, "--epochs", "2", "--out", tmp_path / "run", cwd=tmp_path))
    lines = epoch_lines(res.stdout)
    assert len(lines) == 2, show(res)
    for n, line in enumerate(lines, 1):
        low = line.lower()
        assert re.match(rf"\s*epoch\s+{n}\b", low), line
        assert "loss" in low, f"no train loss in {line!r}"
        assert "val" in low, f"no validation metric in {line!r}"
        assert re.search(r"\d(\.\d+)?\s*(s|ms|min)\b", low), f"no epoch time in {line!r}"
        assert "eta" in low, f"no ETA in {line!r}"


def _reader(stream, sink):
    for line in stream:
        sink.append(line)


def test_ctrl_c_exits_130_and_prints_the_resume_command(tmp_path, mnist5k):
    proc = popen_nabla("train", *SMALL_MLP, "--epochs", "1000", "--out", tmp_path / "run", cwd=tmp_path)
    out, err = [], []
    threads = [threading.Thread(target=_reader, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=_reader, args=(proc.stderr, err), daemon=True)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 300
    try:
        while not epoch_lines("".join(out)):
            assert proc.poll() is None, f"exited {proc.returncode} before the first epoch line:\n{''.join(out + err)}"
            assert time.monotonic() < deadline, ("no epoch line within 300 s (is stdout flushed after each "
                                                 f"epoch?):\n{''.join(out + err)}")
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for t in threads:
        t.join(timeout=10)
    text = "".join(out) + "".join(err)
    assert code == 130, f"exit {code}:\n{text}"
    assert "Traceback" not in text, text
    m = re.search(r"nabla train --resume (\S+last\.safetensors)", text)
    assert m, f"no `nabla train --resume .../last.safetensors` in:\n{text}"
    assert Path(m.group(1)).is_file(), m.group(1)
