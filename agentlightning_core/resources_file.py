"""The ``--resources`` file of ``agl train``: a JSON object mapping names to resources.

    {
      "$schema": "https://.../resources.schema.json",   (optional, for editors; ignored)
      "prompt": {"resource_type": "prompt_template", "template": "Solve: {question}"},
      "llm": {"resource_type": "llm", "endpoint": "http://127.0.0.1:8000/v1", "model": "my-model"}
    }

The JSON Schema shipped as ``agentlightning_core/schemas/resources.schema.json`` is generated from
the same pydantic models the file is validated with (:func:`resources_json_schema`; a test keeps
the shipped file equal to it), so an editor that checks against the schema and ``agl train``
agree. A bad file fails with every bad field named by its path (``prompt.template``) and what
to do about it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .errors import InvalidRequestError
from .types import Resource

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "resources.schema.json"
EXAMPLE = '{"prompt": {"resource_type": "prompt_template", "template": "Solve: {q}"}}'
_ADAPTER: TypeAdapter[dict[str, Resource]] = TypeAdapter(dict[str, Resource])
_TAGS = ("llm", "prompt_template")


def resources_json_schema() -> dict[str, Any]:
    """The JSON Schema of a resources file (draft 2020-12)."""
    schema = _ADAPTER.json_schema()
    schema["additionalProperties"] = schema.pop("additionalProperties")  # the resource union
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Agent Lightning resources file (agl train --resources)",
        "description": "Names mapped to resources: an LLM endpoint (resource_type 'llm') or a prompt "
        "template (resource_type 'prompt_template'). The algorithm and the agent see them by name.",
        **schema,
        "properties": {
            "$schema": {"type": "string", "description": "ignored; lets editors find this schema"}
        },
    }


def _where(loc: tuple[Any, ...]) -> str:
    # pydantic puts the union's tag in the path (prompt.prompt_template.template): drop it
    parts = [str(p) for i, p in enumerate(loc) if not (i == 1 and p in _TAGS)]
    return ".".join(parts) or "(top level)"


def _explain(error: dict[str, Any]) -> str:
    where = _where(tuple(error["loc"]))
    kind = error["type"]
    if kind in {"union_tag_not_found", "union_tag_invalid"}:
        return f"{where}.resource_type: must be one of {', '.join(repr(t) for t in _TAGS)}"
    if kind == "missing":
        return f"{where}: required field missing"
    if kind == "extra_forbidden":
        return f"{where}: unknown field (a typo?)"
    if kind in {"dict_type", "model_attributes_type"}:
        return f"{where}: must be a JSON object"
    return f"{where}: {error['msg']}"


def parse_resources(raw: Any, source: str = "resources") -> dict[str, Resource]:
    """Validate already-parsed JSON; :class:`InvalidRequestError` names each bad field."""
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "$schema"}
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(_explain(dict(e)) for e in exc.errors())
        raise InvalidRequestError(
            f"{source}: {problems} (the format: agl train --resources-schema; e.g. {EXAMPLE})"
        ) from None


def load_resources_file(path: str | Path) -> dict[str, Resource]:
    """Read and validate a resources file."""
    file = Path(path)
    try:
        raw = json.loads(file.read_text())
    except FileNotFoundError:
        raise InvalidRequestError(f"resources file {file} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{file}: not JSON ({exc}); expected e.g. {EXAMPLE}") from None
    return parse_resources(raw, str(file))
