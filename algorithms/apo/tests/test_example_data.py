"""The example's data and answer parsing (examples/apo): enough tickets, disjoint splits, every
team represented in each split, and the parser reads the first team named."""

from __future__ import annotations

from collections import Counter

import pytest

apo_support = pytest.importorskip("apo_support", reason="examples/apo is installed by make install")


def test_tickets_are_labelled_split_and_balanced() -> None:
    rows = apo_support.load_tickets()
    assert len(rows) >= 150
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["request"] for r in rows}) == len(rows)
    assert {r["label"] for r in rows} == set(apo_support.TEAMS)
    splits = Counter(r["split"] for r in rows)
    assert splits == {"train": 60, "val": 50, "test": 70}
    for split in ("train", "val", "test"):
        per_team = Counter(r["label"] for r in apo_support.load_tickets(split))
        assert set(per_team) == set(apo_support.TEAMS) and len(set(per_team.values())) == 1
    with pytest.raises(ValueError, match="split must be"):
        apo_support.load_tickets("dev")


@pytest.mark.parametrize(
    ("answer", "team"),
    [
        ("Billing", "billing"),
        ("The technical team, not billing.", "technical"),
        ("This is a return request", "returns"),
        ("Team: Account management", "account"),
        ("Customer service", None),
        ("", None),
    ],
)
def test_parse_team_takes_the_first_team_named(answer: str, team: str | None) -> None:
    assert apo_support.parse_team(answer) == team


def test_the_initial_prompt_fills_in_the_request() -> None:
    assert "{request}" in apo_support.INITIAL_PROMPT
    assert "my order" in apo_support.INITIAL_PROMPT.format(request="my order")
