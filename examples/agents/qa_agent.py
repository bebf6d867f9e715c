"""A question-answering agent written with the plain ``openai`` client.

Nothing in it knows about training: it calls the LLM endpoint it is handed and returns a reward.
Run it with ``agl runner --server URL --agent examples/agents/qa_agent.py:qa_agent``.
"""

from __future__ import annotations

from openai import AsyncOpenAI

from agentlightning_core import LLM, PromptTemplate, emit_reward, rollout


@rollout
async def qa_agent(task: dict[str, str], llm: LLM, prompt: PromptTemplate) -> float:
    client = AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value)
    reply = await client.chat.completions.create(
        model=llm.model,
        messages=[{"role": "user", "content": prompt.format(question=task["question"])}],
        **llm.sampling_parameters,
    )
    answer = reply.choices[0].message.content or ""
    emit_reward(1.0 if len(answer) < 200 else 0.0, name="brevity")  # a side signal, logged
    return 1.0 if task["answer"].lower() in answer.lower() else 0.0  # the rollout's reward
