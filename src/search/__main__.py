"""`python -m src.search <sweep dir> [--out DIR]`: what mattered in a study, read from the
Optuna storage in its sweep dir (src.search.insight), while it runs or after."""

import argparse
import sys
from pathlib import Path
from typing import Optional

from src.search import space


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m src.search",
                                description="A study's best trial and parameter importances.")
    p.add_argument("sweep_dir", type=Path, help="the study's sweep dir, as its launch printed it")
    p.add_argument("--out", type=Path, help="also draw the study's figures into this folder")
    args = p.parse_args(argv)
    try:
        space.storage_file(args.sweep_dir)  # a wrong folder is told before Optuna loads
    except FileNotFoundError as err:
        print(f"search: error: {err}", file=sys.stderr)
        return 1
    from src.search import insight

    study = insight.load(args.sweep_dir)
    found = insight.insight(study)
    print("\n".join(found.lines()) if found else "no trial complete yet")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for path in insight.draw(study, args.out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
