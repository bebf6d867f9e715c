"""GRPO talks to engines only through the core's ``LLMEngine`` contract: no module of the
algorithm imports an engine plugin, and the contract's default ``run_compute`` runs work off the
event loop, so an engine that does not override it still serves a learner."""

from __future__ import annotations

import ast
import asyncio
import threading
from pathlib import Path

import agentlightning_grpo

from agentlightning_core.engine import LLMEngine

OWN = {"agentlightning_core", "agentlightning_grpo"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_algorithm_imports_another_agentlightning_distribution() -> None:
    package = Path(agentlightning_grpo.__file__).parent
    files = sorted(package.glob("*.py"))
    assert len(files) >= 5
    offending = {
        f"{f.name}: {name}"
        for f in files
        for name in imported_modules(f)
        if name.split(".")[0].startswith("agentlightning") and name.split(".")[0] not in OWN
    }
    assert offending == set()


def test_the_contracts_default_run_compute_runs_off_the_event_loop_and_returns_the_result() -> None:
    class Minimal(LLMEngine):
        name = "minimal"

    def work(a: int, b: int = 0) -> tuple[int, int]:
        return a + b, threading.get_ident()

    async def main() -> tuple[tuple[int, int], int]:
        return await Minimal().run_compute(work, 2, b=3), threading.get_ident()

    (total, worker), loop_thread = asyncio.run(main())
    assert total == 5
    assert worker != loop_thread
