"""benchmarks/ddp.py's worker runs in one process, and the scaling model computes what its docstring says."""
import pytest

from benchmarks import ddp, ddp_model


def test_worker_one_process():
    row = ddp.worker("mlp", 4, "trainer", 1)
    assert row["processes"] == 1 and row["parameters"] == 669_706 and row["allreduce_s_per_step"] == 0.0
    assert row["samples_per_s"] == pytest.approx(4 / row["step_s"])


def test_ring_allreduce_cost():
    # 2 (N-1)/N * S / beta + k * 2 (N-1) * alpha: 4 nodes, 1 MB at 1 GB/s, 10 us, 2 buckets
    assert ddp_model.comm_time(4, 1e6, 1e9, 10e-6, buckets=2) == pytest.approx(1.5e-3 + 120e-6)
    assert ddp_model.comm_time(1, 1e9, 1.0, 1.0) == 0.0
    assert ddp_model.step_time(0.3, 0.1, overlap=True) == pytest.approx(0.3)       # hidden behind backward (0.2)
    assert ddp_model.step_time(0.3, 0.25, overlap=True) == pytest.approx(0.35)
    assert ddp_model.step_time(0.3, 0.25, overlap=False) == pytest.approx(0.55)
    # 0.3 s of compute hides 0.2 s: 2 (N-1)/N * 0.1 s of bandwidth never exceeds it; latency 0.01 s does at N = 11
    assert ddp_model.hides_until(0.3, 1e8, 1e9, 0.0, 1) == "> 1024"
    assert ddp_model.hides_until(0.3, 0.0, 1e9, 0.01, 1) == "11"


def test_models_and_table_from_results():
    results = {"runs": [{"workload": "resnet20", "processes": 1, "step_s": 0.5, "batch_per_process": 64,
                         "gradient_bytes": 1_000_000},
                        {"workload": "resnet20", "processes": 2, "step_s": 0.3, "batch_per_process": 32,
                         "gradient_bytes": 1_000_000}]}
    assert ddp_model.models_from(results)["resnet20"] == (0.335, 64, 1_000_000)   # the quiet reference's compute
    models = ddp_model.models_from(results, reference=None)
    assert models["resnet20"] == (0.5, 64, 1_000_000)
    compute, batch, nbytes = models["resnet50-sized (estimated)"]
    assert batch == 32 and nbytes == 25_557_032 * 4 and compute == pytest.approx(0.5 / 64 * 100 * 32)
    lines = ddp_model.table(models, "10 Gbit/s Ethernet (TCP)")
    assert lines[2].startswith("| model |") and len(lines) == 6


def test_a_run_never_overwrites_the_days_results(tmp_path):
    assert ddp.fresh_stem(tmp_path, "2026-12-08").name == "2026-12-08-ddp"
    (tmp_path / "2026-12-08-ddp.json").write_text("{}")
    assert ddp.fresh_stem(tmp_path, "2026-12-08").name == "2026-12-08-run2-ddp"
    (tmp_path / "2026-12-08-run3-ddp.json").write_text("{}")
    assert ddp.fresh_stem(tmp_path, "2026-12-08").name == "2026-12-08-run4-ddp"  # after the latest, sorted last
