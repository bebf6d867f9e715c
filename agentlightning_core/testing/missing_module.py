"""Run code in a fresh interpreter where some packages cannot be imported, as if uninstalled.

A meta-path finder placed first answers every import of a blocked top-level package with the
``ModuleNotFoundError`` Python raises for an absent package, so the code under test meets exactly
what a user without that driver meets, without building a venv per driver.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap

_PRELUDE = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Absent())
"""


def error_without(modules: list[str], code: str, *, timeout: float = 120) -> str:
    """Run ``code`` with ``modules`` absent. Returns what it printed: ``"<ExceptionType>: message"``
    for the exception it raised (``"no error"`` if none), so a test can also check it is one line."""
    script = (
        _PRELUDE
        + "try:\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
        + """
except BaseException as exc:
    print(f"{type(exc).__name__}: {exc}")
else:
    print("no error")
"""
    )
    env = {**os.environ, "AGL_DISABLED_PLUGINS": ""}
    done = subprocess.run(
        [sys.executable, "-c", script, ",".join(modules)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tempfile.gettempdir(),  # not a source tree: import the installed packages
    )
    if done.returncode != 0:
        raise AssertionError(f"the probe itself failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


#: the one-line errors a missing driver may raise (the core's, and the GPU stack's own)
ONE_LINE_ERRORS = ("MissingDependencyError: ", "GPUStackError: ", "VLLMUnavailableError: ")


def assert_names_the_pip_command(module: str, code: str, command: str, what: str) -> None:
    """Run ``code`` without ``module`` and check the error a user meets: one line, naming what was
    asked for (``what``, e.g. ``"adapter 'mcp'"``) and the missing module, ending with (or
    containing) the pip ``command`` that brings it. Every distribution's ``test_missing_driver.py``
    runs its cases through this."""
    printed = error_without([module], code)
    assert "\n" not in printed, printed  # one line, no traceback
    assert what in printed and module in printed, printed
    assert printed.endswith(command) or f"{command} " in printed, printed
    assert printed.startswith(ONE_LINE_ERRORS), printed
