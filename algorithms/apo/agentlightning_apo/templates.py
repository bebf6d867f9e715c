"""Checking an edited prompt before it costs any rollout.

The agent fills its template with ``template.format(request=...)`` (or Jinja). An edit that drops
``{request}`` blinds the agent; one that adds ``{foo}`` or a stray JSON brace makes ``format``
raise. Such edits are recorded as rejected rather than scored: they would only waste budget.
"""

from __future__ import annotations

import re
import string

from agentlightning_core.types import PromptTemplate

_TAGGED = re.compile(r"<prompt>(.*?)(?:</prompt>|$)", re.DOTALL | re.IGNORECASE)
_FENCED = re.compile(r"^```[a-zA-Z]*\n(.*?)\n```$", re.DOTALL)


def extract_prompt(reply: str) -> str:
    """The editor is asked to put the new prompt between ``<prompt>`` tags; take what is inside
    (the last tagged block), else the whole reply without a surrounding code fence."""
    blocks = [b.strip() for b in _TAGGED.findall(reply) if b.strip()]
    text = blocks[-1] if blocks else reply.strip()
    fenced = _FENCED.match(text)
    return fenced.group(1).strip() if fenced else text


def placeholders(template: PromptTemplate) -> set[str]:
    """Names the agent fills in."""
    if template.engine == "jinja":
        import jinja2
        from jinja2 import meta

        return set(meta.find_undeclared_variables(jinja2.Environment().parse(template.template)))
    return {name for _, name, _, _ in string.Formatter().parse(template.template) if name}


def repair_braces(text: str, names: set[str]) -> str:
    """Escape every brace that is not part of one of ``names``' ``{name}`` fields (f-string only).

    Editors like to add JSON examples (``{"category": ...}``) that ``str.format`` would choke on;
    escaping them keeps the edit's meaning and the agent's formatting working.
    """
    if not names:
        return text.replace("{{", "{").replace("}}", "}").replace("{", "{{").replace("}", "}}")
    pattern = re.compile(r"\{\{|\}\}|\{(" + "|".join(re.escape(n) for n in sorted(names)) + r")\}|[{}]")

    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if match.group(1) is not None:
            return token
        if token in ("{{", "}}"):
            return token
        return token * 2

    return pattern.sub(sub, text)


def validate_edit(
    parent: PromptTemplate, text: str, *, append_missing: bool = False
) -> tuple[PromptTemplate | None, str | None, list[str]]:
    """Build the edited template, or say why it cannot be used.

    Returns ``(template, None, repairs)`` when the edit keeps every placeholder of ``parent`` and
    adds none, else ``(None, reason, repairs)``. ``repairs`` lists what was fixed on the way: stray
    braces escaped (f-string), and with ``append_missing`` the dropped placeholders appended at
    the end (so a weak editor's rewrite can still be scored instead of rejected).
    """
    repairs: list[str] = []
    if not text.strip():
        return None, "the editor returned an empty prompt", repairs
    want = placeholders(parent)
    if parent.engine == "f-string":
        fixed = repair_braces(text, want)
        if fixed != text:
            repairs.append("escaped braces that are not placeholders")
        text = fixed
    candidate = PromptTemplate(template=text, engine=parent.engine)
    try:
        have = placeholders(candidate)
    except Exception as exc:  # jinja syntax errors, malformed format strings
        return None, f"the edited prompt does not parse as a {parent.engine} template: {exc}", repairs
    missing = sorted(want - have)
    if missing and append_missing:
        fields = [("{{ " + m + " }}") if parent.engine == "jinja" else ("{" + m + "}") for m in missing]
        candidate = PromptTemplate(template=text.rstrip() + "\n\n" + "\n".join(fields), engine=parent.engine)
        repairs.append("appended dropped placeholder(s) " + ", ".join("{" + m + "}" for m in missing))
        have = placeholders(candidate)
        missing = []
    extra = sorted(have - want)
    if missing:
        return (
            None,
            "the edited prompt dropped placeholder(s) " + ", ".join("{" + m + "}" for m in missing),
            repairs,
        )
    if extra:
        return (
            None,
            "the edited prompt added unknown placeholder(s) " + ", ".join("{" + e + "}" for e in extra),
            repairs,
        )
    if parent.engine == "f-string":
        try:
            candidate.format(**{name: "x" for name in want})
        except (KeyError, IndexError, ValueError) as exc:
            return None, f"the edited prompt cannot be formatted: {exc!r}", repairs
    return candidate, None, repairs
