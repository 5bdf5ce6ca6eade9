"""The benchmark harness runs end to end in quick mode and reports every section.

No speed is asserted: CI machines are shared and slow; BENCHMARKS.md holds the numbers.
"""

import json

import pytest

from tests.conftest import ROOT, data_dir, run_cli


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.skipif(data_dir() is None, reason="set DATA_DIR to the IDX files")
def test_quick_benchmark_reports_pairs_flops_tracking_and_startup(tmp_path):
    out = tmp_path / "report.json"
    result = run_cli("benchmarks.bench", "--quick", "--out", str(out), cwd=ROOT, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| **median** |" in result.stdout
    rep = json.loads(out.read_text())

    (pair,) = rep["pairs"]
    for side in ("a", "b"):
        numbers = pair[side]
        assert numbers["samples_per_s"] > 0 and numbers["seconds_per_epoch"] > 0
        assert 0.1 <= numbers["test_accuracy"] <= 1.0
        assert numbers["peak_rss_mb"] > 50 and numbers["start_to_first_step_s"] > 0
        assert rep["median"][side]["fraction_of_peak"] > 0
    assert rep["median"]["ratio"] > 0
    assert set(rep["accuracy"]) == {"gap_pt", "max_pair_gap_pt", "tolerance_pt", "agrees"}

    assert rep["flops"]["forward_per_sample"] == 5_056_000  # conv1, conv2, dense, dense
    assert rep["flops"]["train_per_sample"] == 3 * 5_056_000 - 389_376  # no conv1 input grad
    assert rep["flops"]["sgemm_peak_gflops"] > 0

    tracking = rep["tracking"]
    assert tracking["fit_seconds_on"] > 0 and tracking["logging_inside_fit_s"] >= 0
    assert 0 <= tracking["system_metrics_cpu_pct_of_fit"] < 100
    assert tracking["model_log_seconds"] > 0 and tracking["model_size_mb"] > 0.1
    assert {"train_help_s", "train_config_error_s", "a_to_first_step_s",
            "tracked_to_first_step_s"} <= set(rep["startup"])
    assert rep["trainer"]["steps_per_execution"] >= 1


@pytest.mark.slow
@pytest.mark.skipif(data_dir() is None, reason="set DATA_DIR to the IDX files")
def test_quick_sweep_benchmark_times_both_sides_and_every_job(tmp_path):
    out = tmp_path / "sweep.json"
    result = run_cli("benchmarks.sweep", "--quick", "--out", str(out), cwd=ROOT, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| **median** |" in result.stdout
    rep = json.loads(out.read_text())

    (pair,) = rep["pairs"]
    assert pair["speedup"] == pytest.approx(pair["b"]["wall_s"] / pair["a"]["wall_s"])
    assert int(pair["a"]["workers"]) >= 1
    for side in ("a", "b"):
        assert set(pair[side]["jobs"]) == {"none", "dropout", "batchnorm"}
        for job in pair[side]["jobs"].values():
            assert job["startup_s"] > 0 and job["run_s"] > 0
            assert 0.1 <= job["test_accuracy"] <= 1.0
    # B's job time is its whole process, start-up included. A's is its MLflow run, which opens
    # after the imports start-up counts: on a loaded machine the start-up can be the longer.
    assert all(job["startup_s"] < job["run_s"] for job in pair["b"]["jobs"].values())
    assert all(job["finish_s"] > 0 for job in pair["a"]["jobs"].values())


@pytest.mark.slow
def test_the_batchnorm_benchmark_times_keras_layer_against_the_fused_kernel(tmp_path):
    out = tmp_path / "batchnorm.json"
    result = run_cli("benchmarks.batchnorm", "--quick", "--out", str(out), cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| **fused / Keras** |" in result.stdout
    rep = json.loads(out.read_text())
    assert rep["kernels"] == {"keras": "keras", "fused": "FusedBatchNormV3"}
    assert rep["ratio_per_cpu_s"] == pytest.approx(
        rep["fused"]["per_cpu_s"] / rep["keras"]["per_cpu_s"])
    assert all(rep[mode]["per_s"] > 0 for mode in ("keras", "fused"))
