"""``SpanTree`` drawings without the proxy: the text tree, the SVG, and the PNG/PDF that matplotlib
draws when Graphviz's ``dot`` is not installed (the default here and in CI)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from agentlightning_otel import SpanTree
from agentlightning_otel import tree as tree_module
from rich.console import Console

from agentlightning_core.types import Reward, Span, semconv


def _spans() -> list[Span]:
    ids = {"rollout_id": "ro-1", "attempt_id": "at-1"}
    root = Span(name="agentlightning.rollout", start_time=1.0, end_time=2.0, **ids)
    agent = Span(
        name="invoke_agent planner",
        parent_id=root.span_id,
        start_time=1.1,
        end_time=1.8,
        attributes={semconv.SPAN_TYPE: "agent", semconv.AGENT_NAME: "planner"},
        **ids,
    )
    llm = Span(
        name="gen_ai.chat",
        parent_id=agent.span_id,
        start_time=1.2,
        end_time=1.4,
        attributes={
            semconv.SPAN_TYPE: "llm",
            semconv.GEN_AI_REQUEST_MODEL: "m",
            semconv.AGENT_NAME: "planner",
        },
        **ids,
    )
    tool = Span(
        name="execute_tool lookup",
        parent_id=agent.span_id,
        start_time=1.5,
        end_time=1.6,
        attributes={semconv.SPAN_TYPE: "tool", semconv.TOOL_RESULT: {"found": 3}},
        **ids,
    )
    reward = Reward(value=1.0, timestamp=1.9).to_span("ro-1", "at-1", parent_id=root.span_id)
    return [tool, reward, llm, agent, root]  # out of order on purpose


def test_text_tree_nests_children_under_parents_in_start_order() -> None:
    text = SpanTree(_spans()).text()
    lines = [line.strip("│├└─ ") for line in text.splitlines()]
    assert lines[0] == "trace (5 spans)"
    assert lines[1].startswith("[other] agentlightning.rollout")
    assert lines[2].startswith("[agent] invoke_agent planner")
    assert lines[3].startswith("[llm] gen_ai.chat model=m agent=planner")
    assert lines[4].startswith("[tool] execute_tool lookup -> {'found': 3}")
    assert lines[5].startswith("[reward] agentlightning.reward = 1.0")


def _no_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = tree_module.shutil.which
    monkeypatch.setattr(tree_module.shutil, "which", lambda name: None if name == "dot" else real_which(name))


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF")])
def test_png_and_pdf_are_drawn_by_matplotlib_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, magic: bytes
) -> None:
    pytest.importorskip("matplotlib")
    _no_dot(monkeypatch)
    console = Console(record=True, width=120)
    written = SpanTree(_spans()).visualize("tree_graph", tmp_path / "out" / f"trace{suffix}", console=console)
    assert written.read_bytes().startswith(magic)
    assert "invoke_agent planner" in console.export_text()  # the terminal tree is printed too
    if suffix == ".png":  # the size the SVG layout gives: 3 leaves wide, 3 levels deep
        import struct

        width, height = struct.unpack(">II", written.read_bytes()[16:24])
        assert (width, height) == (3 * 210 + 20, 3 * 80 + 36)


def test_without_dot_or_matplotlib_png_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_dot(monkeypatch)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(RuntimeError, match="apt-get install graphviz.*pip install matplotlib"):
        SpanTree(_spans()).visualize("tree_graph", tmp_path / "trace.png", console=Console(quiet=True))
    svg = SpanTree(_spans()).visualize("tree_graph", tmp_path / "trace.svg", console=Console(quiet=True))
    assert svg.read_text().count("<rect") == 6  # background + 5 spans


def test_unknown_kind_or_format_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    tree = SpanTree(_spans())
    with pytest.raises(ValueError, match="tree_graph"):
        tree.visualize("flame", tmp_path / "trace.svg")
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        tree.visualize("tree_graph", tmp_path / "trace.jpg")
    assert not list(tmp_path.iterdir())
