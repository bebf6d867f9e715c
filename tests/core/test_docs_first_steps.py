"""The new-user docs run as written: the code in docs/reading-runs.md and the example file in
docs/resources.md (the docs are read by people who paste them)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentlightning_core.resources_file import parse_resources

DOCS = Path(__file__).resolve().parents[2] / "docs"


def blocks(doc: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / doc).read_text(), re.S)


@pytest.mark.slow
def test_reading_runs_snippet_runs_and_reads_every_rollout(tmp_path: Path) -> None:
    pytest.importorskip("agentlightning_sql")
    (code,) = blocks("reading-runs.md", "python")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("ro-")]
    assert len(lines) == 4, done.stdout
    assert all("'agentlightning.rollout'" in line and "'agentlightning.reward'" in line for line in lines)
    assert sorted(line.split("} ")[1].split()[0] for line in lines) == ["0.0", "0.0", "1.0", "1.0"]  # rewards


def test_resources_doc_example_is_a_valid_file() -> None:
    (example,) = blocks("resources.md", "json")
    loaded = parse_resources(json.loads(example), "docs/resources.md")
    assert set(loaded) == {"prompt", "llm"}
