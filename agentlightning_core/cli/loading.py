"""Loading what the command line names: ``module:object`` agents, data files, ``k=v`` options."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import click

from ..agent import LitAgent, as_agent


def load_object(spec: str) -> Any:
    """``package.module:name`` or ``path/to/file.py:name`` (``name`` may be dotted)."""
    module_part, sep, attr = spec.partition(":")
    if not sep or not module_part or not attr:
        raise click.BadParameter(
            f"{spec!r} is not MODULE:OBJECT (e.g. my_agents:calc_agent or ./agent.py:calc_agent)"
        )
    if module_part.endswith(".py") or "/" in module_part:
        path = Path(module_part).resolve()
        if not path.is_file():
            raise click.BadParameter(f"agent file {path} does not exist")
        name = f"_agl_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise click.BadParameter(f"cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent))  # its sibling modules import as in a script
        module_spec.loader.exec_module(module)
    else:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # like `python -m`: the current directory imports
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise click.BadParameter(f"cannot import module {module_part!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise click.BadParameter(f"{module_part!r} has no attribute {attr!r}") from None
    return obj


def load_agent(spec: str) -> LitAgent[Any]:
    """A ``LitAgent`` instance, a ``LitAgent`` subclass (built with no arguments), or a function."""
    obj = load_object(spec)
    if isinstance(obj, type) and issubclass(obj, LitAgent):
        return obj()
    try:
        return as_agent(obj)
    except TypeError as exc:
        raise click.BadParameter(f"{spec}: {exc}") from exc


def load_data(path: str) -> list[Any]:
    """Tasks from ``.jsonl`` (one JSON value per line) or ``.json`` (a list)."""
    file = Path(path)
    if not file.is_file():
        raise click.BadParameter(f"data file {file} does not exist")
    text = file.read_text()
    try:
        if file.suffix == ".json":
            data = json.loads(text)
            if not isinstance(data, list):
                raise click.BadParameter(f"{file} must hold a JSON list of tasks")
            return data
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{file} line {exc.lineno}: not valid JSON ({exc.msg})") from exc


def parse_values(pairs: tuple[str, ...], what: str = "--option") -> dict[str, Any]:
    """``k=v`` pairs; a value is JSON when it parses (``lr=0.1``, ``steps=[1,2]``), else a string."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{what} {pair!r} is not KEY=VALUE (e.g. {what} epochs=3)")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    return values


def loop_runner() -> Any:
    """uvloop's runner when installed (the HTTP client is several times faster on it)."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        return asyncio.run
    return uvloop.run
