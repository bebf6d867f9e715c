"""Optional drivers: a missing one fails with one line that names the extra bringing it.

Every distribution imports its third-party packages (database drivers, frameworks, torch) only
when a factory first builds something. If one is missing, Python's own error
(``ModuleNotFoundError: No module named 'asyncpg'``) says nothing about how to get it; the
factories here turn it into :class:`MissingDependencyError`, whose message is one line ending in
the pip command, e.g. ``pip install "agentlightning-sql[postgres]"``. A dependency that is not in
an extra (``extra=None``) is part of the distribution itself, so the command reinstalls that: pip
then installs whatever of its declared dependencies is missing.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, TypeVar

from .errors import AglError
from .registry import pip_command

F = TypeVar("F", bound=Callable[..., Any])


class MissingDependencyError(AglError, ImportError):
    """A package a plugin needs is not installed; the message ends with the pip command."""

    def __init__(self, what: str, module: str, distribution: str, extra: str | None = None) -> None:
        self.module = module
        self.distribution = distribution
        self.extra = extra
        self.command = pip_command(distribution, extra)
        super().__init__(
            f"{what} needs the {module!r} package, which is not installed; install it with: {self.command}",
            name=module,
        )


def _root(name: str | None) -> str:
    return (name or "").split(".")[0]


def require(module: str, *, what: str, distribution: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``distribution[extra]``.

    Only the module itself (or one of its own submodules) missing is translated: a missing
    package deeper down, imported by ``module``, is a broken install of that package and keeps
    Python's error.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if _root(exc.name) != _root(module):
            raise
        raise MissingDependencyError(what, _root(module), distribution, extra) from None


def missing(module: str) -> bool:
    """Whether ``module`` cannot be found, without importing it (a finder may also raise)."""
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def needs(
    distribution: str,
    drivers: Mapping[str, str | None],
    *,
    what: str,
    eager: Iterable[str] | None = None,
) -> Callable[[F], F]:
    """Decorate a plugin factory with its drivers: top-level module → the extra that brings it
    (``None`` for a plain dependency of the distribution).

    Before the factory runs, each module of ``eager`` (default: every driver) is looked up, so the
    error comes when the plugin is asked for by name, not later from deep inside a run; while it
    runs, a ``ModuleNotFoundError`` for a driver is translated too. Other import errors pass.
    """
    checked = tuple(drivers if eager is None else eager)

    def decorate(factory: F) -> F:
        @functools.wraps(factory)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for module in checked:
                if missing(module):
                    raise MissingDependencyError(what, module, distribution, drivers.get(module))
            try:
                return factory(*args, **kwargs)
            except ModuleNotFoundError as exc:
                root = _root(exc.name)
                if root not in drivers:
                    raise
                raise MissingDependencyError(what, root, distribution, drivers[root]) from None

        return wrapper  # type: ignore[return-value]

    return decorate
