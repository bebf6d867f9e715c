"""The ``agl`` entry point sets up logging with PII masking, on by default."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = """
import logging, sys
import click
from agentlightning_core.cli import cli

@cli.command("say")
def say():
    logging.getLogger("agentlightning_core.demo").warning("contact ada@example.com at 10.1.2.3")

cli(["say"], prog_name="agl", standalone_mode=False)
"""


def _run(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_LIGHTNING_PII_MASKING_ENABLED"}
    env.update({"AGL_NO_PLUGIN_COMMANDS": "1", **env_extra})
    done = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return done.stderr


def test_cli_log_lines_are_masked_by_default() -> None:
    err = _run({})
    assert "a**@e*****e.com at 10.*.*.3" in err and "ada@example.com" not in err


def test_cli_log_lines_are_plain_when_masking_is_off() -> None:
    err = _run({"AGENT_LIGHTNING_PII_MASKING_ENABLED": "false"})
    assert "contact ada@example.com at 10.1.2.3" in err
