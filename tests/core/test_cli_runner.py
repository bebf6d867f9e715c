"""``agl runner`` as real OS processes against a real server, and ``agl train`` end to end.

The process test is the issue's: two runner processes, one killed with SIGKILL in the middle of
its rollouts; the server's watchdog marks its attempts unresponsive, the rollouts are retried by
the other runner and finish; nothing is lost and no rollout ever runs twice at the same time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agentlightning_core import PromptTemplate
from agentlightning_core.cli import cli
from agentlightning_core.reward import final_reward
from agentlightning_core.types import AttemptStatus, EventType, RolloutConfig, RolloutStatus, Topic

from .server_helpers import TOKEN, served

AGENT_SOURCE = textwrap.dedent(
    """
    import asyncio
    import json
    import os
    import time

    from agentlightning_core import emit_reward
    from agentlightning_core.runtime.context import current_context

    LOG = os.environ.get("AGL_TEST_AGENT_LOG", os.devnull)


    def log(event: str) -> None:
        ctx = current_context()
        line = {"event": event, "rollout": ctx.rollout_id, "attempt": ctx.attempt_id,
                "pid": os.getpid(), "time": time.time()}
        with open(LOG, "a") as fh:
            fh.write(json.dumps(line) + "\\n")


    async def slow_agent(task):
        log("start")
        emit_reward(0.1, name="started")
        await asyncio.sleep(task["seconds"])
        log("end")
        return float(task["value"])


    def quick_agent(task, prompt_template):
        return 1.0 if prompt_template.format(**task) == "x=" + str(task["x"]) else 0.0
    """
)


@pytest.fixture
def agent_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_agents.py"
    path.write_text(AGENT_SOURCE)
    return path


async def start_runner(
    server_url: str, agent: str, worker_id: str, log_path: Path, *extra: str
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": TOKEN,
        "AGL_NO_PLUGIN_COMMANDS": "1",
        "AGL_TEST_AGENT_LOG": str(log_path),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentlightning_core.cli",
        "runner",
        "--server",
        server_url,
        "--agent",
        agent,
        "--worker-id",
        worker_id,
        *extra,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    assert f"runner {worker_id} pulling from {server_url}" in line, line
    return proc


@pytest.mark.slow
async def test_a_runner_killed_mid_rollout_loses_nothing_and_its_rollouts_finish_elsewhere(
    agent_file: Path, tmp_path: Path
) -> None:
    log_path = tmp_path / "agent.log"
    config = RolloutConfig(unresponsive_seconds=1.0, max_attempts=3)
    async with served() as s:
        agent = f"{agent_file}:slow_agent"
        victim = await start_runner(s.url, agent, "victim", log_path, "-n", "3", "--flush-interval", "0.1")
        survivor = await start_runner(s.url, agent, "survivor", log_path, "-n", "2")
        tasks = [{"seconds": 1.5, "value": i / 10} for i in range(6)]
        async with s.bus.subscribe([Topic.ATTEMPTS]) as attempts_events:
            rollouts = [await s.client.enqueue_rollout(t, config=config) for t in tasks]
            ids = [r.rollout_id for r in rollouts]
            while True:  # until the victim has started an attempt
                event = await asyncio.wait_for(attempts_events.get(), 30)
                assert event is not None
                if event.type == EventType.ATTEMPT_STARTED and event.payload["worker_id"] == "victim":
                    break

        async def victim_running() -> list[Any]:
            return [
                a
                for rid in ids
                for a in await s.client.get_attempts(rid)
                if a.worker_id == "victim" and a.status is AttemptStatus.RUNNING
            ]

        await asyncio.sleep(0.3)  # the victim's agents are mid-sleep now
        victim.send_signal(signal.SIGKILL)
        killed_at = time.time()
        assert await asyncio.wait_for(victim.wait(), 10) == -signal.SIGKILL
        killed = {a.attempt_id: a for a in await victim_running()}  # the watchdog needs 1 s to notice
        assert killed, "the victim was running nothing when it was killed"

        done = await s.client.wait_for_rollouts(ids, timeout=60)
        survivor.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(survivor.communicate(), 30)
        assert survivor.returncode == 0, err.decode()
        assert "runner finished:" in out.decode()

        # Nothing lost: every rollout succeeded with its own reward, exactly once per rollout.
        assert len(done) == len(ids)
        assert all(r.status is RolloutStatus.SUCCEEDED for r in done)
        for rid, task in zip(ids, tasks, strict=True):
            assert final_reward(await s.client.query_spans(rid, attempt_id="latest")) == task["value"]
        # What the victim was running was retried by the survivor once the watchdog gave up on it.
        for attempt_id, attempt in killed.items():
            attempts = await s.client.get_attempts(attempt.rollout_id)
            assert {a.attempt_id: a.status for a in attempts}[attempt_id] is AttemptStatus.UNRESPONSIVE
            rid = attempt.rollout_id
            assert attempts[-1].worker_id == "survivor" and attempts[-1].status is AttemptStatus.SUCCEEDED
            # spans the victim flushed before it died are still there (here: its "started" reward)
            victim_spans = [
                sp
                for a in attempts
                if a.worker_id == "victim"
                for sp in await s.client.query_spans(rid, attempt_id=a.attempt_id)
            ]
            assert victim_spans, "the victim's spans sent before the kill were lost"

        # Never two attempts of one rollout at once — in the store's records ...
        for rid in ids:
            attempts = await s.client.get_attempts(rid)
            for before, after in zip(attempts, attempts[1:], strict=False):
                assert before.end_time is not None and after.start_time >= before.end_time
        # ... and in what the agent code actually did (a killed run ends at the kill).
        events = [json.loads(line) for line in log_path.read_text().splitlines()]
        intervals: dict[str, list[tuple[float, float]]] = {}
        for e in events:
            if e["event"] != "start":
                continue
            end = next(
                (x["time"] for x in events if x["event"] == "end" and x["attempt"] == e["attempt"]), None
            )
            if end is None:
                assert e["pid"] == victim.pid, "a survivor run never ended"
                end = killed_at
            intervals.setdefault(e["rollout"], []).append((e["time"], end))
        assert set(intervals) == set(ids)
        for spans in intervals.values():
            spans.sort()
            for (_, end1), (start2, _) in zip(spans, spans[1:], strict=False):
                assert start2 >= end1


@pytest.mark.slow
async def test_local_launcher_replicas_start_that_many_worker_processes(
    agent_file: Path, tmp_path: Path
) -> None:
    async with served() as s:
        await s.client.add_resources({"p": PromptTemplate(template="x={x}")})
        ids = [(await s.client.enqueue_rollout({"x": i})).rollout_id for i in range(6)]
        env = {
            **os.environ,
            "AGL_SERVER_TOKEN": TOKEN,
            "AGL_NO_PLUGIN_COMMANDS": "1",
            "AGL_TEST_AGENT_LOG": str(tmp_path / "log"),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentlightning_core.cli",
            "runner",
            "--server",
            s.url,
            "--agent",
            f"{agent_file}:quick_agent",
            "--launcher",
            "local",
            "--replicas",
            "2",
            "--worker-id",
            "pool",
            "--max-rollouts",
            "3",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, err.decode()
        assert out.decode().count("runner finished: 3 succeeded") == 2
        done = await s.client.wait_for_rollouts(ids, timeout=5)
        assert [r.status for r in done] == [RolloutStatus.SUCCEEDED] * 6
        workers = sorted(w.worker_id for w in await s.client.query_workers())
        assert workers == ["pool-0", "pool-1"]


def invoke(args: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EVENT_BUS_BACKEND", "memory")
    monkeypatch.setenv("AGL_NO_PLUGIN_COMMANDS", "1")
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def write_data(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"x": i}) + "\n" for i in range(4)))
    resources = tmp_path / "resources.json"
    resources.write_text(json.dumps({"p": {"resource_type": "prompt_template", "template": "x={x}"}}))
    return data, resources


def test_agl_train_fits_and_prints_the_result(
    agent_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, resources = write_data(tmp_path)
    out_dir = tmp_path / "out"
    result = invoke(
        [
            "train",
            "--agent",
            f"{agent_file}:quick_agent",
            "--train",
            str(data),
            "--store",
            "memory://",
            "--resources",
            str(resources),
            "--output-dir",
            str(out_dir),
            "--no-progress",
            "-n",
            "2",
        ],
        monkeypatch,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["best_score"] == 1.0
    assert (out_dir / "metrics.jsonl").exists() and (out_dir / "result.json").exists()


def test_agl_train_dev_exits_non_zero_when_a_rollout_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = write_data(tmp_path)
    broken = tmp_path / "broken.py"
    broken.write_text("def agent(task):\n    raise ValueError('no LLM configured')\n")
    result = invoke(
        [
            "train",
            "--dev",
            "--agent",
            f"{broken}:agent",
            "--train",
            str(data),
            "--store",
            "memory://",
            "--output-dir",
            str(tmp_path / "o"),
            "--limit",
            "2",
        ],
        monkeypatch,
    )
    assert result.exit_code == 1
    assert "ValueError: no LLM configured" in result.output
    assert "0/2 rollouts succeeded" in result.output


def test_agl_train_reports_bad_inputs_clearly(
    agent_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = write_data(tmp_path)
    bad = invoke(["train", "--agent", "my_agents_missing:agent", "--train", str(data)], monkeypatch)
    assert bad.exit_code != 0 and "cannot import module 'my_agents_missing'" in bad.output
    bad = invoke(["train", "--agent", f"{agent_file}:nope", "--train", str(data)], monkeypatch)
    assert bad.exit_code != 0 and "has no attribute 'nope'" in bad.output
    bad = invoke(
        ["train", "--agent", f"{agent_file}:quick_agent", "--train", str(tmp_path / "none.jsonl")],
        monkeypatch,
    )
    assert bad.exit_code != 0 and "does not exist" in bad.output
    bad = invoke(
        [
            "train",
            "--agent",
            f"{agent_file}:quick_agent",
            "--train",
            str(data),
            "--algorithm",
            "nonexistent_algo",
            "--store",
            "memory://",
        ],
        monkeypatch,
    )
    assert bad.exit_code != 0 and "no installed plugin provides algorithm 'nonexistent_algo'" in bad.output
    assert "pip install" not in bad.output  # no package name made up from what was asked
    bad = invoke(
        ["train", "--agent", f"{agent_file}:quick_agent", "--train", str(data), "--option", "novalue"],
        monkeypatch,
    )
    assert bad.exit_code != 0 and "is not KEY=VALUE" in bad.output
