"""The Calc-X example end to end: AutoGen solver, MCP calculator server, proxy, rewards, CLI."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from agentlightning_otel import OtelTracer
from calc_x.agent import extract_answer, make_agent, score
from calc_x.arithmetic import evaluate
from calc_x.calculator import calculator_server
from calc_x.data import generate, splits

from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import (
    ForwardingEngine,
    ScriptedUpstream,
    last_user_text,
    tool_call,
)
from agentlightning_core.types import semconv


async def run_cli(*args: str, timeout: float) -> dict[str, Any]:
    """Run ``python -m calc_x.train ARGS`` in its own process group (killed whole on timeout, with the
    processes it started) and return the summary line it prints."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "calc_x.train",
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
        raise AssertionError(f"calc_x.train {' '.join(args)} did not finish within {timeout} s") from None
    text = out.decode()
    assert process.returncode == 0, text[-3000:]
    summary: dict[str, Any] = json.loads(text.split("CALC_X_SUMMARY ", 1)[1].splitlines()[0])
    return summary


def test_problems_are_reproducible_distinct_and_correct() -> None:
    first, again = generate(60, seed=3), generate(60, seed=3)
    assert first == again
    assert len({p["question"] for p in first}) == 60
    for problem in first:
        assert float(problem["answer"]) == pytest.approx(evaluate(problem["expression"]))
    train, val = splits(40, 10)
    assert not {p["question"] for p in train} & {p["question"] for p in val}


def test_level_one_problems_are_one_operation_on_small_numbers() -> None:
    problems = generate(200, seed=0, level=1)
    assert len({p["question"] for p in problems}) == 200
    for problem in problems:
        assert len(re.findall(r"[-+*/]", problem["expression"])) == 1
        assert float(problem["answer"]) == pytest.approx(evaluate(problem["expression"]))
        assert 0 <= float(problem["answer"]) <= 400 and float(problem["answer"]).is_integer()
    train, val = splits(40, 10, level=1)
    assert not {p["question"] for p in train} & {p["question"] for p in val}
    with pytest.raises(ValueError, match="level must be one of"):
        generate(3, level=3)


def test_calculator_refuses_anything_but_arithmetic() -> None:
    assert evaluate("(3 + 4) * 2 ^ 3") == 56
    for bad in ("__import__('os')", "x + 1", "2 ** 1000", "1 / 0"):
        with pytest.raises(ValueError):
            evaluate(bad)


def test_answers_are_read_from_the_final_message() -> None:
    assert extract_answer("so 6*7 = 42. ANSWER: 42") == 42
    assert extract_answer("The total is 1,234.5 dollars") == 1234.5
    assert score("ANSWER: 41.99999", "42") == 1.0 and score("ANSWER: 41", "42") == 0.0


def _solver_script(problems: list[dict[str, Any]], wrong: set[str]) -> Any:
    """Calls the calculator with the problem's expression, then states its result (off by one for
    the questions in ``wrong``)."""
    expressions = {p["question"]: p["expression"] for p in problems}

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        question = last_user_text(body)
        last = body["messages"][-1]
        if last["role"] == "tool":
            value = float(last["content"]) + (1 if question in wrong else 0)
            return {"content": f"The calculator says so. ANSWER: {value:g}"}
        return {"tool_calls": [tool_call("calculate", {"expression": expressions[question]}, "call_calc")]}

    return respond


@pytest.mark.slow
async def test_solver_uses_the_mcp_calculator_through_the_proxy() -> None:
    problems = generate(2, seed=11)
    upstream = ScriptedUpstream(_solver_script(problems, wrong={problems[1]["question"]}))
    with calculator_server() as mcp_url:
        async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
            results = await harness.run(make_agent(mcp_url), problems, tracer=OtelTracer())
    assert [r.reward for r in results] == [1.0, 0.0]
    for result, problem in zip(results, problems, strict=True):
        assert result.rollout.status.value == "succeeded"
        (tool,) = result.spans_of_type("tool")
        assert tool.attributes[semconv.GEN_AI_TOOL_NAME] == "calculate"
        assert tool.attributes[semconv.TOOL_ARGUMENTS] == {"expression": problem["expression"]}
        assert tool.attributes[semconv.TOOL_RESULT] == problem["answer"]  # computed by the MCP server
        triplets = result.triplets(agent_match="solver")
        assert len(triplets) == 2 and {t.agent_name for t in triplets} == {"solver"}


@pytest.mark.slow
async def test_smoke_command_runs_rollouts_through_the_trainer(tmp_path: Path) -> None:
    """``python -m calc_x.train --smoke`` against an OpenAI-compatible server (here the scripted one)."""
    _, val = splits(200, 50)
    upstream = ScriptedUpstream(_solver_script(val[:2], wrong=set()))
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
    assert summary["rollouts"] == 2 and summary["succeeded"] == 2
    assert summary["rewards"] == [1.0, 1.0]
    assert summary["llm_calls"] == [2, 2]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the 135M model on 2 CPU cores: minutes per rollout on a busy machine
@pytest.mark.skipif(
    "transformers" not in AglPluginManager().registry("agl_register_llm_engines"),
    reason="the local CPU engine (agentlightning-transformers) is not installed",
)
async def test_smoke_with_the_local_model(tmp_path: Path) -> None:
    summary = await run_cli(
        "--smoke", "--smoke-size", "1", "--max-tokens", "64", "--output-dir", str(tmp_path), timeout=1100
    )
    assert summary["rollouts"] == 1 and summary["succeeded"] == 1
    assert summary["rewards"][0] in (0.0, 1.0) and summary["llm_calls"][0] >= 1
