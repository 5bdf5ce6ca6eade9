"""Bad input (a config value, a data file, a server address) answered in one line.

Every check in the project raises a `BadInput` whose message names the key, file or URI and
says what to do. Entry points turn it into `error: <message>` on stderr and exit status 1,
without a traceback; `HYDRA_FULL_ERROR=1`, Hydra's own switch, prints the traceback too.
"""

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import CompactHydraException


class BadInput(CompactHydraException):
    """Input the user can fix. A CompactHydraException, so that when one reaches Hydra (a job
    of a multirun) Hydra too prints its message without a stack trace."""


class ConfigError(BadInput):
    """A value that type-checks but makes no sense (negative epochs, dropout of 1.5)."""


def full_traces() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


@contextmanager
def reported() -> Iterator[None]:
    """Exit with one line on BadInput. SystemExit, because Hydra turns an exception raised in a
    callback into a warning and carries on: a failed check must stop the command."""
    try:
        yield
    except BadInput as exc:
        if full_traces():
            traceback.print_exc()
        sys.exit(f"error: {exc}")


class StoppedEarly(Exception):  # noqa: N818 - a stop asked for, not an error
    """Raised by a run's body that stops before its last epoch on purpose (a study pruned it):
    the run ends KILLED with `tags`, its job dir is done with (a relaunch does not resume it),
    and the job returns `result`."""

    def __init__(self, message: str, tags: dict[str, str], result: object):
        super().__init__(message)
        self.tags, self.result = tags, result
