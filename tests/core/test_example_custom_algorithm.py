"""The example algorithm plugin of docs/algorithms.md (examples/custom_algorithm): the docs show
exactly its code, its entry point names its plugin module, and it trains through a real Trainer
resolved by name from a fresh plugin manager holding just that plugin."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from agentlightning_core import PromptTemplate, Trainer, rollout
from agentlightning_core.plugin_manager import AglPluginManager

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_algorithm"
DOCS = [ROOT / "docs" / "algorithms.md", ROOT / "docs" / "agents.md"]
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w+\n(.*?)\n```", re.S)


@pytest.fixture
def plugin() -> Iterator[ModuleType]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield importlib.import_module("agentlightning_prompt_search.plugin")
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [n for n in sys.modules if n.startswith("agentlightning_prompt_search")]:
            del sys.modules[name]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_code_blocks_marked_with_a_file_are_that_file(doc: Path) -> None:
    blocks = FILE_BLOCK.findall(doc.read_text())
    if doc.name == "algorithms.md":
        assert len(blocks) >= 3
    for path, code in blocks:
        assert code == (ROOT / path).read_text().rstrip(), f"{doc.name}: the block for {path} is out of date"


def test_the_entry_point_names_the_plugin_module(plugin: ModuleType) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["agentlightning"] == {"prompt_search": plugin.__name__}
    assert project["dependencies"] == ["agentlightning-core>=0.1.0"]  # by name and version


def test_the_plugin_registers_prompt_search(plugin: ModuleType) -> None:
    manager = AglPluginManager(load_entry_points=False, plugins=[plugin])
    info = next(i for i in manager.plugin_infos() if i.module == plugin.__name__)
    assert info.registered == {"algorithm": ["prompt_search"]} and not info.errors
    algorithm = manager.algorithm_factory("prompt_search")(candidates=["x"])
    assert type(algorithm).__name__ == "PromptSearch"


@rollout
def quiz_agent(task: dict[str, str], prompt: PromptTemplate) -> float:
    """Stands in for an LLM that answers well only when asked to be brief."""
    text = prompt.format(**task)
    return 1.0 if text.startswith("Answer briefly") and task["question"] in text else 0.2


def test_prompt_search_trains_through_a_trainer_and_finds_the_best_prompt(
    plugin: ModuleType, tmp_path: Path
) -> None:
    manager = AglPluginManager(load_entry_points=False, plugins=[plugin])
    candidates = ["Q: {question}", "Answer briefly: {question}", "Think step by step: {question}"]
    trainer = Trainer(
        algorithm="prompt_search",
        manager=manager,
        candidates=candidates,
        store="memory://",
        bus="memory",
        serve=False,
        output_dir=tmp_path,
        progress=False,
        concurrency=2,
    )
    train = [{"question": f"q{i}"} for i in range(4)]
    result = trainer.fit(quiz_agent, train, val_data=[{"question": "v"}])
    best = trainer.best_resources().resources["prompt"]
    assert isinstance(best, PromptTemplate) and best.template == "Answer briefly: {question}"
    assert result.best_score == 1.0  # on the validation task
    train_means = [m["train/reward_mean"] for m in result.metrics if "train/reward_mean" in m]
    assert train_means == pytest.approx([0.2, 1.0, 0.2])
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["val/reward_mean"] == 1.0


def test_prompt_search_without_candidates_says_what_to_pass(plugin: ModuleType) -> None:
    manager = AglPluginManager(load_entry_points=False, plugins=[plugin])
    with pytest.raises(ValueError, match=r"candidates=\[\.\.\.\]"):
        Trainer(algorithm="prompt_search", manager=manager, candidates=[], serve=False)


def test_installed_through_its_real_entry_point() -> None:
    """`make install` installs examples that are distributions; then the name resolves like any plugin's."""
    pytest.importorskip("agentlightning_prompt_search", reason="pip install -e examples/custom_algorithm")
    manager = AglPluginManager()
    registry = manager.registry("agl_register_algorithms")
    assert "prompt_search" in registry
    info = next(i for i in manager.plugin_infos() if i.name == "prompt_search")
    assert info.distribution == "agentlightning-prompt-search" and not info.errors
