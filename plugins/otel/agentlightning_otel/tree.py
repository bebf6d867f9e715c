"""A rollout's spans as a tree: printed in the terminal, drawn as an SVG (or PNG) graph.

``SpanTree`` works on any list of core spans: the tracer's last attempt
(``tracer.last_trace()``) or everything the store holds for a rollout, proxy LLM calls included
(``SpanTree(await store.query_spans(rollout_id))``).
"""

from __future__ import annotations

import html
import io
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from agentlightning_core.types import Span, semconv

_COLORS = {"agent": "#cfe3ff", "tool": "#ffe7c2", "llm": "#d8f5d0", "reward": "#ffd6e0", "other": "#eeeeee"}
_BOX_W, _BOX_H, _GAP_X, _GAP_Y = 190, 44, 20, 36


def describe(span: Span) -> str:
    """One line about a span: name, type, and the attribute that matters for its type."""
    attrs = span.attributes
    parts = [span.name]
    kind = span.span_type
    if kind == "llm":
        parts.append(
            f"model={attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)}"
        )
    if attrs.get(semconv.AGENT_NAME) and kind != "agent":
        parts.append(f"agent={attrs[semconv.AGENT_NAME]}")
    if kind == "tool" and semconv.TOOL_RESULT in attrs:
        parts.append(f"-> {str(attrs[semconv.TOOL_RESULT])[:40]}")
    if kind == "reward":
        parts.append(f"= {attrs.get(semconv.REWARD_VALUE)}")
    if span.end_time is not None:
        parts.append(f"{(span.end_time - span.start_time) * 1000:.0f} ms")
    return " ".join(parts)


class SpanTree:
    """Spans arranged by ``parent_id``; a span whose parent is not in the list is a root."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self.spans = sorted(spans, key=lambda s: (s.start_time, s.sequence_id or 0))
        ids = {s.span_id for s in self.spans}
        self.children: dict[str, list[Span]] = {}
        self.roots: list[Span] = []
        for span in self.spans:
            if span.parent_id and span.parent_id in ids and span.parent_id != span.span_id:
                self.children.setdefault(span.parent_id, []).append(span)
            else:
                self.roots.append(span)

    def __len__(self) -> int:
        return len(self.spans)

    def find(self, *, name: str | None = None, span_type: str | None = None) -> list[Span]:
        return [
            s
            for s in self.spans
            if (name is None or s.name == name) and (span_type is None or s.span_type == span_type)
        ]

    def depth_first(self) -> list[tuple[int, Span]]:
        out: list[tuple[int, Span]] = []

        def walk(span: Span, depth: int) -> None:
            out.append((depth, span))
            for child in self.children.get(span.span_id, []):
                walk(child, depth + 1)

        for root in self.roots:
            walk(root, 0)
        return out

    # ------------------------------------------------------------------ text
    def rich_tree(self) -> Tree:
        top = Tree(f"trace ({len(self.spans)} spans)")

        def add(node: Tree, span: Span) -> None:
            branch = node.add(escape(f"[{span.span_type}] {describe(span)}"))
            for child in self.children.get(span.span_id, []):
                add(branch, child)

        for root in self.roots:
            add(top, root)
        return top

    def text(self, width: int = 120) -> str:
        buffer = io.StringIO()
        Console(file=buffer, width=width, no_color=True, force_terminal=False).print(self.rich_tree())
        return buffer.getvalue()

    def print(self, console: Console | None = None) -> None:
        (console or Console()).print(self.rich_tree())

    # ------------------------------------------------------------------ graph
    def to_dot(self) -> str:
        lines = ["digraph trace {", "  node [shape=box, style=filled, fontname=Helvetica, fontsize=10];"]
        for span in self.spans:
            color = _COLORS.get(span.span_type, _COLORS["other"])
            label = describe(span).replace('"', "'")
            lines.append(f'  "{span.span_id}" [label="{label}", fillcolor="{color}"];')
        for parent, kids in self.children.items():
            lines.extend(f'  "{parent}" -> "{kid.span_id}";' for kid in kids)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _layout(self) -> tuple[dict[str, tuple[float, float]], float, float]:
        """Top-left corner of each span's box in a top-down tree drawing, and the drawing's size:
        leaves side by side, a parent centred over its children."""
        slots: dict[str, tuple[float, int]] = {}
        next_leaf = [0]

        def place(span: Span, depth: int) -> float:
            kids = self.children.get(span.span_id, [])
            if kids:
                xs = [place(kid, depth + 1) for kid in kids]
                x = (xs[0] + xs[-1]) / 2
            else:
                x = float(next_leaf[0])
                next_leaf[0] += 1
            slots[span.span_id] = (x, depth)
            return x

        for root in self.roots:
            place(root, 0)
        max_depth = max((d for _, d in slots.values()), default=0)
        width = max(1, next_leaf[0]) * (_BOX_W + _GAP_X) + _GAP_X
        height = (max_depth + 1) * (_BOX_H + _GAP_Y) + _GAP_Y
        corners = {
            span_id: (_GAP_X + x * (_BOX_W + _GAP_X), float(_GAP_Y + depth * (_BOX_H + _GAP_Y)))
            for span_id, (x, depth) in slots.items()
        }
        return corners, width, height

    def to_svg(self) -> str:
        """A top-down tree drawing; needs nothing installed."""
        corners, width, height = self._layout()
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            'font-family="Helvetica, Arial, sans-serif" font-size="11">',
            f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        ]
        for parent, kids in self.children.items():
            px, py = corners[parent]
            for kid in kids:
                kx, ky = corners[kid.span_id]
                out.append(
                    f'<line x1="{px + _BOX_W / 2:.0f}" y1="{py + _BOX_H:.0f}" x2="{kx + _BOX_W / 2:.0f}" '
                    f'y2="{ky:.0f}" stroke="#777"/>'
                )
        for span in self.spans:
            x, y = corners[span.span_id]
            color = _COLORS.get(span.span_type, _COLORS["other"])
            first, rest = span.name, describe(span)[len(span.name) :].strip()
            out.append(
                f"<g><title>{html.escape(describe(span))}</title>"
                f'<rect x="{x:.0f}" y="{y:.0f}" width="{_BOX_W}" height="{_BOX_H}" rx="6" fill="{color}" stroke="#555"/>'
                f'<text x="{x + 6:.0f}" y="{y + 17:.0f}" font-weight="bold">{html.escape(first[:30])}</text>'
                f'<text x="{x + 6:.0f}" y="{y + 33:.0f}">{html.escape(rest[:32])}</text></g>'
            )
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def to_image(self, path: str | Path) -> Path:
        """The same drawing as :meth:`to_svg`, rendered by matplotlib (PNG, PDF, or any format
        matplotlib writes); no pyplot, so the process's matplotlib backend is left alone.
        matplotlib is optional: ``pip install "agentlightning-otel[image]"``."""
        from agentlightning_core.optional import require

        require("matplotlib", what="SpanTree.to_image", distribution="agentlightning-otel", extra="image")
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch

        corners, width, height = self._layout()
        dpi = 100
        figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        FigureCanvasAgg(figure)
        axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
        axes.set_xlim(0, width)
        axes.set_ylim(height, 0)  # y grows downwards, as in the SVG
        axes.axis("off")
        for parent, kids in self.children.items():
            px, py = corners[parent]
            for kid in kids:
                kx, ky = corners[kid.span_id]
                axes.plot([px + _BOX_W / 2, kx + _BOX_W / 2], [py + _BOX_H, ky], color="#777777", lw=1)
        for span in self.spans:
            x, y = corners[span.span_id]
            color = _COLORS.get(span.span_type, _COLORS["other"])
            axes.add_patch(
                FancyBboxPatch(
                    (x, y), _BOX_W, _BOX_H, boxstyle="round,pad=0,rounding_size=6", fc=color, ec="#555555"
                )
            )
            first, rest = span.name, describe(span)[len(span.name) :].strip()
            axes.text(x + 6, y + 17, first[:30], fontsize=7.5, fontweight="bold", va="baseline")
            axes.text(x + 6, y + 33, rest[:32], fontsize=7.5, va="baseline")
        target = Path(path)
        figure.savefig(target, dpi=dpi)
        return target

    def visualize(
        self, kind: str = "tree_graph", path: str | Path = "trace.svg", *, console: Console | None = None
    ) -> Path:
        """Print the tree in the terminal and write it as a graph to ``path``.

        ``.svg`` is drawn here with no dependency; ``.png`` and ``.pdf`` are laid out by
        Graphviz's ``dot`` when it is installed (``apt-get install graphviz``), else drawn by
        matplotlib (``pip install matplotlib``).
        """
        if kind != "tree_graph":
            raise ValueError(f"visualize(kind=...) supports 'tree_graph', got {kind!r}")
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix not in (".svg", ".png", ".pdf"):
            raise ValueError(f"visualize(path=...) must end in .svg, .png or .pdf, got {target.name!r}")
        self.print(console)
        target.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".svg":
            target.write_text(self.to_svg())
            return target
        dot = shutil.which("dot")
        if dot is not None:
            subprocess.run(
                [dot, f"-T{suffix[1:]}", "-o", str(target)], input=self.to_dot().encode(), check=True
            )
            return target
        try:
            return self.to_image(target)
        except ImportError:
            raise RuntimeError(
                f"writing {target.name} needs Graphviz's `dot` program (apt-get install graphviz) or "
                "matplotlib (pip install matplotlib); or pass a path ending in .svg, which needs nothing"
            ) from None
