"""The proxy's background span writer and the pass-through engine's options."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from agentlightning_core.errors import BackendUnavailableError, InvalidRequestError
from agentlightning_core.proxy.assemble import StreamAssembler
from agentlightning_core.proxy.recorder import SpanRecorder
from agentlightning_core.proxy.spans import parse_traceparent
from agentlightning_core.proxy.upstream import OpenAIEngine
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import Span


class FlakyStore(InMemoryStore):
    """Unreachable for the first ``failures`` writes, like a database that is restarting."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        self.calls += 1
        if self.calls <= self.failures:
            raise BackendUnavailableError("database restarting")
        return await super().add_spans(spans)


async def running(store: InMemoryStore) -> tuple[str, str]:
    await store.enqueue_rollout("t")
    got = await store.dequeue_rollout()
    assert got is not None
    return got.rollout.rollout_id, got.attempt.attempt_id


async def test_record_returns_at_once_and_the_writer_batches() -> None:
    store = InMemoryStore()
    rid, aid = await running(store)
    recorder = SpanRecorder(store)
    for i in range(50):
        recorder.record(Span(rollout_id=rid, attempt_id=aid, name=f"s{i}"))
    assert recorder.pending(aid) == 50  # nothing written yet: record() never waits
    await recorder.flush(aid)
    assert recorder.pending() == 0 and recorder.written == 50
    assert [s.name for s in await store.query_spans(rid)] == [f"s{i}" for i in range(50)]
    await recorder.close()


async def test_record_later_builds_in_the_writer_and_a_failing_build_drops_only_its_span(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryStore()
    rid, aid = await running(store)
    recorder = SpanRecorder(store)
    built: list[str] = []

    def build(name: str) -> Span:
        built.append(name)
        if name == "broken":
            raise ValueError("bad response shape")
        return Span(rollout_id=rid, attempt_id=aid, name=name)

    for name in ("first", "broken", "last"):
        recorder.record_later(aid, lambda name=name: build(name))  # type: ignore[misc]
    assert built == [] and recorder.pending(aid) == 3  # nothing built on the caller's path
    await recorder.flush(aid)
    assert built == ["first", "broken", "last"]
    assert [s.name for s in await store.query_spans(rid)] == ["first", "last"]
    assert recorder.pending() == 0 and recorder.dropped == 1 and recorder.written == 2
    assert "could not build an LLM span of attempt" in caplog.text and "bad response shape" in caplog.text
    await recorder.close()


async def test_a_refused_attempt_does_not_sink_the_others_in_its_batch() -> None:
    store = InMemoryStore()
    rid, aid = await running(store)
    recorder = SpanRecorder(store)
    recorder.record(Span(rollout_id=rid, attempt_id=aid, name="kept-1"))
    recorder.record(Span(rollout_id=rid, attempt_id="at-gone", name="lost"))
    recorder.record(Span(rollout_id=rid, attempt_id=aid, name="kept-2"))
    await recorder.flush()
    assert [s.name for s in await store.query_spans(rid)] == ["kept-1", "kept-2"]
    assert recorder.dropped == 1
    await recorder.close()


async def test_an_unreachable_store_is_retried() -> None:
    store = FlakyStore(failures=2)
    rid, aid = await running(store)
    recorder = SpanRecorder(store, retry_delay=0.01)
    recorder.record(Span(rollout_id=rid, attempt_id=aid, name="eventually"))
    await recorder.close()  # close flushes
    assert [s.name for s in await store.query_spans(rid)] == ["eventually"]
    assert store.calls == 3 and recorder.dropped == 0


async def test_a_store_down_for_good_drops_after_retries_instead_of_hanging() -> None:
    store = FlakyStore(failures=100)
    rid, aid = await running(store)
    recorder = SpanRecorder(store, retries=2, retry_delay=0.01)
    recorder.record(Span(rollout_id=rid, attempt_id=aid, name="lost"))
    await asyncio.wait_for(recorder.flush(aid), 5)
    assert recorder.dropped == 1 and recorder.pending() == 0
    await recorder.close()


def test_traceparent_parsing() -> None:
    trace, parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert (trace, parent) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    for bad in (None, "", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"):
        trace, parent = parse_traceparent(bad)
        assert len(trace) == 32 and parent is None


def test_stream_assembler_merges_content_tool_calls_and_token_ids() -> None:
    assembler = StreamAssembler("chat")
    assembler.add(
        {
            "id": "c1",
            "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "token_ids": [1]}],
        }
    )
    assembler.add({"choices": [{"index": 0, "delta": {"content": "lo"}, "token_ids": [2, 3]}]})
    assembler.add(
        {
            "choices": [
                {
                    "index": 1,
                    "delta": {
                        "tool_calls": [{"index": 0, "id": "t", "function": {"name": "f", "arguments": "{"}}]
                    },
                }
            ]
        }
    )
    assembler.add(
        {
            "choices": [
                {
                    "index": 1,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]},
                    "finish_reason": "tool_calls",
                }
            ]
        }
    )
    assembler.add({"choices": [], "usage": {"completion_tokens": 3}})
    response = assembler.response()
    assert response["id"] == "c1" and response["usage"] == {"completion_tokens": 3}
    first, second = response["choices"]
    assert first["message"] == {"role": "assistant", "content": "Hello"} and first["token_ids"] == [1, 2, 3]
    assert second["message"]["tool_calls"] == [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]
    assert second["finish_reason"] == "tool_calls"


def test_openai_engine_options_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(InvalidRequestError, match="base_url"):
        OpenAIEngine()
    with pytest.raises(InvalidRequestError, match="extra_body"):
        OpenAIEngine(base_url="http://x/v1", extra_body="{not json")
    with pytest.raises(InvalidRequestError, match="http://"):
        OpenAIEngine(base_url="x/v1")
    engine = OpenAIEngine(base_url="http://x/v1/", timeout="5", max_connections="8", extra_body='{"a": 1}')
    assert engine.base_url == "http://x/v1" and engine.timeout == 5.0 and engine.max_connections == 8
    assert engine.extra_body == {"a": 1}
