"""Sweep-level benchmark: the mission's sweep as a user runs it (A) against the notebook script
run once per variant, one after another (B).

    python -m benchmarks.sweep              # 2 interleaved A/B pairs, 10 epochs, full data
    python -m benchmarks.sweep --quick      # CI: 1 pair, 1 epoch on 2,000 images

A = `python -m src.train -m reg=none,dropout,batchnorm trainer.epochs=E`: the default launcher,
a fresh SQLite tracking store, every artifact. B = `benchmarks/baseline_notebook.py --reg R`
for R = none, dropout, batchnorm, three processes in a row. Same data, epochs and batch size;
whole processes, wall clock, pairs interleaved A, B, A, B so a busy machine slows both alike.
Per job: A's `startup_seconds` (job start to first training step) and `finish_seconds`
(evaluation and artifacts) as its MLflow runs recorded them; B's start to first step.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report
from benchmarks.bench import DEFAULT_DATA, ROOT

REGS = ("none", "dropout", "batchnorm")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 pair, 1 epoch on 2,000 images")
    parser.add_argument("--pairs", type=int, help="A/B pairs (default 2; quick 1)")
    parser.add_argument("--epochs", type=int, help="epochs per job (default 10; quick 1)")
    parser.add_argument("--train-limit", type=int, help="training images (default all 50,000)")
    parser.add_argument("--a-set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override for side A, e.g. hydra.launcher.workers=1")
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR") or DEFAULT_DATA)
    parser.add_argument("--out", type=Path, help="JSON report (default: outputs/benchmarks/)")
    args = parser.parse_args(argv)
    args.pairs = args.pairs or (1 if args.quick else 2)
    args.epochs = args.epochs or (1 if args.quick else 10)
    args.train_limit = args.train_limit or (2000 if args.quick else None)
    if not (Path(args.data_dir) / "mnist").is_dir():
        parser.error(f"--data-dir {args.data_dir} holds no mnist/ folder; set DATA_DIR")
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    args.out = args.out or ROOT / "outputs" / "benchmarks" / f"sweep-{stamp}.json"
    return args


def run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict:
    """A whole process: its wall time and CPU time (its children's included)."""
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed; its log, {log}:\n{log.read_text()[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}


def project_sweep(args, workdir: Path, env: dict[str, str], name: str) -> dict:
    """Side A, and what its runs recorded about each job."""
    from mlflow import MlflowClient

    folder = workdir / name
    folder.mkdir()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    cmd = [sys.executable, "-m", "src.train", "-m", f"reg={','.join(REGS)}",
           f"trainer.epochs={args.epochs}", *common_overrides(args), *args.a_set]
    side = run(cmd, folder, {**env, "MLFLOW_TRACKING_URI": uri}, folder / "sweep.log")
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("mnist-cnn").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    side["workers"] = parent.data.tags.get("sweep.workers")
    side["jobs"] = {
        r.data.params["reg.name"]: {
            "run_s": (r.info.end_time - r.info.start_time) / 1000,
            "startup_s": r.data.metrics.get("startup_seconds"),
            "finish_s": r.data.metrics.get("finish_seconds"),
            "test_accuracy": r.data.metrics["test_accuracy"],
        } for r in runs if r is not parent}
    return side


def common_overrides(args) -> list[str]:
    return [f"dataset.train_limit={args.train_limit}"] if args.train_limit else []


def notebook_in_a_row(args, workdir: Path, env: dict[str, str], name: str) -> dict:
    """Side B: the notebook script once per variant, one process after another."""
    folder = workdir / name
    folder.mkdir()
    jobs, wall, cpu = {}, 0.0, 0.0
    for reg in REGS:
        result = folder / f"{reg}.json"
        cmd = [sys.executable, str(ROOT / "benchmarks" / "baseline_notebook.py"), "--reg", reg,
               "--data-dir", str(args.data_dir), "--epochs", str(args.epochs),
               "--result", str(result)]
        if args.train_limit:
            cmd += ["--train-limit", str(args.train_limit)]
        started = {**env, "BENCH_T0": repr(time.monotonic())}  # see benchmarks/probe.py
        process = run(cmd, folder, started, folder / f"{reg}.log")
        numbers = json.loads(result.read_text())
        wall, cpu = wall + process["wall_s"], cpu + process["cpu_s"]
        jobs[reg] = {"run_s": process["wall_s"], "startup_s": numbers["start_to_first_step_s"],
                     "test_accuracy": numbers["test_accuracy"]}
    return {"wall_s": wall, "cpu_s": cpu, "jobs": jobs}


def main(argv=None) -> dict:
    args = parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(PYTHONPATH=str(ROOT), DATA_DIR=str(Path(args.data_dir).resolve()))
    rep = {"machine": report.machine(), "args": {k: str(v) for k, v in vars(args).items()},
           "pairs": []}
    rep["machine"]["load_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        workdir = Path(tmp)
        for i in range(args.pairs):
            a = project_sweep(args, workdir, env, f"a{i}")
            b = notebook_in_a_row(args, workdir, env, f"b{i}")
            rep["pairs"].append({"a": a, "b": b, "speedup": b["wall_s"] / a["wall_s"]})
            print(f"pair {i}: sweep {a['wall_s']:.0f} s ({a['workers']} side by side), notebook "
                  f"x3 in a row {b['wall_s']:.0f} s: {b['wall_s'] / a['wall_s']:.2f}x", flush=True)
    rep["machine"]["load_after"] = os.getloadavg()
    rep["median_speedup"] = statistics.median(p["speedup"] for p in rep["pairs"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rep, indent=1))
    print(markdown(rep))
    print(f"\nreport: {args.out}")
    return rep


def markdown(rep: dict) -> str:
    lines = ["| pair | sweep (A) s | notebook x3 (B) s | B / A | A CPU s | B CPU s |",
             "|---|---|---|---|---|---|"]
    for i, p in enumerate(rep["pairs"]):
        a, b = p["a"], p["b"]
        lines.append(f"| {i} | {a['wall_s']:.0f} | {b['wall_s']:.0f} | {p['speedup']:.2f} "
                     f"| {a['cpu_s']:.0f} | {b['cpu_s']:.0f} |")
    lines.append(f"| **median** | | | **{rep['median_speedup']:.2f}** | | |")
    lines += ["", "| pair | job | A run s | A start-up s | A end of run s | A acc "
                  "| B process s | B start-up s | B acc |", "|---" * 9 + "|"]
    for i, p in enumerate(rep["pairs"]):
        for reg in REGS:
            a, b = p["a"]["jobs"][reg], p["b"]["jobs"][reg]
            lines.append(f"| {i} | {reg} | {a['run_s']:.0f} | {a['startup_s']:.1f} "
                         f"| {a['finish_s']:.1f} | {a['test_accuracy']:.4f} | {b['run_s']:.0f} "
                         f"| {b['startup_s']:.1f} | {b['test_accuracy']:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
