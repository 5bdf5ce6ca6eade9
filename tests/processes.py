"""Training commands run in the background, as a user runs them in another terminal: their
output collected as it comes, waited on, signalled. A plain module (like tests/servers.py),
shared by the fault and launch-safety tests."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import ROOT, cli_env


class Training:
    """`python -m src.train ...` in the background, its output collected as it comes."""

    def __init__(self, *args: str, cwd: Path, **env: str):
        # SIGINT at its default, as in a terminal: a shell without job control starts background
        # commands (a CI script's `... &`) with SIGINT ignored, and every child inherits that.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "src.train", *args], cwd=cwd, env=cli_env(**env),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until(self, condition, what: str, timeout: float = 600) -> None:
        """Poll `condition()` while training runs; fail with the output if it never holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            tail = self.output[-3000:]
            assert self.proc.poll() is None, f"training exited before {what}:\n{tail}"
            assert time.monotonic() < deadline, f"no {what} after {timeout} s:\n{tail}"
            time.sleep(0.5)

    @property
    def run_started(self) -> bool:
        """Its MLflow run exists, so the store does: reading a SQLite store any earlier would
        race the training's own creation of it (MLflow's schema migrations collide)."""
        return " MLflow run " in self.output

    def finish(self, timeout: float = 900) -> int:
        self.proc.wait(timeout=timeout)
        self._reader.join()
        return self.proc.returncode

    def kill(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)




# Training that holds at the end of its first epoch until the test opens the gate, so a second
# command can be started while the first is certainly still running, however busy the machine.
# Installed as `sitecustomize`, which Python imports at start-up in every process, a sweep's
# worker processes included (they inherit PYTHONPATH).
GATED_FIT = """
import os
import time

import keras

fit = keras.Model.fit


class Gate(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        from hydra.core.hydra_config import HydraConfig

        job = HydraConfig.get().job.get("num") if HydraConfig.initialized() else None
        held = (job or 0) >= int(os.environ["TEST_GATE_FROM_JOB"])
        while held and epoch == 0 and not os.path.exists(os.environ["TEST_GATE"]):
            time.sleep(0.2)


def gated_fit(self, *args, callbacks=None, **kwargs):
    return fit(self, *args, callbacks=[*(callbacks or []), Gate()], **kwargs)


keras.Model.fit = gated_fit
"""


class Gate:
    """The environment of a gated training command, and the file that opens the gate. With
    `from_job`, a sweep's jobs numbered below it run through."""

    def __init__(self, folder: Path, from_job: int = 0):
        (folder / "gate").mkdir(parents=True)
        (folder / "gate" / "sitecustomize.py").write_text(GATED_FIT)
        self.file = folder / "gate" / "open"
        self.env = {"PYTHONPATH": f"{ROOT}:{folder / 'gate'}", "TEST_GATE": str(self.file),
                    "TEST_GATE_FROM_JOB": str(from_job)}

    def open(self) -> None:
        self.file.touch()
