#!/usr/bin/env python3
"""The docker-compose mlflow service's command, rewritten to run without Docker.

scripts/tracking-server.sh and tests/test_tracking_stack.py both start MLflow from
this, so the native server cannot drift from the containerised one. Needs only PyYAML.

  python scripts/compose_command.py args [--db-port N] [--artifacts DIR]
      NUL-separated arguments for `python -m mlflow` (starting with `server`)
  python scripts/compose_command.py env
      the stack's variables as shell assignments (KEY='value' lines)

Only addresses change: the server binds 127.0.0.1 on the port compose would publish
(MLFLOW_PORT), the database host becomes 127.0.0.1:<db port>, and artifacts go to a
local directory. Everything else (store URI scheme, credentials, flags) is verbatim.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "mlflow"
# $$ | ${VAR} | ${VAR:-d} ${VAR-d} ${VAR:?e} ${VAR?e} | $VAR  (compose's interpolation)
_VAR = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, '#' comments, optional surrounding quotes (the .env subset we use)."""
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip().removeprefix("export ")] = value
    return env


def env_file(root: Path = ROOT) -> Path:
    """.env, or .env.example standing in for it (so a fresh checkout runs as documented)."""
    return Path(root) / ".env" if (Path(root) / ".env").exists() else Path(root) / ".env.example"


def stack_env(root: Path = ROOT, environ=None) -> dict[str, str]:
    """Compose's precedence: a shell environment variable beats the same key in the file."""
    env = read_env_file(env_file(root))
    environ = os.environ if environ is None else environ
    return {**env, **{k: environ[k] for k in env if k in environ}}


def variables(value: str) -> set[str]:
    """Names a compose string interpolates ($$ escapes excluded)."""
    return {m.group(2) or m.group(5) for m in _VAR.finditer(value) if not m.group(1)}


def interpolate(value: str, env: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1):
            return "$"
        name, op, arg = m.group(2) or m.group(5), m.group(3), m.group(4)
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if present:
            return env[name]
        if op in (":-", "-"):
            return arg
        raise KeyError(f"{name} is not set{': ' + arg if arg else ''} (define it in .env)")

    return _VAR.sub(sub, value)


def load_compose(root: Path = ROOT) -> dict:
    return yaml.safe_load((Path(root) / "docker-compose.yml").read_text())


def published_port(service: dict, env: dict[str, str]) -> int:
    """Host port of the first `host_ip:host_port:container_port` mapping."""
    return int(interpolate(str(service["ports"][0]), env).split(":")[1])


def _with_address(uri: str, host: str, port: int) -> str:
    parts = urlsplit(uri)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def native_args(
    compose: dict, env: dict[str, str], *, db_port: int, artifacts: str | Path
) -> list[str]:
    """`mlflow server ...` args from compose with only the addresses made local."""
    service = compose["services"][SERVICE]
    cmd = [interpolate(str(arg), env) for arg in service["command"]]
    if cmd[:2] != ["mlflow", "server"]:
        raise ValueError(f"expected the {SERVICE} command to start with 'mlflow server': {cmd[:2]}")
    args = cmd[1:]
    rewrites = {
        "--host": "127.0.0.1",
        "--port": str(published_port(service, env)),
        "--artifacts-destination": str(Path(artifacts).resolve()),
        "--backend-store-uri": lambda uri: _with_address(uri, "127.0.0.1", db_port),
    }
    for i, arg in enumerate(args[:-1]):
        if arg in rewrites:
            new = rewrites.pop(arg)
            args[i + 1] = new(args[i + 1]) if callable(new) else new
    if rewrites:
        raise ValueError(f"compose {SERVICE} command lacks {sorted(rewrites)} as separate items")
    return args


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    args_p = sub.add_parser("args", help="NUL-separated `mlflow` arguments")
    args_p.add_argument("--db-port", type=int, default=None, help="default: $TRACKING_PG_PORT")
    args_p.add_argument("--artifacts", default=str(ROOT / ".tracking" / "mlartifacts"))
    sub.add_parser("env", help="the stack's variables as shell assignments")
    opts = parser.parse_args(argv)

    env = stack_env()
    if opts.what == "env":
        for key, value in env.items():
            print(f"{key}={shlex.quote(value)}")
        return 0
    db_port = opts.db_port or int(env.get("TRACKING_PG_PORT", "5433"))
    args = native_args(load_compose(), env, db_port=db_port, artifacts=opts.artifacts)
    sys.stdout.write("".join(a + "\0" for a in args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
