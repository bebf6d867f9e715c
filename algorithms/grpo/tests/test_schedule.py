"""The learning-rate schedule on hand-computed values."""

from __future__ import annotations

import pytest
from agentlightning_grpo.config import GRPOConfig
from agentlightning_grpo.schedule import learning_rate_at


def test_constant_is_the_configured_rate_every_step() -> None:
    cfg = GRPOConfig(steps=10, learning_rate=1e-4)
    assert [learning_rate_at(s, cfg) for s in (0, 5, 9)] == [1e-4, 1e-4, 1e-4]


def test_warmup_rises_linearly_then_linear_decay_reaches_the_floor_on_the_last_step() -> None:
    cfg = GRPOConfig(steps=10, learning_rate=1.0, warmup_steps=1, lr_schedule="linear", lr_min_ratio=0.1)
    assert learning_rate_at(0, cfg) == pytest.approx(0.5)  # warm-up: (0 + 1) / (1 + 1)
    assert learning_rate_at(1, cfg) == pytest.approx(1.0)  # first step after warm-up: full rate
    assert learning_rate_at(5, cfg) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway: (5 - 1) / 8
    assert learning_rate_at(9, cfg) == pytest.approx(0.1)  # last step: the floor


def test_cosine_is_half_way_at_the_middle() -> None:
    cfg = GRPOConfig(steps=5, learning_rate=2.0, lr_schedule="cosine")
    assert learning_rate_at(0, cfg) == pytest.approx(2.0)
    assert learning_rate_at(2, cfg) == pytest.approx(1.0)
    assert learning_rate_at(4, cfg) == pytest.approx(0.0)


def test_a_misspelled_schedule_is_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="lr_schedule"):
        GRPOConfig(lr_schedule="cosin")  # type: ignore[arg-type]
