"""The comparison report's figures: groups overlaid per epoch, and test accuracy per seed."""

import matplotlib

matplotlib.use("Agg")  # headless, like src/plots.py; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from src.compare.stats import GroupStats  # noqa: E402

COLORS = plt.get_cmap("tab10").colors
BAND = "shaded: min..max over seeds"


def _epoch_axis(ax, title: str, ylabel: str) -> None:
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def validation(groups: list[GroupStats]) -> Figure:
    """Validation loss and accuracy per epoch, one line (seed mean) and band per group."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, key, ylabel in zip(axes, ("val_loss", "val_accuracy"), ("loss", "accuracy"),
                               strict=True):
        for color, g in zip(COLORS, groups, strict=False):  # colours repeat past ten groups
            c = g.curves[key]  # empty for final fits: nothing validated
            ax.plot(c.epochs, c.mean, "o-", color=color, label=f"{g.label} (n={g.n})")
            ax.fill_between(c.epochs, c.low, c.high, color=color, alpha=0.2, linewidth=0)
        _epoch_axis(ax, f"Validation {ylabel}", ylabel)
    axes[1].legend(title="group (seeds)", fontsize=9)
    fig.suptitle(f"Validation curves per group: line = mean over seeds, {BAND}")
    fig.tight_layout()
    return fig


def train_vs_validation(groups: list[GroupStats]) -> Figure:
    """Small multiples, one column per group: the overfitting gap at a glance."""
    fig, axes = plt.subplots(2, len(groups), figsize=(3.8 * len(groups) + 1, 7),
                             sharey="row", squeeze=False)
    for col, g in enumerate(groups):
        for row, metric in enumerate(("loss", "accuracy")):
            ax = axes[row, col]
            for key, style, name in ((metric, "o--", "train"),
                                     (f"val_{metric}", "o-", "validation")):
                c = g.curves[key]
                line, = ax.plot(c.epochs, c.mean, style, label=name)
                ax.fill_between(c.epochs, c.low, c.high, color=line.get_color(), alpha=0.2,
                                linewidth=0)
            _epoch_axis(ax, f"{g.label} (n={g.n})" if row == 0 else "", metric)
            if col:
                ax.set_ylabel("")
    axes[0, 0].legend(fontsize=9)
    fig.suptitle(f"Train vs validation per group: mean over seeds, {BAND}")
    fig.tight_layout()
    return fig


def test_accuracy(groups: list[GroupStats]) -> Figure:
    """Every seed's test accuracy as a dot, the group mean and its 95% CI as a bar."""
    fig, ax = plt.subplots(figsize=(2.2 * len(groups) + 3, 4.8))
    jitter = np.random.default_rng(0)
    for x, (color, g) in enumerate(zip(COLORS, groups, strict=False)):
        acc = 100 * g.test_accuracy
        ax.scatter(x + jitter.uniform(-0.12, 0.12, len(acc)), acc, color=color, alpha=0.7,
                   label="one seed" if x == 0 else None)
        low, high = (100 * v for v in g.ci) if g.ci else (100 * g.mean,) * 2
        ax.errorbar(x + 0.3, 100 * g.mean, yerr=[[100 * g.mean - low], [high - 100 * g.mean]],
                    fmt="D", color="black", capsize=6, label="mean, 95% CI" if x == 0 else None)
    ax.set_xticks(range(len(groups)), [f"{g.label}\n(n={g.n})" for g in groups])
    ax.set(ylabel="test accuracy (%)", title="Test accuracy per seed")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig
