"""The Spider example: shipped data, execution-match reward, the LangGraph agent through the proxy,
and selective optimisation of ``write`` and ``rewrite``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from agentlightning_otel import OtelTracer
from spider_agent.agent import (
    CHECK_PROMPT,
    DEFAULT_MAX_TOKENS,
    REWRITE_PROMPT,
    TRAINED_AGENTS,
    WRITE_PROMPT,
    make_agent,
)
from spider_agent.data_split import splits
from spider_agent.sql import RUNS_REWARD, execute, execution_match, extract_sql, load_questions, shaped_reward
from spider_agent.train import build_trainer, parse_args

from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import ForwardingEngine, ScriptedUpstream, system_text
from agentlightning_core.types import semconv


async def run_cli(*args: str, timeout: float) -> dict[str, Any]:
    """Run ``python -m spider_agent.train ARGS`` in its own process group (killed whole on timeout, with the
    processes it started) and return the summary line it prints."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "spider_agent.train",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "AGL_SERVER_TOKEN": ""},
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise AssertionError(
            f"spider_agent.train {' '.join(args)} did not finish within {timeout} s"
        ) from None
    text = out.decode()
    assert process.returncode == 0, text[-3000:]
    summary: dict[str, Any] = json.loads(text.split("SPIDER_SUMMARY ", 1)[1].splitlines()[0])
    return summary


def test_at_least_150_questions_whose_gold_sql_runs_on_the_shipped_databases() -> None:
    questions = load_questions()
    assert len(questions) >= 150
    assert {q["db_id"] for q in questions} == {"concerts", "library", "school"}
    assert len({q["question"] for q in questions}) == len(questions)
    for q in questions:
        assert execute(q["db_id"], q["query"]), q
    train, val = splits()
    assert len(train) + len(val) == len(questions) and not {q["question"] for q in train} & {
        q["question"] for q in val
    }


def test_execution_match_compares_results_not_text() -> None:
    gold = "SELECT count(*) FROM singer WHERE country = 'France'"
    assert (
        execution_match("concerts", "select COUNT(singer_id) from singer where country='France'", gold) == 1.0
    )
    assert execution_match("concerts", "SELECT count(*) FROM singer", gold) == 0.0
    assert execution_match("concerts", "SELECT nonsense FROM nowhere", gold) == 0.0
    ordered = "SELECT name FROM singer WHERE age > 50 ORDER BY age DESC"
    assert (
        execution_match("concerts", "SELECT name FROM singer WHERE age > 50 ORDER BY age ASC", ordered) == 0.0
    )
    assert extract_sql("Here:\n```sql\nSELECT 1;\n```") == "SELECT 1"


def test_shaped_reward_adds_a_little_for_sql_that_runs_and_match_stays_one() -> None:
    gold = "SELECT count(*) FROM singer WHERE country = 'France'"
    assert shaped_reward("concerts", "SELECT COUNT(*) FROM singer WHERE country = 'France'", gold) == 1.0
    assert shaped_reward("concerts", "SELECT count(*) FROM singer", gold) == RUNS_REWARD
    assert shaped_reward("concerts", "SELECT nonsense FROM nowhere", gold) == 0.0
    assert shaped_reward("concerts", "There are 2 singers", gold) == 0.0
    assert shaped_reward("concerts", "", gold) == 0.0
    assert build_trainer(parse_args(["--reward", "shaped"])) is not None
    with pytest.raises(ValueError, match="reward must be one of"):
        make_agent(reward_name="partial")


def _script(gold: dict[str, str], broken: set[str]) -> Any:
    """write answers the gold SQL (a broken table name for questions in ``broken``); check says
    INCORRECT on an execution error; rewrite answers the gold SQL."""

    def question_of(text: str) -> str:
        return text.split("Question: ", 1)[1].split("\n")[0]

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        system, user = system_text(body), body["messages"][-1]["content"]
        question = question_of(user)
        if system == WRITE_PROMPT:
            query = gold[question]
            if question in broken:
                query = query.replace("FROM ", "FROM missing_", 1)
            return {"content": f"```sql\n{query}\n```"}
        if system == CHECK_PROMPT:
            failed = "Execution result: error" in user
            return {"content": "INCORRECT: the query fails to run" if failed else "CORRECT"}
        if system == REWRITE_PROMPT:
            return {"content": f"```sql\n{gold[question]}\n```"}
        raise AssertionError(system)

    return respond


@pytest.mark.slow
async def test_write_check_rewrite_through_the_proxy_and_agent_match() -> None:
    _, val = splits()
    tasks = val[:2]
    gold = {t["question"]: t["query"] for t in tasks}
    upstream = ScriptedUpstream(_script(gold, broken={tasks[0]["question"]}))
    async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
        results = await harness.run(make_agent(), tasks, tracer=OtelTracer())
    first, second = results
    assert [r.reward for r in results] == [1.0, 1.0]
    # the LLM resource sets no cap, so every call carries the example's default completion cap
    caps = {r.body.get("max_completion_tokens", r.body.get("max_tokens")) for r in upstream.requests}
    assert caps == {DEFAULT_MAX_TOKENS}, caps
    nodes = [
        s.attributes[semconv.AGENT_NAME]
        for s in sorted(first.spans, key=lambda s: s.start_time)
        if s.span_type == "agent"
    ]
    assert nodes == ["write", "check", "rewrite", "check"]
    assert [t.agent_name for t in first.triplets()] == ["write", "check", "rewrite", "check"]
    trained = first.triplets(agent_match=TRAINED_AGENTS)
    assert [t.agent_name for t in trained] == ["write", "rewrite"]
    assert "missing_" in trained[0].response["content"] and all(t.reward == 1.0 for t in trained)
    assert [t.agent_name for t in second.triplets(agent_match=TRAINED_AGENTS)] == ["write"]


@pytest.mark.skipif(
    "grpo" not in AglPluginManager().registry("agl_register_algorithms"),
    reason="the GRPO algorithm (agentlightning-grpo) is not installed",
)
def test_full_mode_gives_grpo_agent_match_write_and_rewrite(tmp_path: Path) -> None:
    """What ``python -m spider_agent.train`` (no ``--smoke``) trains: only the nodes the test above
    shows ``TRAINED_AGENTS`` keeps; ``--algorithm-option agent_match=...`` still overrides it."""
    engine = ["--engine", "openai", "--engine-option", "base_url=http://127.0.0.1:9/v1"]
    grpo: Any = build_trainer(parse_args([*engine, "--output-dir", str(tmp_path)])).algorithm
    assert grpo.name == "grpo"
    assert grpo.config.agent_match == ["write", "rewrite"] == TRAINED_AGENTS
    override = ["--algorithm-option", "agent_match=write", "--output-dir", str(tmp_path)]
    overridden: Any = build_trainer(parse_args([*engine, *override])).algorithm
    assert overridden.config.agent_match == "write"


@pytest.mark.slow
async def test_smoke_command_runs_rollouts_through_the_trainer(tmp_path: Path) -> None:
    _, val = splits()
    gold = {t["question"]: t["query"] for t in val[:2]}
    upstream = ScriptedUpstream(_script(gold, broken=set()))
    async with upstream.serve() as url:
        summary = await run_cli(
            "--smoke",
            "--smoke-size",
            "2",
            "--engine",
            "openai",
            "--engine-option",
            f"base_url={url}",
            "--output-dir",
            str(tmp_path),
            timeout=300,
        )
    assert summary["rollouts"] == 2 and summary["succeeded"] == 2 and summary["rewards"] == [1.0, 1.0]
    assert summary["agents"] == [["write", "check"], ["write", "check"]]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the 135M model on 2 CPU cores: minutes per rollout on a busy machine
@pytest.mark.skipif(
    "transformers" not in AglPluginManager().registry("agl_register_llm_engines"),
    reason="the local CPU engine (agentlightning-transformers) is not installed",
)
async def test_smoke_with_the_local_model(tmp_path: Path) -> None:
    summary = await run_cli(
        "--smoke",
        "--smoke-size",
        "1",
        "--max-turns",
        "0",
        "--max-tokens",
        "48",
        "--output-dir",
        str(tmp_path),
        timeout=1100,
    )
    assert summary["rollouts"] == 1 and summary["succeeded"] == 1
    assert summary["rewards"][0] in (0.0, 1.0)
    assert summary["agents"] == [["write", "check"]]
