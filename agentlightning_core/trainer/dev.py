"""``Trainer.dev``: what each rollout of a dry run did — status, reward, error, spans.

Meant for the first minutes with a new agent: does it run at all, does it reach the LLM, does
it report a reward. Nothing is trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree

from ..algorithm import RolloutOutcome
from ..types import Attempt, Span, semconv


@dataclass
class DevRollout:
    """One rollout of a dry run with the attempts the store recorded for it."""

    outcome: RolloutOutcome
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return self.attempts[-1].error if self.attempts else None

    @property
    def traceback(self) -> str | None:
        if not self.attempts:
            return None
        value = self.attempts[-1].metadata.get("traceback")
        return str(value) if value else None


@dataclass
class DevReport:
    """What ``Trainer.dev`` returns (and prints)."""

    rollouts: list[DevRollout] = field(default_factory=list)

    @property
    def n_succeeded(self) -> int:
        return sum(1 for r in self.rollouts if r.outcome.succeeded)

    @property
    def rewards(self) -> list[float | None]:
        return [r.outcome.reward for r in self.rollouts]

    def print(self, console: Console | None = None, *, show_spans: bool = True) -> None:
        console = console or Console()
        for index, item in enumerate(self.rollouts, 1):
            console.print(_panel(index, item, show_spans))
        console.print(
            f"[bold]dev:[/] {self.n_succeeded}/{len(self.rollouts)} rollouts succeeded; "
            f"rewards: {', '.join('-' if r is None else f'{r:.4g}' for r in self.rewards) or 'none'}"
        )


def _panel(index: int, item: DevRollout, show_spans: bool) -> Panel:
    outcome = item.outcome
    rollout = outcome.rollout
    colour = "green" if outcome.succeeded else "red"
    head = Text.assemble(
        (f"{rollout.status.value}", f"bold {colour}"),
        f"  reward={'-' if outcome.reward is None else f'{outcome.reward:.4g}'}",
        f"  attempts={rollout.num_attempts}  spans={len(outcome.spans)}",
    )
    if rollout.start_time and rollout.end_time:
        head.append(f"  {rollout.end_time - rollout.start_time:.2f}s")
    parts: list[Any] = [head, Text(f"input: {_short(rollout.input, 300)}", style="dim")]
    if item.error:
        parts.append(Text(f"error: {item.error}", style="red"))
        if item.traceback:
            parts.append(Text(item.traceback.rstrip()[-1500:], style="dim red"))
    if show_spans and outcome.spans:
        parts.append(_span_tree(outcome.spans))
    return Panel(Group(*parts), title=f"rollout {index}: {rollout.rollout_id}", border_style=colour)


def _span_tree(spans: list[Span]) -> Tree:
    tree = Tree("spans", guide_style="dim")
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)

    def add(node: Tree, parent: str | None) -> None:
        for span in children.get(parent, []):
            add(node.add(_span_label(span)), span.span_id)

    add(tree, None)
    return tree


def _span_label(span: Span) -> Text:
    attrs = span.attributes
    label = Text.assemble((span.name, "bold"), f" [{span.span_type}]")
    if span.end_time is not None:
        label.append(f" {1000 * (span.end_time - span.start_time):.0f} ms", style="dim")
    if span.span_type == "reward":
        label.append(f" {attrs.get(semconv.REWARD_NAME)}={attrs.get(semconv.REWARD_VALUE)}", style="yellow")
    elif span.span_type == "llm":
        model = attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)
        agent = attrs.get(semconv.AGENT_NAME)
        tokens = attrs.get(semconv.GEN_AI_OUTPUT_TOKENS)
        extras = [f"model={model}" if model else "", f"agent={agent}" if agent else ""]
        extras.append(f"out_tokens={tokens}" if tokens is not None else "")
        label.append(" " + " ".join(e for e in extras if e), style="cyan")
        response = attrs.get(semconv.LLM_RESPONSE) or {}
        choices = response.get("choices") if isinstance(response, dict) else None
        if choices:
            message = choices[0].get("message") or {}
            content = message.get("content") if isinstance(message, dict) else choices[0].get("text")
            if content:
                label.append(f"\n  → {_short(content, 200)}", style="dim")
    if span.status.code.value == "error":
        label.append(f" error: {span.status.description or ''}", style="red")
    return label


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
