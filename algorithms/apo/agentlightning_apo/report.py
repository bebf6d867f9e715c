"""APO's outputs: ``history.json`` (everything), ``report.md`` (for people), ``best_prompt.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .state import APOState, Candidate


def write_outputs(state: APOState, out: Path, best_id: str, best_resources_id: str | None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    best = state.candidates[best_id]
    history = out / "history.json"
    payload: dict[str, Any] = {
        "best_id": best_id,
        "best_resources_id": best_resources_id,
        "best_score": state.final.scores[best_id] if state.final else best.mean,
        "initial_score": state.final.scores.get(state.initial_id) if state.final else None,
        **state.model_dump(mode="json"),
    }
    history.write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    best_path = out / "best_prompt.json"
    best_path.write_text(
        json.dumps(
            {
                "candidate": best_id,
                "resources_id": best_resources_id,
                "val_score": payload["best_score"],
                "prompts": {n: t.model_dump(mode="json") for n, t in best.prompts.items()},
            },
            indent=1,
            ensure_ascii=False,
        )
    )
    report = out / "report.md"
    report.write_text(render_report(state, best_id, best_resources_id))
    return {"history": history, "report": report, "best_prompt": best_path}


def load_best_prompts(path: str | Path) -> dict[str, str]:
    """The best prompt texts of a finished run, by resource name, from its ``best_prompt.json``
    (or the folder holding it): handy in a later process, when the trainer is gone."""
    path = Path(path)
    if path.is_dir():
        path = path / "best_prompt.json"
    data = json.loads(path.read_text())
    return {name: str(t["template"]) for name, t in data["prompts"].items()}


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _quote(text: str, limit: int = 1200) -> str:
    text = text.strip()
    if len(text) > limit:
        text = text[:limit] + " …"
    return "\n".join("> " + line for line in text.splitlines()) or "> (empty)"


def _lineage(state: APOState, cid: str) -> list[Candidate]:
    chain = []
    current: str | None = cid
    while current is not None:
        cand = state.candidates[current]
        chain.append(cand)
        current = cand.parent_id
    return list(reversed(chain))


def render_report(state: APOState, best_id: str, best_resources_id: str | None) -> str:
    best = state.candidates[best_id]
    final = state.final
    lines = ["# APO report", ""]
    if final is not None:
        lines.append(
            f"Best candidate **{best_id}**: val score {_score(final.scores[best_id])} on {final.n} val tasks; "
            f"the initial prompt ({state.initial_id}) scored {_score(final.scores.get(state.initial_id))} on the same tasks."
        )
    else:
        lines.append(
            f"Best candidate **{best_id}**: mean val reward {_score(best.mean)} over {len(best.samples)} val rollouts."
        )
    if best_id == state.initial_id:
        scored = sum(1 for c in state.candidates.values() if c.status == "candidate")
        rejected = sum(1 for c in state.candidates.values() if c.status == "rejected")
        lines.append(
            f"\nNo candidate beat the initial prompt ({scored} edit(s) scored, {rejected} rejected): "
            "the initial prompt is kept."
        )
    lines += [
        "",
        f"Published as resources `{best_resources_id}` (also the latest version: `trainer.best_resources()`).",
        f"Critic: {state.critic.get('model')} at {state.critic.get('endpoint')}; "
        f"editor: {state.editor.get('model')} at {state.editor.get('endpoint')}. "
        f"Run time {state.elapsed_s:.0f} s over {sum(1 for r in state.rounds if r.finished)} round(s).",
        "",
        "## Best prompt",
    ]
    for name, template in best.prompts.items():
        lines += ["", f"`{name}`:", "", "```text", template.template, "```"]
    lines += ["", "## How it got there", ""]
    for cand in _lineage(state, best_id):
        if cand.parent_id is None:
            lines.append(f"- **{cand.id}** (initial)")
            continue
        lines.append(f"- **{cand.id}**, from {cand.parent_id}, edits `{cand.edited}` after the critique:")
        lines.append("  " + _quote(cand.critique or "", 600).replace("\n", "\n  "))
    for record in state.rounds:
        lines += ["", f"## Round {record.round}", "", f"Beam before: {', '.join(record.beam_before)}."]
        for parent_id, exp in record.expansions.items():
            lines.append(
                f"\n**{parent_id}** on {len(exp.train_rollouts)} train tasks: mean reward {exp.train_mean:.3f}, "
                f"{exp.failures} below the failure threshold, prompt `{exp.target}` edited."
            )
            if exp.note:
                lines.append(f"\n_{exp.note}_")
            for crit in exp.critiques:
                lines += [
                    "",
                    f"Critique {crit.index} (from {len(crit.failures)} failures) → {', '.join(crit.children)}:",
                    "",
                    _quote(crit.text),
                ]
        if record.selection is not None:
            sel = record.selection
            lines += [
                "",
                f"Selection ({sel.strategy}): {sel.used} of {sel.budget} pulls spent; "
                + (f"rejected in order {', '.join(sel.rejected)}; " if sel.rejected else "")
                + f"kept {', '.join(record.beam_after) or '(unfinished)'}.",
            ]
    lines += [
        "",
        "## Every candidate",
        "",
        "| id | parent | round | status | pulls | val mean (minibatches) | final val | kept after rounds | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cand in sorted(state.candidates.values(), key=lambda c: c.rank):
        lines.append(
            f"| {cand.id} | {cand.parent_id or ''} | {cand.round} | {cand.status} | {cand.pulls} | "
            f"{_score(cand.mean) if cand.samples else '–'} | {_score(cand.final_score)} | "
            f"{', '.join(map(str, cand.in_beam_after))} | {(cand.reason or '').replace('|', '/')} |"
        )
    lines += ["", "Every prompt text, critique and editor reply is in `history.json`.", ""]
    return "\n".join(lines)
