"""The machine description and the Markdown tables the harness prints."""

import os
import platform
import subprocess


def machine() -> dict:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    return {
        "cpu": fields.get("Model name", platform.processor()).strip(),
        "cores": os.cpu_count(),
        "isa": [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f in flags],
        "python": platform.python_version(),
    }


def pair_line(i: int, a: dict, b: dict) -> str:
    return (
        f"pair {i}: A {a['samples_per_s']:.0f}/s ({a['seconds_per_epoch']:.1f} s/epoch, "
        f"acc {a['test_accuracy']:.4f})  B {b['samples_per_s']:.0f}/s "
        f"({b['seconds_per_epoch']:.1f} s/epoch, acc {b['test_accuracy']:.4f})  "
        f"A/B {a['samples_per_s'] / b['samples_per_s']:.2f} "
        f"(per CPU-s {a['samples_per_cpu_s'] / b['samples_per_cpu_s']:.2f})"
    )


def _row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def pairs_table(rep: dict) -> list[str]:
    lines = [
        _row("pair", "A samples/s", "B samples/s", "A/B", "A/B per CPU-s",
             "A s/epoch", "B s/epoch", "A acc", "B acc"),
        "|---" * 9 + "|",
    ]
    med = rep["median"]
    rows = [(r["seed"], r["a"], r["b"], r["ratio"], r["cpu_ratio"]) for r in rep["pairs"]]
    rows.append(("**median**", med["a"], med["b"], med["ratio"], med["cpu_ratio"]))
    for name, a, b, ratio, cpu_ratio in rows:
        lines.append(_row(
            name, f"{a['samples_per_s']:.0f}", f"{b['samples_per_s']:.0f}", f"{ratio:.2f}",
            f"{cpu_ratio:.2f}", f"{a['seconds_per_epoch']:.2f}", f"{b['seconds_per_epoch']:.2f}",
            f"{a['test_accuracy']:.4f}", f"{b['test_accuracy']:.4f}",
        ))
    return lines


def sides_table(rep: dict) -> list[str]:
    a, b, st = rep["median"]["a"], rep["median"]["b"], rep["startup"]
    return [
        _row("median", "A (project)", "B (notebook)"),
        "|---|---|---|",
        _row("first epoch s (warm-up, excluded above)",
             f"{a['first_epoch_seconds']:.2f}", f"{b['first_epoch_seconds']:.2f}"),
        _row("GFLOP/s (fraction of sgemm peak)", f"{a['gflops']:.1f} ({a['fraction_of_peak']:.0%})",
             f"{b['gflops']:.1f} ({b['fraction_of_peak']:.0%})"),
        _row("training samples per CPU-second",
             f"{a['samples_per_cpu_s']:.0f}", f"{b['samples_per_cpu_s']:.0f}"),
        _row("peak RSS MB", f"{a['peak_rss_mb']:.0f}", f"{b['peak_rss_mb']:.0f}"),
        _row("process CPU s", f"{a['cpu_seconds']:.1f}", f"{b['cpu_seconds']:.1f}"),
        _row("start to first step s",
             f"{st['a_to_first_step_s']:.2f}", f"{st['b_to_first_step_s']:.2f}"),
        _row("start to first step done s",
             f"{st['a_to_first_step_done_s']:.2f}", f"{st['b_to_first_step_done_s']:.2f}"),
    ]


def markdown(rep: dict) -> str:
    acc, fl, st, mach = rep["accuracy"], rep["flops"], rep["startup"], rep["machine"]
    verdict = "agrees" if acc["agrees"] else "DOES NOT AGREE - the speed-up does not count"
    marks = ", ".join(f"{k} {v:.2f} s" for k, v in st["a_marks_s"].items())
    lines = [
        f"{mach['cpu']}, {mach['cores']} cores; load {mach['load_before'][0]:.1f} before, "
        f"{mach['load_after'][0]:.1f} after; sgemm peak {fl['sgemm_peak_gflops']:.0f} GFLOP/s; "
        f"train {fl['train_per_sample'] / 1e6:.2f} MFLOP/sample "
        f"(forward {fl['forward_per_sample'] / 1e6:.2f})",
        "",
        *pairs_table(rep),
        "",
        *sides_table(rep),
        "",
        f"Test accuracy gap, mean over pairs {acc['gap_pt']:.2f} pt (largest pair "
        f"{acc['max_pair_gap_pt']:.2f} pt; tolerance {acc['tolerance_pt']} pt): {verdict}.",
        f"`src.train --help` {st['train_help_s']:.2f} s, config error "
        f"{st['train_config_error_s']:.2f} s, `import keras` {st['import_keras_s']:.2f} s. "
        f"Side A from process start: {marks}, first step {st['a_to_first_step_s']:.2f} s.",
    ]
    if "tracking" in rep:
        t = rep["tracking"]
        lines.append(
            f"Tracking to a local mlflow server: fit {t['fit_seconds_on']:.2f} s vs "
            f"{t['fit_seconds_off']:.2f} s off ({t['fit_overhead_pct']:+.1f} %); logging inside "
            f"fit {t['logging_inside_fit_s']:.3f} s ({t['logging_inside_fit_pct']:.2f} % of fit); "
            f"system metrics thread {t['system_metrics_cpu_pct_of_fit']:.2f} % of fit (CPU); "
            f"MLflow Model {t['model_log_seconds']:.2f} s, {t['model_size_mb']:.1f} MB; "
            f"whole process {t['process_seconds_on']:.1f} s vs {t['process_seconds_off']:.1f} s; "
            f"start to first step {st['tracked_to_first_step_s']:.2f} s."
        )
    return "\n".join(lines)
