"""Seeds until decided (`hydra/sweeper=until_decided`): a sweep's variants run a round of seeds
at a time until src.compare.sequential decides each against the baseline.

    python -m src.train -m hydra/sweeper=until_decided reg=none,dropout,batchnorm 'seed=range(0,10)'

The seed axis is the most seeds a variant may get; `hydra.sweeper.seeds_per_round` of them
run per round, for the baseline and every variant not yet decided, side by side. Jobs are
numbered in the order they run, which the decisions fix: a relaunch computes the same decisions
from the same runs, so it finds each job's dir. A round whose runs all FINISHED is read, not
launched; an interrupted one is launched again and its jobs resume.
"""

import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar, Optional

import numpy as np
from omegaconf import DictConfig, OmegaConf

from src.config.schema import Checked
from src.errors import ConfigError
from src.sweeps import jobs

TARGET = jobs.UNTIL_DECIDED
log = logging.getLogger(__name__)


@dataclass
class RoundSettings(Checked):
    """`hydra.sweeper.*` of conf/hydra/sweeper/until_decided.yaml."""

    group: ClassVar[str] = "hydra.sweeper"
    seeds_per_round: int = 2
    alpha: float = 0.05
    baseline: Optional[str] = None  # a variant's overrides, `reg=none`; None: a `none` or first

    def __post_init__(self) -> None:
        self.check("seeds_per_round", self.seeds_per_round >= 2,
                   ">= 2 (a round gives each variant a seed-to-seed spread)")
        self.check("alpha", 0 < self.alpha < 1, "in (0, 1)")

    @classmethod
    def of(cls, sweeper: DictConfig) -> "RoundSettings":
        return cls(**{f.name: sweeper[f.name] for f in fields(cls) if f.name in sweeper})


@dataclass
class Design:
    """The variants, the seed axis, and every job the axis allows, seed by seed."""

    settings: RoundSettings
    variants: list[str]  # labels: the variant's sweep overrides, `reg=dropout`; baseline first
    seeds: list[str]
    jobs: list[tuple[str, str, list[str]]]  # (variant, seed, overrides), numbered seed-major
    identities: dict = field(default_factory=dict)  # job number -> (uri, experiment, hash)

    @property
    def rounds(self) -> int:
        return math.ceil(len(self.seeds) / self.settings.seeds_per_round)

    def seeds_after(self, round_number: int) -> int:
        return min(len(self.seeds), round_number * self.settings.seeds_per_round)

    @property
    def fractions(self) -> tuple[float, ...]:
        return tuple(self.seeds_after(k) / len(self.seeds) for k in range(1, self.rounds + 1))

    def round_jobs(self, round_number: int) -> range:
        """The jobs of a round (1-based), every variant's: indices into `jobs`."""
        per_seed = len(self.variants)
        first = self.seeds_after(round_number - 1) * per_seed
        return range(first, self.seeds_after(round_number) * per_seed)


def design(arguments: list[str], sweeper: DictConfig) -> Design:
    """The sweep's design from its command-line overrides; bad input in one line."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    settings = RoundSettings.of(sweeper)
    overrides = OverridesParser.create().parse_overrides(arguments)
    axes = [(o.get_key_element(), [f"{o.get_key_element()}={v}"
                                   for v in o.sweep_string_iterator()])
            if o.is_sweep_override() else (o.get_key_element(), [o.input_line])
            for o in overrides]
    seed_axis = next((values for key, values in axes if key == "seed"), None)
    if seed_axis is None or len(seed_axis) < 2:
        raise ConfigError("hydra/sweeper=until_decided adds seeds in rounds: give it a seed "
                          "axis, the most seeds a variant may get, e.g. 'seed=range(0,10)'")
    if settings.seeds_per_round > len(seed_axis):
        raise ConfigError(f"hydra.sweeper.seeds_per_round={settings.seeds_per_round} is more "
                          f"than the {len(seed_axis)} seeds of the seed axis: the maximum is "
                          "below the first round")
    varying = [(key, values) for key, values in axes if key != "seed" and len(values) > 1]
    labels = [" ".join(combo) for combo in itertools.product(*[v for _, v in varying])]
    if len(labels) < 2:
        raise ConfigError("hydra/sweeper=until_decided compares variants with a baseline: "
                          "sweep something besides the seed, e.g. reg=none,dropout")
    baseline = settings.baseline
    if baseline is None:
        baseline = next((label for label in labels if "none" in label.replace("=", " ").split()),
                        labels[0])
    if baseline not in labels:
        raise ConfigError(f"hydra.sweeper.baseline={baseline!r} is not a variant of this "
                          f"sweep; the variants: {', '.join(labels)}")
    labels = [baseline, *[label for label in labels if label != baseline]]
    jobs = []
    for seed in seed_axis:
        for label in labels:
            chosen = dict(zip([k for k, _ in varying], label.split(" "), strict=True))
            job = [seed if key == "seed" else chosen.get(key, values[0]) for key, values in axes]
            jobs.append((label, seed.split("=", 1)[1], job))
    return Design(settings, labels, [s.split("=", 1)[1] for s in seed_axis], jobs)


def check(config: DictConfig) -> Design:
    """Preflight: the design of this sweep from its composed config (its command-line
    overrides), refused in one line before any run."""
    return design(OmegaConf.to_container(config.hydra.overrides.task, resolve=False),
                  config.hydra.sweeper)


def first_round(config: DictConfig) -> list[list[str]]:
    """The overrides of round 1's jobs, every variant's: the most one round launches at once."""
    plan = check(config)
    return [plan.jobs[n][2] for n in plan.round_jobs(1)]


def round_jobs(plan: Design, round_number: int, decisions: dict) -> list[int]:
    """The jobs (indices into plan.jobs) a round runs: the baseline's and those of the variants
    still undecided; a decided variant gets no more seeds."""
    from src.compare.sequential import open_after

    active = {plan.variants[0], *open_after(decisions)}
    return [n for n in plan.round_jobs(round_number) if plan.jobs[n][0] in active]


def accuracies(config: DictConfig, plan: Design, numbers: list[int],
               required: bool = False) -> Optional[dict]:
    """Each variant's per-seed test accuracy, in seed order, over the jobs `numbers` (indices
    into plan.jobs), read from the FINISHED run of each job's config; None while one has none
    (an error if `required`: the jobs have run)."""
    from src.tracking import identity, resume, store

    found: dict[str, list[float]] = {label: [] for label in plan.variants}
    for number in sorted(numbers):
        label, _, overrides = plan.jobs[number]
        if number not in plan.identities:  # composed once a launch: rounds re-read earlier jobs
            cfg = jobs.compose(config, overrides, number)
            plan.identities[number] = (store.tracking_uri(cfg.tracking.uri),
                                       cfg.tracking.experiment, identity.config_hash(cfg))
        run = resume.finished_run(*plan.identities[number])
        if run is None or "test_accuracy" not in run.data.metrics:
            if required:
                raise ConfigError(f"sweep job ({' '.join(overrides)}) ran but left no FINISHED "
                                  "run with a test_accuracy: its round cannot be decided")
            return None
        found[label].append(run.data.metrics["test_accuracy"])
    return {label: np.array(values) for label, values in found.items()}


def history(plan: Design, results: dict[str, np.ndarray]) -> dict:
    """Each variant's Look against the baseline after each round it took part in."""
    from src.compare import sequential

    baseline = results[plan.variants[0]]
    return {label: [sequential.look(results[label][:n], baseline[:n])
                    for n in map(plan.seeds_after, range(1, plan.rounds + 1))
                    if n <= min(len(results[label]), len(baseline))]
            for label in plan.variants[1:]}


def decisions(plan: Design, results: dict[str, np.ndarray]) -> dict:
    """Each variant's decision from the seeds run so far, with the round it came in."""
    from src.compare import sequential

    return sequential.replay(history(plan, results), plan.fractions, plan.settings.alpha,
                             len(plan.seeds))


def summary(plan: Design, decisions: dict, rounds_run: int) -> dict[str, str]:
    """The decisions as tags for the sweep's parent run, and for the log."""
    tags = {"decided.rounds_run": f"{rounds_run} of {plan.rounds}",
            "decided.baseline": plan.variants[0],
            "decided.seeds_per_group": str(plan.seeds_after(rounds_run))}
    for label, decision in decisions.items():
        tags[tag_key(label)] = (decision.state if decision.round is None else
                                f"{decision.state} (round {decision.round}, "
                                f"{plan.seeds_after(decision.round)} seeds a group)")
    return tags


def tag_key(label: str) -> str:
    """The parent-run tag of a variant's decision: `decided.reg/dropout` (MLflow keys take no
    "=")."""
    return "decided." + label.replace("=", "/")


def run(config: DictConfig, plan: Design, launch: Callable[[list[list[str]], int], None]) -> None:
    """The rounds, until every variant is decided or the seed axis runs out; each round's
    decisions go to the sweep's parent run and the log. `launch(overrides, first job number)`
    runs a round's jobs side by side (the sweeper's launcher)."""
    from mlflow import MlflowClient
    from mlflow.entities import RunTag

    from src.compare import sequential
    from src.tracking import resume, store

    parent = resume.parent_run_id(Path(config.hydra.sweep.dir))
    client = MlflowClient(store.tracking_uri(config.tracking.uri))
    log.info(f"Seeds until decided: {', '.join(plan.variants[1:])} against {plan.variants[0]}, "
             f"{plan.settings.seeds_per_round} seeds a round, at most {len(plan.seeds)} "
             f"({plan.rounds} rounds)")
    decided = {label: sequential.Decision(sequential.UNDECIDED) for label in plan.variants[1:]}
    ran: list[int] = []  # jobs of the rounds so far, indices into plan.jobs
    for round_number in range(1, plan.rounds + 1):
        numbers = round_jobs(plan, round_number, decided)
        # Jobs are numbered in the order they run: the same on a relaunch, as the decisions
        # that chose them are computed again from the same runs.
        first, ran = len(ran), ran + numbers
        results = accuracies(config, plan, ran)
        if results is None:  # not every job has FINISHED: run (or resume) the round
            launch([plan.jobs[n][2] for n in numbers], first)
            results = accuracies(config, plan, ran, required=True)
        decided = decisions(plan, results)
        tags = summary(plan, decided, round_number)
        if parent:
            client.log_batch(parent, tags=[RunTag(k, v) for k, v in tags.items()])
        log.info(f"Round {round_number}/{plan.rounds}: " + "; ".join(
            f"{label}: {tags[tag_key(label)]}" for label in decided))
        if not sequential.open_after(decided):
            break
