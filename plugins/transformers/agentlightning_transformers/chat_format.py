"""From OpenAI chat messages (with tools) to a prompt string, and from model text back to tool calls.

Models whose chat template understands ``tools`` (Qwen, Llama 3.1, Hermes, ...) get them through
the template. Models whose template does not (SmolLM2's is plain ChatML) get this documented
format, the widespread Hermes convention, appended to the system message::

    # Tools
    You may call one of these tools:
    <tools>
    {"name": "calculate", "description": "...", "parameters": {...}}
    </tools>
    To call a tool, reply with exactly:
    <tool_call>{"name": "<tool name>", "arguments": {<arguments as JSON>}}</tool_call>

Assistant turns that made tool calls are rendered back in the same ``<tool_call>`` form, and tool
results as ``<tool_response>...</tool_response>`` in a ``tool`` turn, so a multi-turn conversation
reads to the model exactly as it would have written it. :func:`parse_tool_calls` finds the
``<tool_call>`` blocks (and, leniently, a bare ``{"name": ..., "arguments": ...}`` reply naming a
tool of the request) in the completion and turns them into OpenAI ``tool_calls``.

A ``<tool_call>`` block is always returned as a call, even when it names a tool the request does
not offer or its JSON is broken: the model asked for a tool, and the agent (which runs tools) is
the one to answer "unknown tool" or "bad arguments" as the tool result, so the model can learn
from it and the rollout goes on. Broken JSON keeps the name when one can be read
(``"name": "..."``, else ``""``) and passes the block's raw text as ``arguments``, which the
agent's ``json.loads`` then rejects.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
NAME_RE = re.compile(r'"name"\s*:\s*"([^"]*)"')


def tools_system_text(tools: Sequence[dict[str, Any]]) -> str:
    lines = [json.dumps(_function_of(t), ensure_ascii=False) for t in tools]
    return (
        "# Tools\nYou may call one of these tools:\n<tools>\n"
        + "\n".join(lines)
        + "\n</tools>\nTo call a tool, reply with exactly:\n"
        + '<tool_call>{"name": "<tool name>", "arguments": {<arguments as JSON>}}</tool_call>'
    )


def _function_of(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type", "function") != "function" or "function" not in tool:
        raise ValueError(
            f"tools: only {{'type': 'function', 'function': {{...}}}} entries are supported, got {tool!r}"
        )
    fn: dict[str, Any] = tool["function"]
    if not fn.get("name"):
        raise ValueError("tools[].function.name is required")
    return fn


def _content_text(content: Any) -> str:
    """OpenAI content may be a string, None, or a list of parts; keep the text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


def render_tool_call(call: dict[str, Any]) -> str:
    fn = call.get("function") or {}
    args: Any = fn.get("arguments", "{}")
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            pass  # keep the raw string; the model sees what was sent
    return (
        "<tool_call>"
        + json.dumps({"name": fn.get("name"), "arguments": args}, ensure_ascii=False)
        + "</tool_call>"
    )


def normalize_messages(
    messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None, template_has_tools: bool
) -> list[dict[str, Any]]:
    """Messages with plain string contents that any ChatML-like template can render."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} objects")
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or "role" not in msg:
            raise ValueError(f"messages[{i}] must be an object with a 'role'")
        role = msg["role"]
        text = _content_text(msg.get("content"))
        if role == "developer":
            role = "system"
        if role == "assistant" and msg.get("tool_calls"):
            calls = "\n".join(render_tool_call(c) for c in msg["tool_calls"])
            text = f"{text}\n{calls}" if text else calls
        elif role == "tool" and not template_has_tools:
            text = f"<tool_response>\n{text}\n</tool_response>"
        out.append({"role": role, "content": text})
    if tools and not template_has_tools:
        block = tools_system_text(tools)
        if out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{block}"}
        else:
            out.insert(0, {"role": "system", "content": block})
    return out


def forced_call_prefix(tools: Sequence[dict[str, Any]] | None, tool_choice: Any) -> str | None:
    """The text a completion starts with when ``tool_choice`` forces a tool call, else ``None``.

    ``"required"`` with one tool, or ``{"type": "function", "function": {"name": ...}}``, forces
    that function: the prefix runs up to its first argument's value, e.g.
    ``<tool_call>{"name": "calculate", "arguments": {"expression": "`` (the first ``required``
    parameter, or the only one; a string parameter gets its opening quote), so the model writes
    only the value. ``"required"`` with several tools forces a call and leaves the name to the
    model: ``<tool_call>{"name": "``. ``None``, ``"auto"`` and ``"none"`` force nothing. Any other
    value, or a choice naming no tool of the request, raises :class:`ValueError`.
    """
    if tool_choice is None or tool_choice in ("auto", "none"):
        return None
    offered = [_function_of(t) for t in tools or []]
    if tool_choice == "required":
        if not offered:
            raise ValueError("tool_choice='required' needs a non-empty tools list")
        if len(offered) > 1:
            return '<tool_call>{"name": "'
        return _function_prefix(offered[0])
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        name = (tool_choice.get("function") or {}).get("name")
        for fn in offered:
            if fn["name"] == name:
                return _function_prefix(fn)
        raise ValueError(
            f"tool_choice names function {name!r}, which is not in tools ({[fn['name'] for fn in offered]})"
        )
    raise ValueError(
        f"tool_choice {tool_choice!r} is not supported: use 'auto', 'none', 'required' or "
        "{'type': 'function', 'function': {'name': ...}}"
    )


def _function_prefix(fn: dict[str, Any]) -> str:
    head = "<tool_call>" + json.dumps({"name": fn["name"]}, ensure_ascii=False)[:-1] + ', "arguments": {'
    params = fn.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    required = [r for r in params.get("required") or [] if r in props]
    first = required[0] if required else (next(iter(props)) if len(props) == 1 else None)
    if first is None:
        return head
    quote = '"' if (props[first] or {}).get("type") == "string" else ""
    return head + json.dumps(first, ensure_ascii=False) + ": " + quote


def parse_tool_calls(text: str, tool_names: set[str]) -> tuple[str | None, list[dict[str, Any]]]:
    """Split a completion into its plain content and OpenAI ``tool_calls``.

    Every ``<tool_call>`` block is a call (see the module docstring for unknown names and broken
    JSON); a bare JSON reply counts only when it names a tool of the request, so a model that
    merely writes JSON is not turned into a call.
    """
    calls: list[dict[str, Any]] = []
    spans: list[tuple[int, int]] = []
    for match in TOOL_CALL_RE.finditer(text):
        calls.append(_as_call(match.group(1), None) or _broken_call(match.group(1)))
        spans.append(match.span())
    if not calls:
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            call = _as_call(stripped, tool_names)
            if call is not None:
                return None, [call]
        return text, []
    rest = text
    for start, end in reversed(spans):
        rest = rest[:start] + rest[end:]
    rest = rest.strip()
    return (rest or None), calls


def _as_call(raw: str, tool_names: set[str] | None) -> dict[str, Any] | None:
    """``raw`` as a call when it is a JSON object with a string ``name`` (one of ``tool_names``
    unless that is ``None``). A block that only lacks its closing braces (a model that stopped
    right after the value, ``... "12 * 34"``, or wrote one ``}`` too few) is read as closed."""
    obj: Any = None
    for closing in ("", "}", "}}", '"}}'):
        try:
            obj = json.loads(raw + closing)
            break
        except json.JSONDecodeError:
            continue
    else:
        return None
    if not isinstance(obj, dict):
        return None
    name = obj.get("name")
    if not isinstance(name, str) or (tool_names is not None and name not in tool_names):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    arguments = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    return _call(name, arguments)


def _broken_call(raw: str) -> dict[str, Any]:
    """A ``<tool_call>`` block that is not a JSON object with a name: its name if one can be
    read, and its raw text as the arguments (which no JSON parser accepts as an object)."""
    found = NAME_RE.search(raw)
    return _call(found.group(1) if found else "", raw)


def _call(name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
