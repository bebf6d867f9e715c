"""The ``--resources`` file: its shipped JSON Schema matches the models ``agl train`` validates
with, a good file passes both, and a bad one fails naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from agentlightning_core.cli import cli
from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.resources_file import SCHEMA_PATH, load_resources_file, resources_json_schema
from agentlightning_core.types import LLM, PromptTemplate

GOOD = {
    "$schema": "./resources.schema.json",
    "prompt": {"resource_type": "prompt_template", "template": "Solve: {question}"},
    "llm": {"resource_type": "llm", "endpoint": "http://127.0.0.1:8000/v1", "model": "my-model"},
}


def test_the_shipped_schema_is_the_one_generated_from_the_models() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == resources_json_schema(), (
        "regenerate: python -c 'import json; from agentlightning_core.resources_file import *; "
        'SCHEMA_PATH.write_text(json.dumps(resources_json_schema(), indent=2) + "\\n")\''
    )


def test_a_good_file_is_valid_for_the_schema_and_loads(tmp_path: Path) -> None:
    jsonschema.validate(GOOD, resources_json_schema())
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(GOOD))
    loaded = load_resources_file(path)
    assert isinstance(loaded["prompt"], PromptTemplate) and isinstance(loaded["llm"], LLM)
    assert loaded["llm"].model == "my-model" and "$schema" not in loaded


@pytest.mark.parametrize(
    ("resources", "named"),
    [
        ({"prompt": {"resource_type": "prompt_template", "templat": "x"}}, "prompt.templat: unknown field"),
        ({"prompt": {"resource_type": "prompt_template"}}, "prompt.template: required field missing"),
        ({"llm": {"resource_type": "llm", "model": "m"}}, "llm.endpoint: required field missing"),
        ({"prompt": {"resource_type": "prompt", "template": "x"}}, "prompt.resource_type: must be one of"),
        ({"prompt": "Solve: {q}"}, "prompt: must be a JSON object"),
    ],
)
def test_a_bad_file_is_refused_by_both_naming_the_field(tmp_path: Path, resources: dict, named: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(resources, resources_json_schema())
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(resources))
    with pytest.raises(InvalidRequestError, match="resources.json: ") as err:
        load_resources_file(path)
    assert named in str(err.value)


def test_agl_train_refuses_a_bad_file_with_the_field_and_prints_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGL_NO_PLUGIN_COMMANDS", "1")
    data = tmp_path / "train.jsonl"
    data.write_text('{"x": 1}\n')
    bad = tmp_path / "resources.json"
    bad.write_text(json.dumps({"p": {"resource_type": "prompt_template", "tempalte": "x"}}))
    agent = tmp_path / "agent.py"
    agent.write_text("from agentlightning_core import rollout\n@rollout\ndef a(task):\n    return 1.0\n")
    args = [
        "train",
        "--agent",
        f"{agent}:a",
        "--train",
        str(data),
        "--resources",
        str(bad),
        "--store",
        "memory://",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "--resources" in result.output and "p.tempalte: unknown field" in result.output
    assert "Traceback" not in result.output
    schema = CliRunner().invoke(cli, ["train", "--resources-schema"])
    assert schema.exit_code == 0 and json.loads(schema.output) == resources_json_schema()
