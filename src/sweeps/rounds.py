"""Seeds until decided (`hydra/sweeper=until_decided`): a sweep's variants run a round of seeds
at a time until src.compare.sequential decides each against the baseline.

    python -m src.train -m hydra/sweeper=until_decided reg=none,dropout,batchnorm 'seed=range(0,10)'

The seed axis is the most seeds a variant may get; `hydra.sweeper.seeds_per_round` of them
run per round. Jobs are numbered seed by seed (every variant's seed 0, then seed 1, ...), so a
round is one block of job numbers the launcher runs side by side, and a relaunch finds each
job's dir: a round whose runs all FINISHED is read, not launched; an interrupted one is
launched again and its jobs resume.
"""

import itertools
import math
from dataclasses import dataclass, field, fields
from typing import ClassVar, Optional

import numpy as np
from omegaconf import DictConfig, OmegaConf

from src.config.schema import Checked
from src.errors import ConfigError
from src.sweeps import jobs

TARGET = jobs.UNTIL_DECIDED


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
    """The variants, the seed axis, and every job's number and overrides."""

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
        """The job numbers of a round (1-based): one consecutive block."""
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


def check(config: DictConfig) -> None:
    """Preflight: the design of this sweep, refused in one line before any run."""
    arguments = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    design(arguments, config.hydra.sweeper)


def accuracies(config: DictConfig, plan: Design, round_number: int,
               required: bool = False) -> Optional[dict]:
    """Each variant's per-seed test accuracy over the first `round_number` rounds, read from
    the FINISHED run of each job's config; None while a job of those rounds has none (an error
    if `required`: the round has run)."""
    from src.tracking import identity, resume, store

    found: dict[str, list[float]] = {label: [] for label in plan.variants}
    for number in range(plan.round_jobs(round_number).stop):
        label, _, overrides = plan.jobs[number]
        if number not in plan.identities:  # composed once a launch: rounds re-read earlier jobs
            cfg = jobs.compose(config, overrides, number)
            plan.identities[number] = (store.tracking_uri(cfg.tracking.uri),
                                       cfg.tracking.experiment, identity.config_hash(cfg))
        run = resume.finished_run(*plan.identities[number])
        if run is None or "test_accuracy" not in run.data.metrics:
            if required:
                raise ConfigError(f"sweep job #{number} ({' '.join(overrides)}) ran but left "
                                  "no FINISHED run with a test_accuracy: the round cannot be "
                                  "decided")
            return None
        found[label].append(run.data.metrics["test_accuracy"])
    return {label: np.array(values) for label, values in found.items()}


def history(plan: Design, results: dict[str, np.ndarray], rounds_run: int) -> dict:
    """Each variant's Look against the baseline after each round run so far."""
    from src.compare import sequential

    baseline = results[plan.variants[0]]
    return {label: [sequential.look(results[label][:n], baseline[:n])
                    for n in map(plan.seeds_after, range(1, rounds_run + 1))]
            for label in plan.variants[1:]}


def decisions(plan: Design, results: dict[str, np.ndarray], rounds_run: int) -> dict:
    """Each variant's decision after `rounds_run` rounds, with the round it came in."""
    from src.compare import sequential

    return sequential.replay(history(plan, results, rounds_run), plan.fractions,
                             plan.settings.alpha, len(plan.seeds))


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
