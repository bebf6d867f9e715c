"""The critic/editor client against a real HTTP server, and the checks an edit must pass."""

from __future__ import annotations

import pytest
from agentlightning_apo.chat import ChatClient, ChatError, describe, safe_url, with_key_from_env
from agentlightning_apo.templates import extract_prompt, repair_braces, validate_edit
from agentlightning_apo.testing import ScriptedLLMServer, ScriptedRequest

from agentlightning_core.types import LLM, PromptTemplate


async def test_transient_errors_are_retried_then_the_answer_returned() -> None:
    answers: list[str | tuple[int, str]] = [(503, "busy"), (429, "slow down"), "fine"]

    def script(req: ScriptedRequest) -> str | tuple[int, str]:
        return answers.pop(0)

    async with ScriptedLLMServer(script) as server:
        llm = server.llm(sampling_parameters={"temperature": 0.1, "max_tokens": 9})
        client = ChatClient(llm, role="critic", sampling={"max_tokens": 50}, retries=2)
        assert await client.complete([{"role": "user", "content": "hi"}], seed=7) == "fine"
    assert len(server.requests) == 3
    body = server.requests[-1].body
    # the call's own sampling overrides the resource's; the seed and model are sent
    assert (body["temperature"], body["max_tokens"], body["seed"], body["model"]) == (0.1, 50, 7, "scripted")
    assert server.requests[-1].headers["Authorization"] == "Bearer agl-local"


async def test_retries_run_out_with_an_error_naming_endpoint_and_model() -> None:
    async with ScriptedLLMServer(lambda req: (500, "boom")) as server:
        client = ChatClient(server.llm(), role="editor", retries=1)
        with pytest.raises(
            ChatError, match=r"editor endpoint .*/v1/chat/completions \(model 'scripted'\) answered HTTP 500"
        ):
            await client.complete([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 2


async def test_an_unreachable_endpoint_is_reported() -> None:
    async with ScriptedLLMServer(lambda req: "x") as server:
        url = server.url
    client = ChatClient(LLM(endpoint=url, model="m"), role="critic", retries=0)
    with pytest.raises(ChatError, match="unreachable"):
        await client.complete([{"role": "user", "content": "hi"}])


async def test_a_reply_without_choices_is_an_error() -> None:
    async with ScriptedLLMServer(lambda req: {"error": "no choices here"}) as server:
        client = ChatClient(server.llm(), role="critic", retries=0)
        with pytest.raises(ChatError, match="returned no chat completion"):
            await client.complete([{"role": "user", "content": "hi"}])


async def test_a_wrong_path_fails_at_once_with_a_hint() -> None:
    async with ScriptedLLMServer(lambda req: "x") as server:
        client = ChatClient(LLM(endpoint=server.url + "/nothing-here", model="m"), role="critic", retries=3)
        with pytest.raises(ChatError, match=r"HTTP 404.*check the API key and model name"):
            await client.complete([{"role": "user", "content": "hi"}])
    assert server.requests == []


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = LLM(endpoint="http://x/v1", model="m")
    assert with_key_from_env(llm, None, "critic") is llm
    monkeypatch.setenv("MY_KEY", "sk-abc")
    keyed = with_key_from_env(llm, "MY_KEY", "critic")
    assert keyed.api_key_value == "sk-abc"
    assert "sk-abc" not in repr(keyed) and "sk-abc" not in str(describe(keyed))
    assert describe(keyed) == {"endpoint": "http://x/v1", "model": "m", "has_api_key": True}
    monkeypatch.setenv("EMPTY_KEY", "")
    with pytest.raises(ChatError, match=r"editor_api_key_env names \$EMPTY_KEY"):
        with_key_from_env(llm, "EMPTY_KEY", "editor")


async def test_an_endpoint_that_echoes_the_key_does_not_put_it_in_the_error() -> None:
    secret = "sk-echoed-" + "9e1d" * 8
    # some APIs quote the rejected key back ("Incorrect API key provided: sk-...")
    async with ScriptedLLMServer(lambda req: (401, f"Incorrect API key provided: {secret}")) as server:
        client = ChatClient(server.llm(api_key=secret), role="critic", retries=0)
        with pytest.raises(ChatError) as info:
            await client.complete([{"role": "user", "content": "hi"}])
    assert "HTTP 401" in str(info.value) and "Incorrect API key provided: ***" in str(info.value)
    assert secret not in str(info.value)


def test_a_password_in_the_endpoint_url_is_not_recorded() -> None:
    llm = LLM(endpoint="https://ada:s3cret-pw@llm.example.com:8443/v1?x=1", model="m")
    assert describe(llm)["endpoint"] == "https://ada:***@llm.example.com:8443/v1?x=1"
    assert safe_url("http://127.0.0.1:9/v1") == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Sure!\n<prompt>\nNew {text}\n</prompt>\nHope it helps", "New {text}"),
        ("<PROMPT>first {text}</PROMPT> then <prompt>second {text}</prompt>", "second {text}"),
        ("<prompt>unterminated {text}", "unterminated {text}"),
        ("```\nfenced {text}\n```", "fenced {text}"),
        ("  just text {text}  ", "just text {text}"),
    ],
)
def test_extract_prompt(reply: str, expected: str) -> None:
    assert extract_prompt(reply) == expected


def test_stray_braces_are_escaped_and_placeholders_kept() -> None:
    fixed = repair_braces('Answer as {"team": "..."} for {text} {{ok}}', {"text"})
    assert fixed == 'Answer as {{"team": "..."}} for {text} {{ok}}'
    assert fixed.format(text="T") == 'Answer as {"team": "..."} for T {ok}'


def test_validate_edit_accepts_keeps_and_rejects() -> None:
    parent = PromptTemplate(template="Route: {text} ({lang})")
    ok, reason, repairs = validate_edit(parent, 'Route {text} in {lang}; reply {"team": x}')
    assert repairs == ["escaped braces that are not placeholders"]
    assert (
        reason is None
        and ok is not None
        and ok.format(text="a", lang="b") == 'Route a in b; reply {"team": x}'
    )
    assert validate_edit(parent, "Route {text}")[1] == "the edited prompt dropped placeholder(s) {lang}"
    assert validate_edit(parent, "   ")[1] == "the editor returned an empty prompt"
    # an invented placeholder is escaped into literal text, not rejected
    invented, reason, _ = validate_edit(parent, "Route {text} ({lang}) for {customer}")
    assert reason is None and invented is not None
    assert invented.format(text="a", lang="b") == "Route a (b) for {customer}"


def test_dropped_placeholders_can_be_appended_instead_of_rejected() -> None:
    parent = PromptTemplate(template="Route: {text} ({lang})")
    fixed, reason, repairs = validate_edit(parent, "Route it to a team.", append_missing=True)
    assert reason is None and fixed is not None
    assert fixed.template == "Route it to a team.\n\n{lang}\n{text}"
    assert repairs == ["appended dropped placeholder(s) {lang}, {text}"]


def test_validate_edit_with_jinja() -> None:
    pytest.importorskip("jinja2")
    parent = PromptTemplate(template="Route: {{ text }}", engine="jinja")
    assert validate_edit(parent, "Team for {{ text }}?")[1] is None
    assert "added unknown placeholder(s) {other}" in (
        validate_edit(parent, "{{ text }} {{ other }}")[1] or ""
    )
    assert "does not parse" in (validate_edit(parent, "{{ text ")[1] or "")
