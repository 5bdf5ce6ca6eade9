"""Register the best run, serve a logged model.

    python -m src.registry register --sweep-dir multirun/3f9c0a1b2d4e
    python -m src.registry register --comparison <comparison run id> --alias champion
    python -m src.registry serve models:/mnist-cnn@champion --port 5001
    python -m src.registry serve <run id>

argparse, as src.compare: the selection options are the same words.
"""

import argparse
import os
import sys
from typing import Optional

from mlflow.exceptions import MlflowException

from src.compare.cli import key_value
from src.compare.selection import Selection, open_client
from src.errors import BadInput
from src.registry import core
from src.tracking.store import tracking_uri


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m src.registry",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n")[1])
    p.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else "
                                          "sqlite:///mlflow.db in the current directory")
    commands = p.add_subparsers(dest="command", required=True)
    reg = commands.add_parser("register", help=f"register the run with the best {core.CHOOSE_BY}")
    reg.add_argument("--experiment", help="default: the one with the latest training run")
    reg.add_argument("--sweep-dir", help="only runs of this Hydra sweep, as Hydra printed it")
    reg.add_argument("--parent-run", metavar="RUN_ID", help="only child runs of this parent run")
    reg.add_argument("--filter", action="append", type=key_value, default=[],
                     metavar="KEY=VALUE", help="keep runs whose param equals VALUE (repeatable)")
    reg.add_argument("--comparison", metavar="RUN_ID",
                     help="the runs a `python -m src.compare` run compared")
    reg.add_argument("--name", help="registered model name (default: the experiment's name)")
    reg.add_argument("--alias", default="champion", help="alias of the new version")
    serve = commands.add_parser("serve", help="serve a logged model over HTTP (MLflow's server)")
    serve.add_argument("model", help="run id, runs:/<id>, models:/<name>@<alias>, "
                                     "models:/<name>/<version> or models:/<model id>")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5001)
    return p


def register(args: argparse.Namespace, uri: str) -> int:
    client = open_client(uri)
    sel = Selection(uri, args.experiment, dict(args.filter), args.sweep_dir, args.parent_run)
    runs = core.candidates(client, sel, args.comparison)
    name = args.name or client.get_experiment(runs[0].info.experiment_id).name
    done = core.register(client, runs, name, args.alias)
    best = done.run
    print(f"registered {done.name} version {done.version} as {done.uri}: run "
          f"{best.info.run_name} ({best.info.run_id}), {core.CHOOSE_BY} "
          f"{best.data.metrics[core.CHOOSE_BY]:.4f}, best of {len(runs)} run(s)")
    print(f"load it: mlflow.pyfunc.load_model('{done.uri}'); "
          f"serve it: python -m src.registry serve {done.uri}")
    return 0


def serve(args: argparse.Namespace, uri: str) -> None:
    """Check the model resolves, then become MLflow's scoring server (signals go straight
    to it). --env-manager local: the model runs in this environment, which logged it."""
    model_uri = core.resolve(open_client(uri), args.model)
    print(f"serving {args.model} ({model_uri}) at http://{args.host}:{args.port}/invocations",
          flush=True)
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
               "--env-manager", "local", "--host", args.host, "--port", str(args.port)]
    # MLflow starts `uvicorn` by name: this environment's, even when it is not activated.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    os.execve(sys.executable, command, {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path})


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    uri = tracking_uri(args.tracking_uri)
    try:
        if args.command == "register":
            return register(args, uri)
        serve(args, uri)
    except (BadInput, MlflowException) as err:
        message = err.message if isinstance(err, MlflowException) else str(err)
        print(f"registry: error: {message}", file=sys.stderr)
        return 1
    return 0
