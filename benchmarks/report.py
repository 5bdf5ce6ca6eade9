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
    return (f"pair {i}: A {a['samples_per_s']:.0f}/s ({a['seconds_per_epoch']:.1f} s/epoch, "
            f"acc {a['test_accuracy']:.4f})  B {b['samples_per_s']:.0f}/s "
            f"({b['seconds_per_epoch']:.1f} s/epoch, acc {b['test_accuracy']:.4f})  "
            f"A/B {a['samples_per_s'] / b['samples_per_s']:.2f} "
            f"(per CPU-s {a['samples_per_cpu_s'] / b['samples_per_cpu_s']:.2f})")


def markdown(rep: dict) -> str:
    med, acc, fl, st = rep["median"], rep["accuracy"], rep["flops"], rep["startup"]
    lines = [
        f"{rep['machine']['cpu']}, {rep['machine']['cores']} cores; load "
        f"{rep['machine']['load_before'][0]:.1f} before, {rep['machine']['load_after'][0]:.1f} after; "
        f"sgemm peak {fl['sgemm_peak_gflops']:.0f} GFLOP/s; train {fl['train_per_sample'] / 1e6:.2f} "
        f"MFLOP/sample (forward {fl['forward_per_sample'] / 1e6:.2f})",
        "",
        "| pair | A samples/s | B samples/s | A/B | A/B per CPU-s | A s/epoch | B s/epoch | A acc | B acc |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rep["pairs"]:
        a, b = r["a"], r["b"]
        lines.append(f"| {r['seed']} | {a['samples_per_s']:.0f} | {b['samples_per_s']:.0f} | "
                     f"{r['ratio']:.2f} | {r['cpu_ratio']:.2f} | {a['seconds_per_epoch']:.2f} | {b['seconds_per_epoch']:.2f} | "
                     f"{a['test_accuracy']:.4f} | {b['test_accuracy']:.4f} |")
    a, b = med["a"], med["b"]
    lines += [
        f"| **median** | **{a['samples_per_s']:.0f}** | **{b['samples_per_s']:.0f}** | "
        f"**{med['ratio']:.2f}** | **{med['cpu_ratio']:.2f}** | {a['seconds_per_epoch']:.2f} | {b['seconds_per_epoch']:.2f} | "
        f"{a['test_accuracy']:.4f} | {b['test_accuracy']:.4f} |",
        "",
        "| median | A (project) | B (notebook) |",
        "|---|---|---|",
        f"| first epoch s (warm-up, excluded above) | {a['first_epoch_seconds']:.2f} | {b['first_epoch_seconds']:.2f} |",
        f"| GFLOP/s (fraction of sgemm peak) | {a['gflops']:.1f} ({a['fraction_of_peak']:.0%}) | "
        f"{b['gflops']:.1f} ({b['fraction_of_peak']:.0%}) |",
        f"| training samples per CPU-second | {a['samples_per_cpu_s']:.0f} | {b['samples_per_cpu_s']:.0f} |",
        f"| peak RSS MB | {a['peak_rss_mb']:.0f} | {b['peak_rss_mb']:.0f} |",
        f"| process CPU s | {a['cpu_seconds']:.1f} | {b['cpu_seconds']:.1f} |",
        f"| start to first step s | {st['a_to_first_step_s']:.2f} | {st['b_to_first_step_s']:.2f} |",
        f"| start to first step done s | {st['a_to_first_step_done_s']:.2f} | {st['b_to_first_step_done_s']:.2f} |",
        "",
        f"Accuracy gap {acc['gap_pt']:.2f} pt (tolerance {acc['tolerance_pt']} pt): "
        f"{'agrees' if acc['agrees'] else 'DOES NOT AGREE - the speed-up does not count'}.",
        f"`src.train --help` {st['train_help_s']:.2f} s, config error {st['train_config_error_s']:.2f} s, "
        f"`import keras` {st['import_keras_s']:.2f} s. Side A from process start: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in st["a_marks_s"].items())
        + f", first step {st['a_to_first_step_s']:.2f} s.",
    ]
    if "tracking" in rep:
        t = rep["tracking"]
        lines.append(
            f"Tracking to a local mlflow server: fit {t['fit_seconds_on']:.2f} s vs "
            f"{t['fit_seconds_off']:.2f} s off ({t['fit_overhead_pct']:+.1f} %); logging inside fit "
            f"{t['logging_inside_fit_s']:.3f} s ({t['logging_inside_fit_pct']:.2f} % of fit); whole "
            f"process {t['process_seconds_on']:.1f} s vs {t['process_seconds_off']:.1f} s; "
            f"start to first step {st['tracked_to_first_step_s']:.2f} s.")
    return "\n".join(lines)
