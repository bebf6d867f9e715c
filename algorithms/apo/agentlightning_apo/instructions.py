"""The critic's and the editor's instructions, and the messages built around them.

Kept short on purpose: the default critic is the small local model, and every token of
instruction is a token less for the traces. Replace them with ``critic_instructions`` /
``editor_instructions`` when a stronger model deserves more guidance.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentlightning_core.types import PromptTemplate

from .templates import placeholders
from .traces import Failure

CRITIC_INSTRUCTIONS = (
    "You review the prompt an AI agent was given. You see the prompt and tasks where the agent "
    "did badly. Explain briefly what in the prompt caused these mistakes and what the prompt "
    "should say instead. Give a short list of reasons. Do not write a new prompt."
)

EDITOR_INSTRUCTIONS = (
    "You improve prompts for an AI agent. Rewrite the prompt so that it fixes the problems the "
    "critique names. Keep every placeholder in curly braces exactly as it is. Reply with only the "
    "new prompt, between <prompt> and </prompt>."
)


def critic_messages(
    name: str,
    template: PromptTemplate,
    failures: Sequence[Failure],
    batch_size: int,
    *,
    total_failures: int | None = None,
    max_trace_chars: int,
    instructions: str | None = None,
) -> list[dict[str, str]]:
    """The textual-gradient request: the prompt, then each failure as the agent lived it."""
    fields = ", ".join("{" + p + "}" for p in sorted(placeholders(template))) or "none"
    parts = [
        f'The prompt (template "{name}"; the agent fills in {fields} for each task):',
        f"<prompt>\n{template.template}\n</prompt>",
        f"The agent did badly on {total_failures or len(failures)} of {batch_size} tasks. "
        + (
            "Here they are:"
            if (total_failures or len(failures)) == len(failures)
            else f"Here are {len(failures)} of them:"
        ),
    ]
    for i, failure in enumerate(failures, 1):
        parts.append(f"### Example {i}\n{failure.render(max_trace_chars)}")
    parts.append("What is wrong with the prompt? Answer with a short list of reasons.")
    return [
        {"role": "system", "content": instructions or CRITIC_INSTRUCTIONS},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def editor_messages(
    name: str, template: PromptTemplate, critique: str, *, instructions: str | None = None
) -> list[dict[str, str]]:
    """The edit request: apply the critique to the prompt."""
    fields = ", ".join("{" + p + "}" for p in sorted(placeholders(template)))
    keep = f" It must keep the placeholder(s) {fields}." if fields else ""
    user = (
        f'The current prompt (template "{name}"):\n<prompt>\n{template.template}\n</prompt>\n\n'
        f"Critique of this prompt:\n{critique.strip()}\n\n"
        f"Write an improved prompt.{keep} Put it between <prompt> and </prompt>."
    )
    return [
        {"role": "system", "content": instructions or EDITOR_INSTRUCTIONS},
        {"role": "user", "content": user},
    ]
