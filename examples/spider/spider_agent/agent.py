"""The SQL agent: LangGraph nodes ``write`` → ``check`` → (``rewrite`` → ``check``)*.

``build_graph`` is ordinary LangGraph code; its one Agent Lightning touch is that ``ChatOpenAI``
takes the rollout's ``llm.endpoint`` as base URL. Training only ``write`` and ``rewrite`` is a
matter of ``agent_match`` (see ``train.py``): the checker's calls stay out of the triplets.
"""

from __future__ import annotations

from typing import Any, TypedDict

import agentlightning_langgraph

from agentlightning_core.types import LLM

from .sql import describe_execution, execution_match, extract_sql, schema_text, shaped_reward

WRITE_PROMPT = "You write SQLite queries. Answer with one SQL query in a ```sql block and nothing else."
CHECK_PROMPT = (
    "You review an SQLite query against a question. Reply CORRECT if the query answers the question, "
    "else INCORRECT followed by what to fix."
)
REWRITE_PROMPT = (
    "You fix SQLite queries using the reviewer's feedback. Answer with one corrected query in a ```sql block."
)

TRAINED_AGENTS = ["write", "rewrite"]


class SqlState(TypedDict, total=False):
    question: str
    db_id: str
    schema: str
    query: str
    execution: str
    feedback: str
    verdict: str
    turns: int


#: completion cap when the LLM resource sets none: a query or a verdict is short, and the local
#: engine's default (512 tokens) makes a CPU rollout several times slower
DEFAULT_MAX_TOKENS = 160


def build_graph(llm: LLM, max_turns: int = 2, max_tokens: int = DEFAULT_MAX_TOKENS) -> Any:
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI
    from langgraph.graph import END, START, StateGraph

    sampling = {
        k: v for k, v in llm.sampling_parameters.items() if k in ("temperature", "max_tokens", "top_p")
    }
    sampling.setdefault("max_tokens", max_tokens)  # the cap when the LLM resource sets none
    model = ChatOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, model=llm.model, **sampling)

    def ask(system: str, user: str) -> str:
        return str(model.invoke([SystemMessage(system), HumanMessage(user)]).content)

    def write(state: SqlState) -> SqlState:
        answer = ask(WRITE_PROMPT, f"Database schema:\n{state['schema']}\n\nQuestion: {state['question']}")
        return {"query": extract_sql(answer), "turns": 0}

    def check(state: SqlState) -> SqlState:
        execution = describe_execution(state["db_id"], state["query"])
        review = ask(
            CHECK_PROMPT,
            f"Database schema:\n{state['schema']}\n\nQuestion: {state['question']}\n\n"
            f"Query:\n{state['query']}\n\nExecution result: {execution}",
        )
        verdict = (
            "incorrect" if "INCORRECT" in review.upper() or "CORRECT" not in review.upper() else "correct"
        )
        return {"execution": execution, "feedback": review, "verdict": verdict}

    def rewrite(state: SqlState) -> SqlState:
        answer = ask(
            REWRITE_PROMPT,
            f"Database schema:\n{state['schema']}\n\nQuestion: {state['question']}\n\nQuery:\n{state['query']}\n\n"
            f"Execution result: {state['execution']}\n\nFeedback: {state['feedback']}",
        )
        return {"query": extract_sql(answer) or state["query"], "turns": state.get("turns", 0) + 1}

    def after_check(state: SqlState) -> str:
        done = state["verdict"] == "correct" or state.get("turns", 0) >= max_turns
        return END if done else "rewrite"

    graph = StateGraph(SqlState)
    graph.add_node("write", write)
    graph.add_node("check", check)
    graph.add_node("rewrite", rewrite)
    graph.add_edge(START, "write")
    graph.add_edge("write", "check")
    graph.add_conditional_edges("check", after_check, ["rewrite", END])
    graph.add_edge("rewrite", "check")
    return graph.compile()


def to_input(task: dict[str, Any]) -> SqlState:
    return {"question": task["question"], "db_id": task["db_id"], "schema": schema_text(task["db_id"])}


def reward(task: dict[str, Any], state: SqlState) -> float:
    """Execution match of the final query: 1.0 or 0.0."""
    return execution_match(task["db_id"], state.get("query", ""), task["query"])


def shaped(task: dict[str, Any], state: SqlState) -> float:
    """Execution match, with 0.1 for a final query that runs but does not match (``--reward shaped``)."""
    return shaped_reward(task["db_id"], state.get("query", ""), task["query"])


REWARDS = {"match": reward, "shaped": shaped}


def make_agent(max_turns: int = 2, max_tokens: int = DEFAULT_MAX_TOKENS, reward_name: str = "match") -> Any:
    if reward_name not in REWARDS:
        raise ValueError(f"reward must be one of {sorted(REWARDS)}, got {reward_name!r}")
    return agentlightning_langgraph.wrap(
        lambda llm: build_graph(llm, max_turns, max_tokens),
        reward=REWARDS[reward_name],
        to_input=to_input,
        name="spider",
    )
