"""Benchmark harness: this project's trainer (A) against the notebook's plain Keras (B).

    python -m benchmarks.bench            # 3 interleaved A/B pairs, 3 epochs on 50,000 images
    python -m benchmarks.bench --quick    # CI: 1 pair, 2 epochs on 2,000 images
    python -m benchmarks.bench --backend jax --batch-size 1024   # a GPU host with JAX

Every run is a fresh subprocess (so XLA and thread settings cannot leak) and the pairs are
interleaved A, B, A, B ... so a busy machine slows both sides alike: read the ratios. The
first epoch (tracing, compilation, warm-up) is reported apart and left out of samples/s.
Writes a JSON report (--out) and prints the same numbers as Markdown tables.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import flops, report, server

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = str(ROOT.parent / "shared" / "data")
ACCURACY_TOLERANCE_PT = 0.2


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 pair, 2 epochs on 2,000 images")
    parser.add_argument("--pairs", type=int, help="A/B pairs (default 3; quick 1)")
    parser.add_argument("--epochs", type=int, help="epochs per run, >= 2 (default 3; quick 2)")
    parser.add_argument("--train-limit", type=int, help="training images (default all 50,000)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow")
    parser.add_argument("--a-set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override for side A, e.g. trainer.steps_per_execution=1")
    parser.add_argument("--a-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment variable for side A only")
    parser.add_argument("--no-tracking", action="store_true", help="skip the MLflow overhead runs")
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR") or DEFAULT_DATA)
    parser.add_argument("--out", type=Path, help="JSON report (default: outputs/benchmarks/)")
    args = parser.parse_args(argv)
    args.pairs = args.pairs or (1 if args.quick else 3)
    args.epochs = args.epochs or (2 if args.quick else 3)
    args.train_limit = args.train_limit or (2000 if args.quick else None)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: the first epoch is warm-up and is reported apart")
    if not (Path(args.data_dir) / "mnist").is_dir():
        parser.error(f"--data-dir {args.data_dir} holds no mnist/ folder; set DATA_DIR")
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    args.out = args.out or ROOT / "outputs" / "benchmarks" / f"{stamp}.json"
    return args


def child_env(args, extra: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(PYTHONPATH=str(ROOT), KERAS_BACKEND=args.backend, TF_CPP_MIN_LOG_LEVEL="2",
               DATA_DIR=str(Path(args.data_dir).resolve()))
    env.update(item.split("=", 1) for item in extra)
    return env


def run_child(cmd: list[str], env: dict[str, str], workdir: Path, name: str) -> dict:
    """Run one side in a fresh process; its result file plus the kernel's rusage of the child."""
    result, log = workdir / f"{name}.json", workdir / f"{name}.log"
    env = {**env, "BENCH_T0": repr(time.monotonic())}
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *cmd, "--result", str(result)],
                                cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0 or not result.exists():
        tail = log.read_text()[-3000:]
        code = os.waitstatus_to_exitcode(status)
        raise RuntimeError(f"{name} failed (exit {code}); full log {log}, its end:\n{tail}")
    data = json.loads(result.read_text())
    data.update(process_seconds=wall, peak_rss_mb=usage.ru_maxrss / 1024,
                cpu_seconds=usage.ru_utime + usage.ru_stime)
    return data


def steady(run: dict) -> dict:
    """Per-run numbers over the epochs after the first; first-epoch time reported apart."""
    train_s = statistics.median(run["train_seconds"][1:])
    return {
        "samples_per_s": run["n_train"] / train_s,
        "samples_per_cpu_s": run["n_train"] / statistics.median(run["train_cpu_seconds"][1:]),
        "train_seconds_per_epoch": train_s,
        "seconds_per_epoch": statistics.median(run["epoch_seconds"][1:]),
        "first_epoch_seconds": run["epoch_seconds"][0],
        "test_accuracy": run.get("test_accuracy"),
        "peak_rss_mb": run["peak_rss_mb"],
        "cpu_seconds": run["cpu_seconds"],
        "start_to_first_step_s": run["start_to_first_step_s"],
    }


def timed_command(cmd: list[str], env: dict[str, str], repeats: int) -> float:
    """Median wall time of a short command (start-up cost of the CLI)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> dict:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env_a, env_b = child_env(args, args.a_env), child_env(args, [])
    common = [f"trainer.epochs={args.epochs}", f"trainer.batch_size={args.batch_size}"]
    if args.train_limit:
        common.append(f"dataset.train_limit={args.train_limit}")
    b_cmd = [str(ROOT / "benchmarks" / "baseline_notebook.py"), "--data-dir", str(args.data_dir),
             "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    if args.train_limit:
        b_cmd += ["--train-limit", str(args.train_limit)]

    rep = {"machine": report.machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    rep["machine"]["load_before"] = os.getloadavg()
    peaks = [flops.sgemm_gflops()]
    pairs, tracked = [], []
    mlflow = None if args.no_tracking else server.start(workdir, child_env(args, []))
    try:
        for i in range(args.pairs):
            a_cmd = ["-m", "benchmarks.project_run", *common, f"seed={i}", *args.a_set]
            a = run_child(a_cmd, env_a, workdir, f"a{i}")
            b = run_child([*b_cmd, "--seed", str(i)], env_b, workdir, f"b{i}")
            pairs.append({"seed": i, "a": a, "b": b})
            print(report.pair_line(i, steady(a), steady(b)), flush=True)
            if mlflow:
                t_cmd = [*a_cmd[:2], "--tracking-uri", mlflow.uri, *a_cmd[2:]]
                tracked.append(run_child(t_cmd, env_a, workdir, f"t{i}"))
    finally:
        if mlflow:
            server.stop(mlflow)
    peaks.append(flops.sgemm_gflops())
    rep["machine"]["load_after"] = os.getloadavg()
    rep["startup"] = startup(args, env_a, pairs, tracked)
    rep.update(summarise(pairs, tracked, max(peaks), peaks))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rep, indent=1, default=str))
    print(report.markdown(rep))
    print(f"\nreport: {args.out}")
    shutil.rmtree(workdir)  # child logs and the MLflow store; kept when a run fails
    return rep


def startup(args, env: dict[str, str], pairs: list[dict], tracked: list[dict]) -> dict:
    repeats = 1 if args.quick else 3
    med = statistics.median
    cli = ["-m", "src.train"]
    out = {
        "train_help_s": timed_command([*cli, "--help"], env, repeats),
        "train_config_error_s": timed_command([*cli, "trainer.epochs=0"], env, repeats),
        "import_keras_s": timed_command(["-c", "import keras, keras.layers"], env, repeats),
    }
    for side in ("a", "b"):
        for key in ("start_to_first_step_s", "start_to_first_step_done_s"):
            out[f"{side}_{key.removeprefix('start_')}"] = med(p[side][key] for p in pairs)
    marks = pairs[0]["a"]["startup_marks"]
    out["a_marks_s"] = {k: med(p["a"]["startup_marks"][k] for p in pairs) for k in marks}
    if tracked:
        out["tracked_to_first_step_s"] = med(t["start_to_first_step_s"] for t in tracked)
    return out


def summarise(pairs: list[dict], tracked: list[dict], peak: float, peaks: list[float]) -> dict:
    med = statistics.median
    rows = []
    for p in pairs:
        a, b = steady(p["a"]), steady(p["b"])
        rows.append({
            "seed": p["seed"], "a": a, "b": b,
            "ratio": a["samples_per_s"] / b["samples_per_s"],
            "cpu_ratio": a["samples_per_cpu_s"] / b["samples_per_cpu_s"],
            "accuracy_gap_pt": 100 * abs(a["test_accuracy"] - b["test_accuracy"]),
        })
    flop = pairs[0]["a"]["train_flops"]

    def side(key: str) -> dict:
        cols = {k: med(r[key][k] for r in rows) for k, v in rows[0][key].items() if v is not None}
        cols["gflops"] = cols["samples_per_s"] * flop / 1e9
        cols["fraction_of_peak"] = cols["gflops"] / peak
        return cols

    a_med, b_med = side("a"), side("b")
    # Mean, not median: a median of a few accuracies jumps between runs by whole seeds' noise.
    mean_gap = statistics.mean(r["a"]["test_accuracy"] - r["b"]["test_accuracy"] for r in rows)
    out = {
        "pairs": rows,
        "median": {"a": a_med, "b": b_med, "ratio": med(r["ratio"] for r in rows),
                   "cpu_ratio": med(r["cpu_ratio"] for r in rows)},
        "accuracy": {
            "gap_pt": 100 * abs(mean_gap),  # mean over the pairs of A's minus B's test accuracy
            "max_pair_gap_pt": max(r["accuracy_gap_pt"] for r in rows),
            "tolerance_pt": ACCURACY_TOLERANCE_PT,
        },
        "flops": {"forward_per_sample": sum(pairs[0]["a"]["forward_flops"].values()),
                  "forward_by_layer": pairs[0]["a"]["forward_flops"], "train_per_sample": flop,
                  "sgemm_peak_gflops": peak, "sgemm_runs_gflops": peaks},
        "trainer": pairs[0]["a"]["trainer"],
    }
    out["accuracy"]["agrees"] = out["accuracy"]["gap_pt"] <= ACCURACY_TOLERANCE_PT
    if tracked:
        fit_off = med(p["a"]["fit_seconds"] for p in pairs)
        fit_on = med(t["fit_seconds"] for t in tracked)
        in_fit = med(sum(whole - logged for whole, logged
                         in zip(t["epoch_seconds"], t["logged_epoch_seconds"], strict=True))
                     for t in tracked)
        out["tracking"] = {
            "fit_seconds_off": fit_off, "fit_seconds_on": fit_on,
            "fit_overhead_pct": 100 * (fit_on - fit_off) / fit_off,
            "logging_inside_fit_s": in_fit, "logging_inside_fit_pct": 100 * in_fit / fit_on,
            "model_log_seconds": med(t["model_log_seconds"] for t in tracked),
            "model_size_mb": med(t["model_size_mb"] for t in tracked),
            "system_metrics_cpu_pct_of_fit": med(
                100 * (t["monitor_cpu_seconds"] or 0) / t["fit_seconds"] for t in tracked),
            "process_seconds_off": med(p["a"]["process_seconds"] for p in pairs),
            "process_seconds_on": med(t["process_seconds"] for t in tracked),
        }
    return out


if __name__ == "__main__":
    main()
