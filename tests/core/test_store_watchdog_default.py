"""The store's default heartbeat limit (``AGL_DEFAULT_UNRESPONSIVE_SECONDS``): a rollout whose
config sets no ``unresponsive_seconds`` is still recovered when its runner dies."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.settings import (
    DEFAULT_UNRESPONSIVE_SECONDS,
    default_unresponsive_seconds,
    load_settings,
)
from agentlightning_core.store import InMemoryStore, open_store
from agentlightning_core.store.transitions import overdue_status, unresponsive_limit
from agentlightning_core.types import Attempt, AttemptStatus, Rollout, RolloutConfig, RolloutStatus

ENV = "AGL_DEFAULT_UNRESPONSIVE_SECONDS"


def test_default_is_finite_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert default_unresponsive_seconds() == DEFAULT_UNRESPONSIVE_SECONDS == 300.0
    assert load_settings().agl_default_unresponsive_seconds == 300.0
    assert InMemoryStore().default_unresponsive_seconds == 300.0


@pytest.mark.parametrize(("raw", "expected"), [("12.5", 12.5), ("600", 600.0), ("", 300.0), (" 45 ", 45.0)])
def test_env_sets_the_default(monkeypatch: pytest.MonkeyPatch, raw: str, expected: float) -> None:
    monkeypatch.setenv(ENV, raw)
    assert default_unresponsive_seconds() == expected
    assert InMemoryStore().default_unresponsive_seconds == expected


@pytest.mark.parametrize("raw", ["0", "0.0", "off", "OFF", "none", "never"])
def test_env_opts_out(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(ENV, raw)
    assert default_unresponsive_seconds() is None
    assert InMemoryStore().default_unresponsive_seconds is None


@pytest.mark.parametrize("raw", ["-5", "abc", "nan"])
def test_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(ENV, raw)
    with pytest.raises(ValidationError, match="agl_default_unresponsive_seconds"):
        default_unresponsive_seconds()
    with pytest.raises(ValidationError, match="agl_default_unresponsive_seconds"):
        InMemoryStore()


def test_store_opened_from_a_url_reads_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "42")
    store = open_store("memory://", manager=AglPluginManager(load_entry_points=False))
    assert store.default_unresponsive_seconds == 42.0


def test_constructor_argument_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "42")
    assert InMemoryStore(default_unresponsive_seconds=7).default_unresponsive_seconds == 7
    assert InMemoryStore(default_unresponsive_seconds=None).default_unresponsive_seconds is None


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_store_refuses_a_non_positive_default(bad: float) -> None:
    with pytest.raises(InvalidRequestError, match="default_unresponsive_seconds"):
        InMemoryStore(default_unresponsive_seconds=bad)
    store = InMemoryStore(default_unresponsive_seconds=60)
    with pytest.raises(InvalidRequestError, match="None for no limit"):
        store.default_unresponsive_seconds = bad
    assert store.default_unresponsive_seconds == 60


def _pair(config: RolloutConfig, heartbeat_age: float) -> tuple[Rollout, Attempt, float]:
    now = time.time()
    rollout = Rollout(config=config)
    attempt = Attempt(
        rollout_id=rollout.rollout_id,
        sequence=1,
        start_time=now - heartbeat_age,
        last_heartbeat=now - heartbeat_age,
    )
    return rollout, attempt, now


def test_rule_uses_the_default_only_when_the_rollout_sets_none() -> None:
    assert unresponsive_limit(RolloutConfig(), 300) == 300
    assert unresponsive_limit(RolloutConfig(), None) is None
    assert unresponsive_limit(RolloutConfig(unresponsive_seconds=5), 300) == 5
    assert unresponsive_limit(RolloutConfig(unresponsive_seconds=900), 300) == 900

    silent = _pair(RolloutConfig(), heartbeat_age=301)
    assert overdue_status(*silent, default_unresponsive_seconds=300) is AttemptStatus.UNRESPONSIVE
    assert overdue_status(*silent, default_unresponsive_seconds=None) is None
    assert overdue_status(*_pair(RolloutConfig(), 299), default_unresponsive_seconds=300) is None
    own_limit = _pair(RolloutConfig(unresponsive_seconds=900), heartbeat_age=301)
    assert overdue_status(*own_limit, default_unresponsive_seconds=300) is None
    timed_out = _pair(RolloutConfig(timeout_seconds=10), heartbeat_age=301)
    assert overdue_status(*timed_out, default_unresponsive_seconds=300) is AttemptStatus.TIMEOUT


async def test_memory_store_recovers_a_rollout_enqueued_without_config() -> None:
    """The issue's case: enqueued directly on a store, no limits, the runner dies."""
    async with InMemoryStore(watchdog_interval=0.05, default_unresponsive_seconds=0.2) as store:
        rollout = await store.enqueue_rollout({"q": 1})
        assert rollout.config.unresponsive_seconds is None and rollout.config.timeout_seconds is None
        assert rollout.config.max_attempts == 3  # retried by default: every runner dies here
        for _ in range(3):
            taken = None
            for _ in range(200):  # the watchdog requeues it within ~0.25 s
                taken = await store.dequeue_rollout("runner-that-dies")
                if taken is not None:
                    break
                await asyncio.sleep(0.05)
            assert taken is not None
        finished = await store.wait_for_rollouts([rollout.rollout_id], timeout=5)
        assert [(r.status, r.num_attempts) for r in finished] == [(RolloutStatus.FAILED, 3)]
