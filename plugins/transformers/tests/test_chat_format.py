"""Tools into the prompt, tool calls out of the text, and the result as the openai client reads it."""

from __future__ import annotations

import json

import pytest
from agentlightning_transformers.chat_format import forced_call_prefix, normalize_messages, parse_tool_calls
from agentlightning_transformers.engine import chat_choice
from openai.types.chat import ChatCompletion

TOOL = {
    "type": "function",
    "function": {
        "name": "calculate",
        "description": "Evaluate an arithmetic expression.",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
    },
}


def test_tools_are_described_in_the_system_message_when_the_template_cannot() -> None:
    msgs = normalize_messages(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}], [TOOL], False
    )
    assert msgs[0]["role"] == "system"
    assert msgs[0]["content"].startswith("Be brief.\n\n# Tools")
    assert json.dumps(TOOL["function"]) in msgs[0]["content"]
    assert "<tool_call>" in msgs[0]["content"]
    no_system = normalize_messages([{"role": "user", "content": "2+2?"}], [TOOL], False)
    assert [m["role"] for m in no_system] == ["system", "user"]


def test_a_tool_round_trip_renders_as_the_model_would_write_it() -> None:
    msgs = normalize_messages(
        [
            {"role": "user", "content": "What is 7+8?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "calculate", "arguments": '{"expression": "7+8"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "15"},
        ],
        None,
        False,
    )
    assert msgs[1] == {
        "role": "assistant",
        "content": '<tool_call>{"name": "calculate", "arguments": {"expression": "7+8"}}</tool_call>',
    }
    assert msgs[2] == {"role": "tool", "content": "<tool_response>\n15\n</tool_response>"}


def test_content_parts_and_developer_role_become_plain_text() -> None:
    msgs = normalize_messages(
        [{"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
        None,
        False,
    )
    assert msgs == [{"role": "system", "content": "ab"}]


def test_bad_messages_name_the_field() -> None:
    with pytest.raises(ValueError, match="messages must be a non-empty list"):
        normalize_messages([], None, False)
    with pytest.raises(ValueError, match=r"messages\[0\]"):
        normalize_messages([{"content": "x"}], None, False)
    with pytest.raises(ValueError, match="tools"):
        normalize_messages([{"role": "user", "content": "x"}], [{"type": "web_search"}], False)


def test_tool_calls_are_parsed_and_the_rest_stays_content() -> None:
    text = 'Let me compute.\n<tool_call>{"name": "calculate", "arguments": {"expression": "3*4"}}</tool_call>'
    content, calls = parse_tool_calls(text, {"calculate"})
    assert content == "Let me compute."
    assert len(calls) == 1
    assert calls[0]["type"] == "function"
    assert calls[0]["function"] == {"name": "calculate", "arguments": '{"expression": "3*4"}'}
    assert calls[0]["id"].startswith("call_")


def test_plain_text_and_bare_json_naming_no_offered_tool_stay_text() -> None:
    for text in ["12", '{"name": "search", "arguments": {}}', '{"answer": 3}']:
        assert parse_tool_calls(text, {"calculate"}) == (text, [])


def test_a_tool_call_block_with_an_unknown_name_or_broken_json_is_still_a_call() -> None:
    """The agent answers these with an error as the tool result; dropping them would hide the
    model's attempt from it (and from training)."""
    content, calls = parse_tool_calls(
        '<tool_call>{"name": "search", "arguments": {}}</tool_call>', {"calculate"}
    )
    assert content is None
    assert calls[0]["function"] == {"name": "search", "arguments": "{}"}
    _, calls = parse_tool_calls(
        '<tool_call>{"name": "calculate", "arguments": {"expression": 3*4}</tool_call>', {"calculate"}
    )
    assert calls[0]["function"]["name"] == "calculate"
    with pytest.raises(json.JSONDecodeError):
        json.loads(calls[0]["function"]["arguments"])
    _, calls = parse_tool_calls("<tool_call>{not json</tool_call>", {"calculate"})
    assert calls[0]["function"] == {"name": "", "arguments": "{not json"}


def test_a_bare_json_call_and_an_unclosed_tag_are_accepted() -> None:
    _, calls = parse_tool_calls('{"name": "calculate", "arguments": {"expression": "1+1"}}', {"calculate"})
    assert calls[0]["function"]["name"] == "calculate"
    _, calls = parse_tool_calls(
        '<tool_call>{"name": "calculate", "arguments": {"expression": "2"}}', {"calculate"}
    )
    assert json.loads(calls[0]["function"]["arguments"]) == {"expression": "2"}


def test_the_openai_client_types_read_our_choice() -> None:
    text = '<tool_call>{"name": "calculate", "arguments": {"expression": "2+3"}}</tool_call>'
    lp = [{"token": "<", "logprob": -0.1, "bytes": [60], "top_logprobs": []}]
    body = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [chat_choice(0, text, [5, 2], lp, "stop", {"calculate"})],
        "prompt_token_ids": [1, 2, 3],
        "weights_version": 4,
    }
    completion = ChatCompletion.model_validate(body)
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.function.name == "calculate"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"expression": "2+3"}  # type: ignore[union-attr]
    assert completion.choices[0].logprobs is not None
    assert completion.choices[0].logprobs.content is not None
    assert completion.choices[0].logprobs.content[0].logprob == -0.1


SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"limit": {"type": "integer"}, "query": {"type": "string"}},
            "required": ["limit"],
        },
    },
}


def test_a_forced_tool_call_starts_at_the_first_argument_value() -> None:
    prefix = forced_call_prefix([TOOL], "required")
    assert prefix == '<tool_call>{"name": "calculate", "arguments": {"expression": "'
    named = {"type": "function", "function": {"name": "search"}}
    # the first required parameter; an integer has no opening quote
    assert (
        forced_call_prefix([TOOL, SEARCH], named) == '<tool_call>{"name": "search", "arguments": {"limit": '
    )
    # several tools and "required": the model picks the name
    assert forced_call_prefix([TOOL, SEARCH], "required") == '<tool_call>{"name": "'
    bare = {"type": "function", "function": {"name": "now"}}
    assert forced_call_prefix([bare], "required") == '<tool_call>{"name": "now", "arguments": {'
    for nothing_forced in (None, "auto", "none"):
        assert forced_call_prefix([TOOL], nothing_forced) is None


def test_a_forced_prefix_and_what_the_model_wrote_parse_as_one_call() -> None:
    prefix = forced_call_prefix([TOOL], "required")
    assert prefix is not None
    for written in ('12 * 34"}}</tool_call>', '12 * 34"}}', '12 * 34"}', '12 * 34"'):
        content, calls = parse_tool_calls(prefix + written, {"calculate"})
        assert content is None
        assert json.loads(calls[0]["function"]["arguments"]) == {"expression": "12 * 34"}, written
    choice = chat_choice(0, '5 + 6"}}</tool_call>', [7, 8], [], "stop", {"calculate"}, prefix)
    assert choice["finish_reason"] == "tool_calls"
    assert choice["token_ids"] == [7, 8]  # only what the model wrote; the prefix was prompt
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"expression": "5 + 6"}


@pytest.mark.parametrize(
    ("tools", "choice", "message"),
    [
        ([TOOL], "any", "not supported"),
        ([TOOL], {"type": "function", "function": {"name": "search"}}, "not in tools"),
        ([], "required", "non-empty tools"),
        ([TOOL], {"type": "custom"}, "not supported"),
    ],
)
def test_unsupported_tool_choices_are_refused_by_name(
    tools: list[dict], choice: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        forced_call_prefix(tools, choice)
