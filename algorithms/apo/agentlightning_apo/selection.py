"""Spending the scoring budget: which candidates get scored, and which survive the round.

Scoring a candidate is a bandit *pull*: run it on one val minibatch and add the rewards to its
running mean. Both strategies first pull every candidate that has no score yet (once each, all
at once), then:

* ``ucb`` — repeatedly pull the candidate with the highest upper confidence bound
  ``mean + c * sqrt(2 * ln(T) / n)`` (``n``: its pulls, ``T``: all pulls of the round's
  candidates, ``c``: ``ucb_c``) until the budget is spent; keep the ``keep`` best means.
  Ties go to the candidate with fewer pulls, then to the older one.
* ``successive_rejects`` — phases ``k = 1 .. K - keep`` over ``K`` candidates: bring every
  survivor up to ``n_k`` pulls, then drop the one with the lowest mean (ties: fewer pulls, then
  the newer one). ``n_k = max(1, floor(B / (L * (K + 1 - k))))`` with
  ``L = 1 + sum(1/i for i in keep+2 .. K)``. From zero the schedule spends at most ``B`` pulls,
  exactly ``B`` only when the floors come out even; the remainder is left unspent.

Pulls carried over from earlier rounds count (a survivor keeps its score), so an incumbent needs
fewer new pulls. The state lives in :class:`SelectionState` and the functions here derive
everything else from it and the candidates' pull counts, so a run resumed from a checkpoint
continues exactly where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from pydantic import BaseModel, Field

from .config import Selection


class Board(Protocol):
    """Read access to the candidates' scores."""

    def pulls(self, arm: str) -> int: ...
    def mean(self, arm: str) -> float: ...
    def rank(self, arm: str) -> tuple[int, ...]: ...


PullFn = Callable[[list[str]], Awaitable[None]]


class SelectionState(BaseModel):
    """One round's selection, as far as it got."""

    strategy: Selection
    arms: list[str]
    keep: int
    budget: int
    used: int = 0
    rejected: list[str] = Field(default_factory=list)
    kept: list[str] = Field(default_factory=list)
    done: bool = False
    pull_log: list[list[str]] = Field(
        default_factory=list, description="the arms of each pull batch, in order"
    )


def new_selection(
    strategy: Selection, arms: Sequence[str], board: Board, *, keep: int, budget: int | None
) -> SelectionState:
    """Budget: ``budget`` pulls, or two per arm when ``None``; never fewer than the unscored arms."""
    unscored = sum(1 for a in arms if board.pulls(a) == 0)
    wanted = budget if budget is not None else 2 * len(arms)
    return SelectionState(strategy=strategy, arms=list(arms), keep=keep, budget=max(wanted, unscored))


def best_by_mean(arms: Sequence[str], board: Board, keep: int) -> list[str]:
    """The ``keep`` best means; ties go to more pulls, then to the older candidate."""
    return sorted(arms, key=lambda a: (-board.mean(a), -board.pulls(a), board.rank(a)))[:keep]


async def run_selection(
    state: SelectionState,
    board: Board,
    pull: PullFn,
    *,
    ucb_c: float = 1.0,
    checkpoint: Callable[[], None] | None = None,
) -> list[str]:
    """Spend what is left of ``state.budget``; return the kept arms (best first)."""

    async def pull_many(arms: list[str]) -> None:
        if not arms:
            return
        await pull(arms)
        state.used += len(arms)
        state.pull_log.append(list(arms))
        if checkpoint is not None:
            checkpoint()

    if state.done:
        return state.kept
    unscored = [a for a in state.arms if board.pulls(a) == 0]
    await pull_many(unscored[: max(0, state.budget - state.used)])
    if state.strategy == "ucb":
        await _ucb(state, board, pull_many, ucb_c)
        state.kept = best_by_mean(state.arms, board, state.keep)
    else:
        await _successive_rejects(state, board, pull_many)
        alive = [a for a in state.arms if a not in state.rejected]
        state.kept = best_by_mean(alive, board, state.keep)
    state.done = True
    if checkpoint is not None:
        checkpoint()
    return state.kept


def ucb_score(mean: float, pulls: int, total: int, c: float) -> float:
    if pulls == 0:
        return math.inf
    return mean + c * math.sqrt(2.0 * math.log(max(total, 1)) / pulls)


async def _ucb(state: SelectionState, board: Board, pull_many: PullFn, c: float) -> None:
    if len(state.arms) <= state.keep:
        return  # every arm survives; scoring them further decides nothing
    while state.used < state.budget:
        total = sum(board.pulls(a) for a in state.arms)
        arm = max(
            state.arms,
            key=lambda a: (
                ucb_score(board.mean(a), board.pulls(a), total, c),
                -board.pulls(a),
                _neg(board.rank(a)),
            ),
        )
        await pull_many([arm])


def _neg(rank: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-r for r in rank)


def sr_schedule(n_arms: int, keep: int, budget: int) -> list[int]:
    """Target pulls per survivor at the end of each rejection phase."""
    phases = n_arms - keep
    if phases <= 0:
        return []
    lbar = 1.0 + sum(1.0 / i for i in range(keep + 2, n_arms + 1))
    return [max(1, math.floor(budget / (lbar * (n_arms + 1 - k)))) for k in range(1, phases + 1)]


async def _successive_rejects(state: SelectionState, board: Board, pull_many: PullFn) -> None:
    schedule = sr_schedule(len(state.arms), state.keep, state.budget)
    for phase in range(len(state.rejected), len(schedule)):
        target = schedule[phase]
        alive = [a for a in state.arms if a not in state.rejected]
        while state.used < state.budget:
            behind = sorted(
                (a for a in alive if board.pulls(a) < target), key=lambda a: (board.pulls(a), board.rank(a))
            )
            if not behind:
                break
            await pull_many(behind[: state.budget - state.used])
        worst = min(alive, key=lambda a: (board.mean(a), board.pulls(a), _neg(board.rank(a))))
        state.rejected.append(worst)
