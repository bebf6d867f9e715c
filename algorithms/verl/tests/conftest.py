"""Fixtures of the verl tests; the recorded run itself is in ``verl_recorded_run.py`` (a module
name no other test folder uses: the suite runs with ``--import-mode=importlib``, so this folder
is put on ``sys.path`` here)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see the Makefile)
sys.path.insert(0, str(Path(__file__).parent))

from verl_recorded_run import TASKS, RecordedRun, make_tiny_model, run_recorded, run_sync


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> RecordedRun:
    """2 rollouts of each of 3 tasks, collected once for the whole session."""
    from agentlightning_verl import VERLConfig

    config = VERLConfig(model_path="unused", tasks_per_step=3, group_size=2, ppo_mini_batch_size=3)
    return run_sync(run_recorded(tmp_path_factory.mktemp("run"), config, list(TASKS)))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    return make_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
