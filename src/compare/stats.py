"""Per-group statistics over seeds and the verdict of each group against the baseline.

Test accuracy is compared with Welch's t-test (scipy.stats.ttest_ind, equal_var=False): seeds
are independent samples and nothing says regularization leaves the seed-to-seed variance alone.
"""

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import stats

from src.compare import ALPHA, inference
from src.compare.selection import CompareError, RunRecord

CONFIDENCE = 0.95
TEST_NAME = "Welch's t-test (two-sided, unequal variances: scipy.stats.ttest_ind(equal_var=False))"


@dataclass
class Curve:
    """A metric per epoch across a group's seeds: mean and the min..max band."""

    epochs: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass
class GroupStats:
    label: str
    runs: list[RunRecord]
    test_accuracy: np.ndarray  # one value per seed
    mean: float
    std: Optional[float]  # sample std (ddof=1); None for a single run
    ci: Optional[tuple[float, float]]  # t-based interval for the mean; None for a single run
    # None for final fits (dataset.final_fit), which validate on nothing:
    best_val_accuracy: Optional[float]  # maximum of the seed-averaged validation curve ...
    best_epoch: Optional[int]  # ... and the epoch where it occurs
    loss_gap: Optional[float]  # train loss - validation loss at the last epoch, seed mean
    epoch_seconds: float  # mean over every epoch of every seed
    model_params: list[str]  # distinct `model.params` values
    curves: dict[str, Curve]
    n_test: Optional[int] = None  # test images every seed was scored on (`data.n_test`)

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def test_floor(self) -> Optional[float]:
        """The binomial standard error of the mean accuracy on n_test images: a seed std near
        it is the test set's own noise, not the training's."""
        return inference.binomial_floor(self.mean, self.n_test) if self.n_test else None


def confidence_interval(values: np.ndarray,
                        level: float = CONFIDENCE) -> Optional[tuple[float, float]]:
    """Student-t interval for the mean: mean ± t(level, n-1) · s/√n; None below two values."""
    if len(values) < 2:
        return None
    mean, sem = float(values.mean()), float(stats.sem(values))
    if sem == 0:  # scipy answers nan for a zero-width interval
        return mean, mean
    low, high = stats.t.interval(level, len(values) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def curve(runs: list[RunRecord], key: str) -> Curve:
    """Seeds aligned by epoch; an epoch only some seeds reached averages over those seeds."""
    longest = max(len(r.curves[key]) for r in runs)
    table = np.full((len(runs), longest), np.nan)
    for row, run in zip(table, runs, strict=True):
        row[: len(run.curves[key])] = run.curves[key]
    return Curve(np.arange(1, longest + 1), np.nanmean(table, axis=0),
                 np.nanmin(table, axis=0), np.nanmax(table, axis=0))


def summarize(label: str, runs: list[RunRecord]) -> GroupStats:
    acc = np.array([r.test_accuracy for r in runs])
    curves = {key: curve(runs, key) for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    val = curves["val_accuracy"]
    validated = all(len(r.curves["val_loss"]) for r in runs)
    best = int(np.argmax(val.mean)) if validated else None
    return GroupStats(
        label=label,
        runs=runs,
        test_accuracy=acc,
        mean=float(acc.mean()),
        std=float(acc.std(ddof=1)) if len(acc) > 1 else None,
        ci=confidence_interval(acc),
        best_val_accuracy=float(val.mean[best]) if validated else None,
        best_epoch=int(val.epochs[best]) if validated else None,
        loss_gap=float(np.mean([r.curves["loss"][-1] - r.curves["val_loss"][-1] for r in runs]))
        if validated else None,
        epoch_seconds=float(np.mean(np.concatenate([r.curves["epoch_seconds"] for r in runs]))),
        model_params=sorted({r.params.get("model.params", "?") for r in runs}),
        curves=curves,
        n_test=test_images(runs),
    )


def test_images(runs: list[RunRecord]) -> Optional[int]:
    """The test-set size the runs logged, if they all logged the same one."""
    sizes = {r.params.get("data.n_test") for r in runs}
    [size] = sizes if len(sizes) == 1 else [None]
    return int(size) if size and size.isdigit() else None


@dataclass
class Verdict:
    """One group against the baseline. The verdict is taken on the Holm-adjusted p over every
    comparison in the report (the family); power is reckoned at α / family, Holm's first and
    strictest step, so the seed count it asks for holds at whichever step the test lands."""

    group: str
    baseline: str
    diff_pt: float  # difference of mean test accuracy, percentage points
    n: int
    n_baseline: int
    p_value: Optional[float]  # None: fewer than two seeds on a side, or no variation at all
    alpha: float = ALPHA
    ci_pt: Optional[tuple[float, float]] = None  # Welch interval for the difference, points
    hedges_g: Optional[float] = None
    p_holm: Optional[float] = None  # set by verdicts(), over the report's family
    family: int = 1
    seeds_needed: Optional[int] = None  # per group, for 80 % power at the observed g
    detectable_pt: Optional[float] = None  # smallest difference the current n detects

    @property
    def testable(self) -> bool:
        return min(self.n, self.n_baseline) >= 2

    @property
    def significant(self) -> Optional[bool]:
        return None if self.p_holm is None else self.p_holm < self.alpha

    def text(self) -> str:
        head = f"{self.group} vs {self.baseline}: {self.diff_pt:+.2f} pt"
        sizes = (f"n={self.n} each" if self.n == self.n_baseline
                 else f"n={self.n} vs {self.n_baseline}")
        if not self.testable:
            return (f"{head} from {sizes}: no significance claim is possible "
                    "with a single seed on a side")
        if self.p_value is None:
            return f"{head}, p undefined ({sizes}): every seed gave the same test accuracy"
        low, high = self.ci_pt
        evidence = (f"{CONFIDENCE:.0%} CI [{low:+.2f}, {high:+.2f}] pt, g={self.hedges_g:+.2f}, "
                    f"p={self.p_value:.2g}, Holm p={self.p_holm:.2g} over {self.family}, {sizes}")
        if not self.significant:
            need = (f"~{self.seeds_needed} seeds a group would detect it with 80 % power"
                    if self.seeds_needed else "no difference to detect")
            return f"{head}, not significant ({evidence}): {need}"
        better = "higher" if self.diff_pt > 0 else "lower"
        return (f"{head}, significant at α={self.alpha:g} ({evidence}): "
                f"{self.group}'s test accuracy is {better}")


def verdict(group: GroupStats, baseline: GroupStats, alpha: float = ALPHA,
            family: int = 1) -> Verdict:
    """Welch's test of one group against the baseline; p_holm is the raw p until verdicts()
    adjusts it over the whole family."""
    a, b = group.test_accuracy, baseline.test_accuracy
    p_value = None  # also with no spread on either side, where scipy's answer is rounding
    if min(group.n, baseline.n) >= 2 and (np.ptp(a) or np.ptp(b)):
        with warnings.catch_warnings():  # near-zero variance: scipy warns of lost precision
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ttest_ind(a, b, equal_var=False)
        p_value = float(result.pvalue) if np.isfinite(result.pvalue) else None
    diff = 100 * (group.mean - baseline.mean)
    g, ci = inference.hedges_g(a, b), inference.welch_interval(a, b, CONFIDENCE)
    level = alpha / family
    detectable = inference.detectable_effect(min(group.n, baseline.n), level)
    spread = inference.pooled_std(a, b) if min(group.n, baseline.n) >= 2 else None
    return Verdict(
        group.label, baseline.label, diff, group.n, baseline.n, p_value, alpha,
        ci_pt=(100 * ci[0], 100 * ci[1]) if ci else None, hedges_g=g, p_holm=p_value,
        family=family, seeds_needed=inference.seeds_for_power(g, level),
        detectable_pt=100 * detectable * spread if detectable and spread else None)


def verdicts(groups: list[GroupStats], alpha: float = ALPHA) -> list[Verdict]:
    """Every group after the first (the baseline) against it, Holm-adjusted together."""
    baseline, others = groups[0], groups[1:]
    found = [verdict(g, baseline, alpha, len(others)) for g in others]
    for v, adjusted in zip(found, inference.holm([v.p_value for v in found]), strict=True):
        v.p_holm = adjusted
    return found


def order(labels: list[str], baseline: Optional[str]) -> list[str]:
    """Baseline first (default: a group named `none`, else the first), the rest sorted."""
    def key(name: str) -> tuple:
        try:
            return (0, float(name), name)
        except ValueError:
            return (1, 0.0, name)

    ranked = sorted(labels, key=key)
    if baseline is not None and baseline not in ranked:
        raise CompareError(f"baseline {baseline!r} is not a group; groups: {', '.join(ranked)}")
    if baseline is None:
        default = [n for n in ranked if "none" in n.replace("=", " ").split()]
        baseline = default[0] if default else ranked[0]
    return [baseline, *[n for n in ranked if n != baseline]]
