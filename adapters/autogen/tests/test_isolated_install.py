"""This adapter installs alone (core + its declared dependencies) into a fresh venv and passes
its own tests there. Takes one to three minutes (pip resolves the framework from PyPI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("AGL_ISOLATED_INSTALL") == "1", reason="already inside the isolated venv")
def test_installs_alone_and_passes_its_tests_in_a_fresh_venv() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_isolated_install.py"), "adapters/autogen"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout, tail
