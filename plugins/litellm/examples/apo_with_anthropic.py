"""APO whose agent, critic and editor all run on an Anthropic model, through the ``litellm`` engine.

    python plugins/litellm/examples/apo_with_anthropic.py                # offline: a local Messages API
    ANTHROPIC_API_KEY=sk-ant-... python plugins/litellm/examples/apo_with_anthropic.py \\
        --model anthropic/claude-haiku-4-5                               # the real one

Offline, "Claude" is :class:`~agentlightning_litellm.testing.FakeAnthropic` on 127.0.0.1 with a
scripted policy, so the run is reproducible and free: as the agent it answers in upper case only
when its prompt asks for it; as the critic it says so; as the editor it writes that prompt. The
point is the plumbing — the agent's OpenAI client, APO's critic and editor all reach Anthropic's
API through the trainer's proxy and LiteLLM, and every call is recorded — not the model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai

from agentlightning_core import LLM, PromptTemplate, Trainer, rollout

CAPITALS = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Chile": "Santiago",
    "Egypt": "Cairo",
}
TASKS = [{"country": c, "answer": a.upper()} for c, a in CAPITALS.items()]


@rollout
async def capital_agent(task: dict[str, str], prompt: PromptTemplate, main_llm: LLM) -> float:
    """Plain OpenAI-client code; reward 1 when the answer is the capital in upper case."""
    client = openai.AsyncOpenAI(base_url=main_llm.endpoint, api_key=main_llm.api_key_value, max_retries=2)
    reply = await client.chat.completions.create(
        model=main_llm.model,
        messages=[{"role": "user", "content": prompt.format(country=task["country"])}],
        max_tokens=64,
    )
    return float((reply.choices[0].message.content or "").strip() == task["answer"])


def scripted_claude(body: dict[str, Any]) -> str:
    """The offline stand-in's policy (see the module docstring)."""
    system = json.dumps(body.get("system") or "")
    said = json.dumps(body["messages"])
    if "You review the prompt" in system:
        return "- The prompt never says the answer must be in UPPER CASE, so answers come back in mixed case."
    if "You improve prompts" in system:
        return "<prompt>Name the capital city of {country}. Reply with the city name only, in UPPER CASE.</prompt>"
    country = next((c for c in CAPITALS if c in said), "")
    city = CAPITALS.get(country, "unknown")
    return city.upper() if "UPPER CASE" in said else city


@contextlib.asynccontextmanager
async def provider(model: str | None) -> AsyncIterator[dict[str, Any]]:
    """Engine options: the real Anthropic API when a model is named, else the local stand-in."""
    if model:
        yield {"model": model}  # LiteLLM reads ANTHROPIC_API_KEY
        return
    from agentlightning_litellm.testing import FakeAnthropic

    fake = FakeAnthropic(scripted_claude)
    async with fake.serve() as url:
        yield {"model": "anthropic/claude-offline-stand-in", "api_base": url, "api_key": "sk-ant-local"}
        print(f"Anthropic Messages API calls served: {len(fake.requests)}")


async def main(model: str | None, output_dir: Path) -> dict[str, Any]:
    async with provider(model) as engine_options:
        trainer = Trainer(
            algorithm="apo",
            rounds=1,
            beam_width=1,
            branch_factor=1,
            train_batch_size=6,
            val_batch_size=6,
            engine="litellm",
            engine_options=engine_options,
            initial_resources={"prompt": PromptTemplate(template="What is the capital of {country}?")},
            output_dir=output_dir,
            store="memory://",
            bus="memory",
            n_runners=1,
            concurrency=6,
            progress=False,
        )
        try:
            result = await trainer.fit_async(capital_agent, TASKS, TASKS)
        finally:
            await trainer.engine.close()  # type: ignore[union-attr]
        best = trainer.best_resources().resources["prompt"]
        final = result.metrics[-1]
        summary = {
            "val_reward_before": final["apo/initial_val"],
            "val_reward_after": final["apo/best_val"],
            "best_prompt": best.template,  # type: ignore[union-attr]
        }
        print(json.dumps(summary, indent=2))
        return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a LiteLLM model, e.g. anthropic/claude-haiku-4-5")
    parser.add_argument("--output-dir", default="runs/apo-litellm", type=Path)
    args = parser.parse_args()
    if args.model and not os.environ.get("ANTHROPIC_API_KEY"):
        parser.error("--model needs ANTHROPIC_API_KEY (or the key variable of its provider)")
    asyncio.run(main(args.model, args.output_dir))
