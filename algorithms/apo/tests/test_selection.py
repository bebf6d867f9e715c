"""The selection strategies, on arms whose pull results are fixed in advance, against the rules
the module docstring states (which the README repeats)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from agentlightning_apo.selection import (
    SelectionState,
    best_by_mean,
    new_selection,
    run_selection,
    sr_schedule,
    ucb_score,
)


class Arms:
    """A board whose pull ``k`` of arm ``a`` yields ``values[a][k % len(values[a])]``."""

    def __init__(self, values: dict[str, Sequence[float]], carried: dict[str, int] | None = None) -> None:
        self.values = values
        self.samples: dict[str, list[float]] = {a: [] for a in values}
        self.order = {a: (i,) for i, a in enumerate(values)}
        self.batches: list[list[str]] = []
        for arm, n in (carried or {}).items():
            for _ in range(n):
                self._one(arm)

    def _one(self, arm: str) -> None:
        vals = self.values[arm]
        self.samples[arm].append(vals[len(self.samples[arm]) % len(vals)])

    def pulls(self, arm: str) -> int:
        return len(self.samples[arm])

    def mean(self, arm: str) -> float:
        s = self.samples[arm]
        return sum(s) / len(s) if s else 0.0

    def rank(self, arm: str) -> tuple[int, ...]:
        return self.order[arm]

    async def pull(self, arms: list[str]) -> None:
        self.batches.append(list(arms))
        for arm in arms:
            self._one(arm)


def test_sr_schedule_spends_exactly_the_budget_when_it_divides() -> None:
    # K=5, keep=2: L = 1 + 1/4 + 1/5 = 1.45; n_k = floor(B / (L * (6 - k))) for k = 1..3
    assert sr_schedule(5, 2, 87) == [
        math.floor(87 / (1.45 * 5)),
        math.floor(87 / (1.45 * 4)),
        math.floor(87 / (1.45 * 3)),
    ]
    assert sr_schedule(5, 2, 87) == [12, 15, 20]
    # spent from zero: 5*12 + 4*(15-12) + 3*(20-15) = 87
    schedule = sr_schedule(5, 2, 87)
    spent = 5 * schedule[0] + 4 * (schedule[1] - schedule[0]) + 3 * (schedule[2] - schedule[1])
    assert spent == 87
    assert sr_schedule(3, 3, 10) == []
    assert sr_schedule(3, 2, 1) == [1]  # at least one pull per phase


async def test_successive_rejects_drops_the_lowest_mean_each_phase_and_keeps_the_rest() -> None:
    arms = Arms({"a": [0.2], "b": [0.9], "c": [0.5], "d": [0.1], "e": [0.7]})
    state = new_selection("successive_rejects", list(arms.values), arms, keep=2, budget=87)
    kept = await run_selection(state, arms, arms.pull)
    assert state.rejected == ["d", "a", "c"]
    assert kept == ["b", "e"]
    # after phase k every survivor holds exactly n_k pulls
    assert {a: arms.pulls(a) for a in "abcde"} == {"d": 12, "a": 15, "c": 20, "b": 20, "e": 20}
    assert state.used == 87 == sum(len(b) for b in arms.batches)
    # the first batch is the unscored pass: every arm once, together
    assert arms.batches[0] == ["a", "b", "c", "d", "e"]


async def test_successive_rejects_breaks_mean_ties_against_the_newer_candidate() -> None:
    arms = Arms({"old": [0.5], "new": [0.5], "best": [1.0]})
    state = new_selection("successive_rejects", list(arms.values), arms, keep=2, budget=6)
    assert await run_selection(state, arms, arms.pull) == ["best", "old"]
    assert state.rejected == ["new"]


async def test_ucb_pulls_unscored_first_then_follows_the_bound_and_spends_the_budget() -> None:
    arms = Arms({"a": [0.0], "b": [1.0, 0.0], "c": [0.5]})
    state = new_selection("ucb", ["a", "b", "c"], arms, keep=1, budget=7)
    checkpoints: list[int] = []
    kept = await run_selection(
        state, arms, arms.pull, ucb_c=0.5, checkpoint=lambda: checkpoints.append(state.used)
    )
    assert arms.batches[0] == ["a", "b", "c"]
    # replay the documented rule: argmax mean + c*sqrt(2 ln T / n), ties to fewer pulls then older
    replay = Arms(arms.values)
    replay.samples = {a: [] for a in arms.values}
    for arm in arms.batches[0]:
        replay._one(arm)
    for batch in arms.batches[1:]:
        assert len(batch) == 1
        total = sum(replay.pulls(a) for a in "abc")
        bounds = {a: replay.mean(a) + 0.5 * math.sqrt(2 * math.log(total) / replay.pulls(a)) for a in "abc"}
        top = max(bounds.values())
        expected = min((a for a in "abc" if math.isclose(bounds[a], top)), key=lambda a: (replay.pulls(a), a))
        assert batch == [expected]
        replay._one(expected)
    assert state.used == 7
    assert kept == best_by_mean(["a", "b", "c"], arms, 1)
    assert checkpoints == [3, 4, 5, 6, 7, 7]  # after every pull batch, and once when done


async def test_ucb_concentrates_pulls_on_the_best_arm() -> None:
    arms = Arms({"bad": [0.1], "good": [0.9], "mid": [0.5], "worse": [0.0]})
    state = new_selection("ucb", list(arms.values), arms, keep=2, budget=40)
    kept = await run_selection(state, arms, arms.pull, ucb_c=0.2)
    assert kept == ["good", "mid"]
    assert arms.pulls("good") > arms.pulls("mid") > arms.pulls("bad")
    assert state.used == 40


async def test_carried_pulls_count_and_scored_arms_skip_the_first_pass() -> None:
    arms = Arms({"incumbent": [0.8], "new1": [0.2], "new2": [0.9]}, carried={"incumbent": 5})
    state = new_selection("ucb", list(arms.values), arms, keep=1, budget=None)
    assert state.budget == 6  # default: two pulls per arm
    await run_selection(state, arms, arms.pull, ucb_c=0.0)
    assert arms.batches[0] == ["new1", "new2"]
    assert arms.pulls("incumbent") >= 5


def test_budget_is_raised_to_one_pull_per_unscored_arm() -> None:
    arms = Arms({"a": [1.0], "b": [1.0], "c": [1.0]}, carried={"a": 1})
    assert new_selection("ucb", ["a", "b", "c"], arms, keep=1, budget=1).budget == 2


async def test_no_extra_pulls_when_every_arm_survives() -> None:
    arms = Arms({"a": [0.3], "b": [0.6]})
    for strategy in ("ucb", "successive_rejects"):
        state = new_selection(strategy, ["a", "b"], arms, keep=2, budget=10)  # type: ignore[arg-type]
        assert await run_selection(state, arms, arms.pull) == ["b", "a"]
    assert arms.batches == [["a", "b"]]


@pytest.mark.parametrize("strategy", ["ucb", "successive_rejects"])
async def test_a_selection_interrupted_and_resumed_ends_as_an_uninterrupted_one(strategy: str) -> None:
    values = {"a": [0.2, 0.4], "b": [0.9, 0.5], "c": [0.5, 0.6], "d": [0.1], "e": [0.7, 0.3]}
    whole = Arms(values)
    full = new_selection(strategy, list(values), whole, keep=2, budget=30)  # type: ignore[arg-type]
    expected = await run_selection(full, whole, whole.pull, ucb_c=0.3)

    part = Arms(values)
    state = new_selection(strategy, list(values), part, keep=2, budget=30)  # type: ignore[arg-type]
    saved: list[str] = []

    class Crash(Exception):
        pass

    async def crashing_pull(batch: list[str]) -> None:
        if len(part.batches) == 4:
            raise Crash
        await part.pull(batch)

    with pytest.raises(Crash):
        await run_selection(
            state, part, crashing_pull, ucb_c=0.3, checkpoint=lambda: saved.append(state.model_dump_json())
        )
    restored = SelectionState.model_validate_json(saved[-1])
    assert await run_selection(restored, part, part.pull, ucb_c=0.3) == expected
    assert part.batches == whole.batches
    assert restored.used == full.used and restored.rejected == full.rejected


def test_ucb_score_formula() -> None:
    assert ucb_score(0.5, 0, 10, 1.0) == math.inf
    assert ucb_score(0.5, 4, 16, 2.0) == pytest.approx(0.5 + 2.0 * math.sqrt(2 * math.log(16) / 4))
