"""Per-image evidence: each group's seeds averaged into one ensemble, and each group's ensemble
paired with the baseline's image by image.

The paired test is McNemar's exact test on the two ensembles' per-image correctness
(statsmodels' `mcnemar(exact=True)`). Both groups answer the same test images, so the images
they disagree on carry the whole difference; the exact binomial test on those discordant images
needs no large-sample approximation, and McNemar is the test Dietterich (1998, "Approximate
statistical tests for comparing supervised classification learning algorithms") recommends for
two classifiers scored on one test set. Ensembles rather than single seeds: one answer per image
and group, with the seed noise that the Welch test above already weighs averaged away.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from mlflow import MlflowClient
from statsmodels.stats.contingency_tables import mcnemar

from src.compare import inference
from src.compare.stats import GroupStats
from src.tracking import predictions
from src.tracking.predictions import Predictions


@dataclass
class Ensemble:
    label: str
    seeds: int
    y_true: np.ndarray
    correct: np.ndarray  # per test image
    how: str  # "mean probability" or "majority vote"

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())


@dataclass
class Paired:
    group: str
    baseline: str
    only_group: int  # images the group's ensemble gets right and the baseline's wrong
    only_baseline: int
    p_value: float
    p_holm: Optional[float] = None


@dataclass
class Evidence:
    ensembles: list[Ensemble]  # baseline first
    paired: list[Paired]


def fetch(client: MlflowClient, run_id: str, folder: Path) -> Optional[Predictions]:
    """The run's predictions, or None for a run logged before they were recorded."""
    if predictions.ARTIFACT not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    path = client.download_artifacts(run_id, predictions.ARTIFACT, str(folder / run_id))
    return predictions.read(Path(path))


def ensemble(label: str, seeds: list[Predictions]) -> Optional[Ensemble]:
    """The seeds' mean probabilities (their majority vote where probabilities were not kept);
    None if the seeds were scored on different test sets."""
    y_true = seeds[0].y_true
    if any(not np.array_equal(s.y_true, y_true) for s in seeds):
        return None
    if all(s.probabilities is not None for s in seeds):
        mean = np.mean([s.probabilities.astype(np.float32) for s in seeds], axis=0)
        return Ensemble(label, len(seeds), y_true, mean.argmax(axis=1) == y_true,
                        "mean probability")
    votes = np.stack([s.y_pred for s in seeds])  # (seeds, images)
    classes = np.arange(max(votes.max(), y_true.max()) + 1)
    counts = (votes[..., None] == classes).sum(axis=0)  # (images, classes); ties: lower class
    return Ensemble(label, len(seeds), y_true, counts.argmax(axis=1) == y_true, "majority vote")


def pair(group: Ensemble, baseline: Ensemble) -> Paired:
    only_group = int(np.sum(group.correct & ~baseline.correct))
    only_baseline = int(np.sum(~group.correct & baseline.correct))
    both = int(np.sum(group.correct & baseline.correct))
    neither = len(group.correct) - both - only_group - only_baseline
    table = [[both, only_group], [only_baseline, neither]]
    return Paired(group.label, baseline.label, only_group, only_baseline,
                  float(mcnemar(table, exact=True).pvalue))


def evidence(client: MlflowClient, groups: list[GroupStats]) -> Optional[Evidence]:
    """Ensembles and paired tests, baseline first; None unless every run logged predictions
    on one and the same test set."""
    with tempfile.TemporaryDirectory() as tmp:
        found = {g.label: [fetch(client, r.run_id, Path(tmp)) for r in g.runs] for g in groups}
    if any(p is None for seeds in found.values() for p in seeds):
        return None
    ensembles = [ensemble(g.label, found[g.label]) for g in groups]
    if any(e is None for e in ensembles) or any(
            not np.array_equal(e.y_true, ensembles[0].y_true) for e in ensembles):
        return None
    paired = [pair(e, ensembles[0]) for e in ensembles[1:]]
    for test, adjusted in zip(paired, inference.holm([p.p_value for p in paired]), strict=True):
        test.p_holm = adjusted
    return Evidence(ensembles, paired)
