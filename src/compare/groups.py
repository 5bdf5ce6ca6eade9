"""Training runs grouped by the settings being compared, and what makes a group's seeds less
than clean repeats."""

from src.compare.selection import (
    CompareError,
    MixedDatasetError,
    RunRecord,
    override_key,
    param_key,
)

# Params that may differ between repeats of one setting: the seed, the machine, library versions.
BOOKKEEPING = ("seed", "version.", "device", "data.source", "dataset.data_dir")
# Params that follow from the settings (parameter counts, split sizes) or do not touch the result.
DERIVED = ("model.params", "model.trainable_params", "data.", "trainer.verbose")


def group(records: list[RunRecord], keys: list[str]) -> dict[str, list[RunRecord]]:
    """Runs by their values of `keys`; each group must hold a single dataset."""
    params = [param_key(k) for k in keys]
    lacking = [r.name for r in records if any(p not in r.params for p in params)]
    if lacking:
        raise CompareError(f"run(s) without param(s) {', '.join(params)}: {', '.join(lacking)}")
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(label(record, keys), []).append(record)
    for name, members in groups.items():
        datasets: dict[str, list[str]] = {}
        for r in members:
            datasets.setdefault(r.params.get("dataset.name", "?"), []).append(r.name)
        if len(datasets) > 1:
            mixed = "; ".join(f"{d}: {', '.join(n)}" for d, n in sorted(datasets.items()))
            raise MixedDatasetError(
                f"group {name!r} mixes datasets ({mixed}); add --filter dataset=<name> "
                "or group by it too (--by dataset " + " ".join(keys) + ")")
    return groups


def caveats(groups: dict[str, list[RunRecord]], keys: list[str]) -> list[str]:
    """What makes a group's seeds less than clean repeats (a repeated seed, a differing param),
    and what else the groups differ in besides `keys` (the homework trained its plain LeNet-5
    10 epochs and the regularized ones 15)."""
    notes = []
    for name, members in groups.items():
        for rerun in (r for r in members if r.tags.get("rerun_of")):
            notes.append(f"{rerun.name} ({rerun.run_id}) in group {name!r} is a rerun of run "
                         f"{rerun.tags['rerun_of']} (python -m src.rerun)")
        seeds = [r.params["seed"] for r in members]
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            notes.append(f"group {name!r} holds seed(s) {', '.join(repeated)} more than once, "
                         "so those runs are not independent samples; pick one sweep (--sweep-dir)")
        settings = {k for r in members for k in r.params if not k.startswith(BOOKKEEPING)}
        for key in sorted(settings):
            values = sorted({r.params.get(key, "(absent)") for r in members})
            if len(values) > 1:
                notes.append(f"group {name!r}: {key} differs between its runs "
                             f"({', '.join(values)})")
    return notes + _other_differences(groups, [param_key(k) for k in keys])


def _other_differences(groups: dict[str, list[RunRecord]], params: list[str]) -> list[str]:
    """Settings fixed within every group that differ between groups, beyond the grouped ones
    (`reg.name` accounts for every `reg.*`)."""
    def grouped(key: str) -> bool:
        return any(key == p or (p.endswith(".name") and key.startswith(p.removesuffix("name")))
                   for p in params)

    keys = {k for members in groups.values() for r in members for k in r.params
            if not k.startswith(BOOKKEEPING + DERIVED) and not grouped(k)}
    notes = []
    for key in sorted(keys):
        values = {name: {r.params.get(key, "(absent)") for r in members}
                  for name, members in groups.items()}
        if all(len(v) == 1 for v in values.values()) and len(set.union(*values.values())) > 1:
            listed = "; ".join(f"{name}: {v.pop()}" for name, v in values.items())
            notes.append(f"{key} differs between the groups ({listed}), so they differ in "
                         f"more than {', '.join(params)}")
    return notes


def label(record: RunRecord, keys: list[str]) -> str:
    """`dropout` for one key; `reg=dropout optimizer.lr=0.01` for several."""
    if len(keys) == 1:
        return record.params[param_key(keys[0])]
    return " ".join(f"{override_key(param_key(k))}={record.params[param_key(k)]}" for k in keys)


def as_choice(value: str) -> str:
    """A group's value as a command line chooses it: `batchnorm+dropout` (the regularizers a
    run combined, as `reg.name` records them) is `[batchnorm,dropout]`."""
    return f"[{value.replace('+', ',')}]" if "+" in value else value


def seed_sweep_command(records: list[RunRecord], keys: list[str], seeds: int = 3) -> str:
    """The `src.train` multirun that repeats these groups over several seeds, same settings."""
    swept = {param_key(k): sorted({r.params[param_key(k)] for r in records}) for k in keys}
    fixed = [o for o in records[0].tags.get("hydra.overrides", "").split()
             if param_key(o.split("=")[0]) not in swept and o.split("=")[0] != "seed"]
    choices = [f"{override_key(k)}={','.join(map(as_choice, v))}" for k, v in swept.items()]
    seeds_arg = "seed=" + ",".join(map(str, range(seeds)))
    return " ".join(["python -m src.train -m", *choices, seeds_arg, *fixed])

