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


def caveats(groups: dict[str, list[RunRecord]]) -> list[str]:
    """What makes a group's seeds less than clean repeats: a repeated seed, a differing param."""
    notes = []
    for name, members in groups.items():
        seeds = [r.params["seed"] for r in members]
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            notes.append(f"group {name!r} holds seed(s) {', '.join(repeated)} more than once, "
                         "so those runs are not independent samples; pick one sweep (--sweep-dir)")
        keys = {k for r in members for k in r.params if not k.startswith(BOOKKEEPING)}
        for key in sorted(keys):
            values = sorted({r.params.get(key, "(absent)") for r in members})
            if len(values) > 1:
                notes.append(f"group {name!r}: {key} differs between its runs "
                             f"({', '.join(values)})")
    return notes


def label(record: RunRecord, keys: list[str]) -> str:
    """`dropout` for one key; `reg=dropout optimizer.lr=0.01` for several."""
    if len(keys) == 1:
        return record.params[param_key(keys[0])]
    return " ".join(f"{override_key(param_key(k))}={record.params[param_key(k)]}" for k in keys)


def seed_sweep_command(records: list[RunRecord], keys: list[str], seeds: int = 3) -> str:
    """The `src.train` multirun that repeats these groups over several seeds, same settings."""
    swept = {param_key(k): sorted({r.params[param_key(k)] for r in records}) for k in keys}
    fixed = [o for o in records[0].tags.get("hydra.overrides", "").split()
             if param_key(o.split("=")[0]) not in swept and o.split("=")[0] != "seed"]
    choices = [f"{override_key(k)}={','.join(v)}" for k, v in swept.items()]
    seeds_arg = "seed=" + ",".join(map(str, range(seeds)))
    return " ".join(["python -m src.train -m", *choices, seeds_arg, *fixed])

