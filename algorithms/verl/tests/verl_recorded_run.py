"""A real multi-turn, multi-agent run with per-call rewards, recorded by this project's own pieces.

``run_recorded`` runs the Trainer in-process — memory store, LLM proxy, one runner — with an agent
written with the plain ``openai`` client: a ``solver`` drafts (reward ``draft`` 0.5/0 right after),
a ``critic`` reviews, the ``solver`` answers again (final ``reward`` 1/0). The engine is a scripted
OpenAI-compatible upstream (``agentlightning_core.testing``) whose answers depend on the task and
the attempt, and whose token ids lie in a 512-token vocabulary, so a tiny model can train on
them. The rollouts are collected by ``VERL._collect`` — the same call the GPU run makes each step.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VOCAB = 512


@dataclass
class RecordedRun:
    outcomes: list[Any]
    groups: list[str]
    tasks: list[dict[str, Any]]


def small_ids(text: str) -> list[int]:
    from agentlightning_core.testing.scripted_llm import token_ids

    return [3 + i % (VOCAB - 3) for i in token_ids(text)]


class Responder:
    """Answers by task and turn; within a task, every other final answer is right (so the
    rollouts of a group differ and advantages are not all zero), every other draft too."""

    def __init__(self) -> None:
        self.count: dict[tuple[int, str], int] = {}

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        n = int(str(messages[0].get("content", "")).split()[1])
        if "review" in str(messages[-1].get("content", "")):
            return {"content": f"critic: task {n} checked"}
        turn = "final" if any(m.get("role") == "assistant" for m in messages) else "draft"
        k = self.count.get((n, turn), 0)
        self.count[(n, turn)] = k + 1
        verdict = "right" if k % 2 == 0 else "wrong"
        return {"content": f"{turn} {verdict} answer {2 * n + k} for task {n}"}


def agent_module() -> Any:
    """The agent: plain openai client, three calls, two agents, two rewards."""
    import openai

    from agentlightning_core import LLM, emit_reward, rollout

    @rollout
    async def solver_with_critic(task: dict[str, Any], llm: LLM) -> None:
        client = openai.AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value or "x", max_retries=0)
        question = [{"role": "user", "content": f"task {task['n']} what is {task['q']}?"}]
        draft = await client.chat.completions.create(
            model=llm.model, messages=question, extra_headers={"X-AGL-Agent": "solver"}, logprobs=True
        )
        draft_text = draft.choices[0].message.content or ""
        emit_reward(0.5 if "right" in draft_text else 0.0, name="draft")
        review = await client.chat.completions.create(
            model=llm.model,
            messages=[{"role": "user", "content": f"task {task['n']} review: {draft_text}"}],
            extra_headers={"X-AGL-Agent": "critic"},
        )
        final = await client.chat.completions.create(
            model=llm.model,
            messages=[
                *question,
                {"role": "assistant", "content": draft_text},
                {"role": "user", "content": review.choices[0].message.content or ""},
            ],
            extra_headers={"X-AGL-Agent": "solver"},
        )
        emit_reward(1.0 if "right" in (final.choices[0].message.content or "") else 0.0)  # the final "reward"

    return solver_with_critic


async def run_recorded(
    tmp_path: Path, config: Any, tasks: list[dict[str, Any]], step: int = 1
) -> RecordedRun:
    from agentlightning_verl import VERL

    from agentlightning_core import Algorithm, AlgorithmResult, Trainer, TrainerContext
    from agentlightning_core.proxy.upstream import OpenAIEngine
    from agentlightning_core.testing.scripted_llm import ScriptedUpstream

    class SmallVocabUpstream(ScriptedUpstream):
        def completion(self, body: dict[str, Any]) -> dict[str, Any]:
            out = super().completion(body)
            out["prompt_token_ids"] = small_ids(json.dumps(body.get("messages")))
            choice = out["choices"][0]
            message = choice["message"]
            choice["token_ids"] = small_ids(message.get("content") or "")
            choice["logprobs"] = {
                "content": [
                    {"token": str(t), "logprob": -0.5, "top_logprobs": []} for t in choice["token_ids"]
                ]
            }
            return out

    collected: dict[str, Any] = {}
    verl = VERL(config)

    class Collect(Algorithm):
        async def run(self, ctx: TrainerContext) -> AlgorithmResult:
            outcomes, groups = await verl._collect(ctx, list(range(len(tasks))), step)
            collected["outcomes"], collected["groups"] = outcomes, groups
            return AlgorithmResult()

    upstream = SmallVocabUpstream(Responder())
    async with upstream.serve() as url:
        trainer = Trainer(
            Collect(),
            store="memory://",
            bus="memory",
            tracer="noop",
            engine=OpenAIEngine(base_url=url),
            n_runners=1,
            concurrency=4,
            output_dir=tmp_path / "run",
            progress=False,
        )
        await trainer.fit_async(agent_module(), tasks)
    return RecordedRun(collected["outcomes"], collected["groups"], tasks)


TASKS = [{"n": n, "q": f"{n} + {n}"} for n in (1, 2, 3)]


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)


def make_tiny_model(folder: Path) -> Path:
    """A randomly initialised 2-layer Llama (vocab 512, hidden 32) with a word-level tokenizer,
    saved as a Hugging Face folder: what VERL's configs and the CPU actor update load."""
    import torch
    from tokenizers import Tokenizer, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, **{f"t{i}": i for i in range(3, VOCAB)}}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<pad>")),
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )
    tokenizer.save_pretrained(folder)
    return folder
