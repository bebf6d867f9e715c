"""This adapter installs alone (core + its declared dependencies) into a fresh venv and passes
its own tests there. Takes one to three minutes (pip resolves the framework from PyPI).

Inside that venv (``AGL_ISOLATED_INSTALL=1``) the second test checks that the tests really run on
the installed distributions, not on this repository's source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import agentlightning_langgraph
import agentlightning_otel
import pytest

import agentlightning_core

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("AGL_ISOLATED_INSTALL") == "1", reason="already inside the isolated venv")
def test_installs_alone_and_passes_its_tests_in_a_fresh_venv() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_isolated_install.py"), "adapters/langgraph"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout, tail


@pytest.mark.skipif(
    os.environ.get("AGL_ISOLATED_INSTALL") != "1", reason="runs inside the isolated venv only"
)
def test_inside_the_fresh_venv_everything_imports_from_it() -> None:
    venv = Path(sys.prefix).resolve()
    for module in (agentlightning_core, agentlightning_otel, agentlightning_langgraph):
        assert module.__file__ is not None
        assert venv in Path(module.__file__).resolve().parents, (module.__name__, module.__file__)
