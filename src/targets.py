"""The config's open doors: `_target_` nodes that name a callable (a model builder, a dataset
loader, a regularizer), in this project or in the user's own package.

The rest of the config is closed (src/config.py); here the callable's signature is the schema:
a key it does not take is refused naming the closest one it does, before any work starts.
"""

import difflib
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from hydra.utils import get_object, instantiate

from src.errors import ConfigError


class TargetError(ConfigError):
    """A `_target_` that does not import, or keys its callable does not take."""


def closest(word: str, options: Iterable[str]) -> str:
    """` (did you mean x?)`, or nothing when no option is close."""
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.7)
    return f" (did you mean {found[0]}?)" if found else ""


def resolve(node: dict, key: str) -> Callable:
    """The callable `node['_target_']` names; `key` is where the node sits (`model`)."""
    target = node.get("_target_")
    if not isinstance(target, str) or not target:
        raise TargetError(f"{key}._target_ is missing: name the function or class that "
                          f"{key} is built with, e.g. {key}._target_=mypackage.module.name")
    try:
        found = get_object(target)
    except Exception as exc:  # Hydra wraps the ImportError or AttributeError it met
        cause = exc.__cause__ or exc
        raise TargetError(f"{key}._target_={target} cannot be imported "
                          f"({type(cause).__name__}: {str(cause).splitlines()[0]}); is its "
                          "package on PYTHONPATH or installed?") from exc
    if not callable(found):
        raise TargetError(f"{key}._target_={target} is not a function or class")
    return found


def check_arguments(fn: Callable, node: dict, key: str, given: Iterable[str] = ()) -> None:
    """Refuse keys of `node` that `fn` does not take, and arguments it needs that neither the
    node nor the project (`given`) supplies."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    kinds = {p.kind for p in parameters.values()}
    target, given = node["_target_"], set(given)
    takes = [name for name, p in parameters.items()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name not in given]
    if inspect.Parameter.VAR_KEYWORD not in kinds:
        for name in node:
            if not name.startswith("_") and name not in takes:
                listed = ", ".join(takes) or "no settings"
                raise TargetError(f"{key}.{name}: {target} takes no argument {name!r}"
                                  f"{closest(name, takes)}; it takes: {listed}")
    for name in takes:
        required = parameters[name].default is inspect.Parameter.empty
        if required and parameters[name].kind != parameters[name].VAR_POSITIONAL \
                and name not in node:
            raise TargetError(f"{key}.{name} is missing: {target} needs it "
                              f"(add `{name}: ...` to its YAML, or +{key}.{name}=...)")


def accepts(fn: Callable, name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind == p.VAR_KEYWORD for p in parameters.values())


def call(node: dict, key: str, given: dict[str, Any], optional: dict[str, Any] = None) -> Any:
    """Resolve, check and call `node` with its keys plus the project's `given` arguments (and
    those of `optional` it takes), as Hydra's `instantiate` does: nested `_target_`s included,
    plain lists and dicts. The call's own errors propagate unwrapped."""
    fn = resolve(node, key)
    given = {**given, **{k: v for k, v in (optional or {}).items() if accepts(fn, k)}}
    check_arguments(fn, node, key, given)
    kwargs = instantiate({k: v for k, v in node.items() if k != "_target_"}, _convert_="all")
    try:
        return fn(**kwargs, **given)
    except InvalidArgument as exc:
        raise TargetError(f"{key}.{exc}") from exc


class InvalidArgument(ValueError):
    """Raised by a `_target_` callable for an argument out of range; reported in one line as
    `<key>.<name>=<value> is invalid: it must be <rule>`."""

    def __init__(self, name: str, value: Any, rule: str):
        super().__init__(f"{name}={value!r} is invalid: it must be {rule}")
        self.name, self.value, self.rule = name, value, rule
