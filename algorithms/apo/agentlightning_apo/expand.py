"""One beam prompt's expansion: train minibatch → failures → critiques → edits.

This is the "textual gradient" step of ProTeGi. Each critique is computed from a different
group of failures (the worst first), and each critique yields ``branch_factor`` independent
edits. An edit that breaks the template is kept in the history as ``rejected``, with the reason.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Sequence
from typing import Any

from agentlightning_core.algorithm import RolloutOutcome, TrainerContext
from agentlightning_core.triplet import TraceToTriplet

from .aio import gather_or_cancel
from .chat import ChatClient
from .config import APOConfig
from .instructions import critic_messages, editor_messages
from .state import Candidate, CritiqueRecord, Expansion
from .templates import extract_prompt, validate_edit
from .traces import Failure, failures_of

log = logging.getLogger(__name__)


def train_indices(cfg: APOConfig, n_train: int, round_: int, parent_id: str) -> list[int]:
    """The parent's train minibatch for this round: a seeded sample without replacement."""
    rng = random.Random(f"{cfg.seed}:train:{round_}:{parent_id}")
    return rng.sample(range(n_train), min(cfg.train_batch_size, n_train))


def call_seed(*parts: object) -> int:
    """A stable 31-bit seed for one critic or editor call, from its place in the search."""
    return zlib.crc32(":".join(map(str, parts)).encode()) & 0x7FFFFFFF


def failure_groups(failures: Sequence[Failure], per_group: int, groups: int) -> list[list[Failure]]:
    """Consecutive groups of the worst-first failures; when they run out, groups start over from
    the worst (the critic is sampled, so a repeated group still gives another critique)."""
    out: list[list[Failure]] = []
    for g in range(groups):
        group = list(failures[g * per_group : (g + 1) * per_group])
        if not group:
            start = (g * per_group) % len(failures)
            group = list(failures[start : start + per_group]) or list(failures[:per_group])
        out.append(group)
    return out


async def attempt_errors(ctx: TrainerContext, outcomes: Sequence[RolloutOutcome]) -> dict[str, str | None]:
    """The error message of each failed rollout's last attempt (the critic should see a crash)."""
    errors: dict[str, str | None] = {}
    for outcome in outcomes:
        if outcome.succeeded:
            continue
        attempt = await ctx.store.get_latest_attempt(outcome.rollout.rollout_id)
        errors[outcome.rollout.rollout_id] = (
            attempt.error if attempt is not None else f"rollout {outcome.rollout.status.value}"
        )
    return errors


async def expand(
    ctx: TrainerContext,
    cfg: APOConfig,
    parent: Candidate,
    *,
    position: int,
    round_: int,
    target: str,
    train: Sequence[Any],
    critic: ChatClient,
    editor: ChatClient,
    transform: TraceToTriplet,
) -> tuple[Expansion, list[Candidate]]:
    """Run ``parent`` on a train minibatch, critique its failures, and write its children."""
    indices = train_indices(cfg, len(train), round_, parent.id)
    outcomes = await ctx.run_rollouts(
        [train[i] for i in indices],
        mode="train",
        resources_id=parent.resources_id,
        description=f"apo round {round_}: train {parent.id}",
    )
    failures = failures_of(
        outcomes,
        threshold=cfg.failure_threshold,
        transform=transform,
        errors=await attempt_errors(ctx, outcomes),
    )
    expansion = Expansion(
        round=round_,
        parent_id=parent.id,
        target=target,
        train_indices=indices,
        train_rollouts=[o.rollout.rollout_id for o in outcomes],
        train_rewards=[o.reward for o in outcomes],
        failures=len(failures),
    )
    if not failures:
        expansion.note = (
            f"no train rollout scored below failure_threshold={cfg.failure_threshold:g}: not expanded"
        )
        return expansion, []
    template = parent.prompts[target]
    groups = failure_groups(failures, cfg.failures_per_critique, cfg.critiques_per_parent)

    async def one_critique(g: int, group: list[Failure]) -> tuple[CritiqueRecord, list[Candidate]]:
        text = await critic.complete(
            critic_messages(
                target,
                template,
                group,
                len(outcomes),
                total_failures=len(failures),
                max_trace_chars=cfg.max_trace_chars,
                instructions=cfg.critic_instructions,
            ),
            seed=call_seed(cfg.seed, "critic", round_, parent.id, g),
        )
        record = CritiqueRecord(index=g, failures=[f.rollout_id for f in group], text=text)
        messages = editor_messages(target, template, text, instructions=cfg.editor_instructions)
        replies = await gather_or_cancel(
            *(
                editor.complete(messages, seed=call_seed(cfg.seed, "editor", round_, parent.id, g, e))
                for e in range(cfg.branch_factor)
            )
        )
        children = []
        for e, reply in enumerate(replies):
            child_id = f"r{round_}.{position}.{g}.{e}"
            edited, reason, repairs = validate_edit(
                template, extract_prompt(reply), append_missing=cfg.missing_placeholders == "append"
            )
            child = Candidate(
                id=child_id,
                parent_id=parent.id,
                round=round_,
                rank=(round_, position, g, e),
                prompts={**parent.prompts, **({target: edited} if edited is not None else {})},
                edited=target,
                critique=text,
                editor_reply=reply,
                status="candidate" if edited is not None else "rejected",
                reason=reason,
                repairs=repairs,
            )
            if reason:
                log.info("edit %s rejected: %s", child_id, reason)
            record.children.append(child_id)
            children.append(child)
        return record, children

    results = await gather_or_cancel(*(one_critique(g, group) for g, group in enumerate(groups)))
    kids: list[Candidate] = []
    for record, children in results:
        expansion.critiques.append(record)
        kids.extend(children)
    return expansion, kids
