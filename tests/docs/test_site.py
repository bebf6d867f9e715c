"""Meta-tests of the documentation: they iterate over the hook specs, the exported names, the
environment variables the code reads and the pages under docs/, so a new hook kind, export,
variable or page is checked without editing this file."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import agentlightning_core
import agentlightning_core.testing
from agentlightning_core import hookspecs
from agentlightning_core.plugin_manager import REGISTRY_HOOKS

from .env_scan import variables_read

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if p.name != "README.md" and "_hooks" not in p.parts)
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)\n```", re.S)
RUNNABLE = re.compile(r"<!-- runnable -->\n```python\n(.*?)```", re.S)
SPECS = sorted(name for name, obj in vars(hookspecs).items() if name.startswith("agl_") and callable(obj))


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text().split("\nnav:", 1)[1]
    listed = set(re.findall(r":\s*(\S+\.md)\s*$", nav, re.M))
    missing = [str(p.relative_to(DOCS)) for p in PAGES if str(p.relative_to(DOCS)) not in listed]
    assert not missing, f"add these pages to the nav of mkdocs.yml: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_marked_with_a_file_is_that_file(page: Path) -> None:
    for path, code in FILE_BLOCK.findall(page.read_text()):
        assert (ROOT / path).exists(), f"{page.name} shows {path}, which does not exist"
        assert code == (ROOT / path).read_text().rstrip(), f"{page.name}: the block for {path} is out of date"


@pytest.mark.parametrize("spec", SPECS)
def test_every_hook_spec_documents_params_and_an_example(spec: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, spec)) or ""
    assert ":param" in doc, f"{spec}: say what each parameter is (:param ...:)"
    assert "Called " in doc, f"{spec}: say when the core calls it ('Called when ...')"
    example = doc.split("Example::", 1)[1] if "Example::" in doc else ""
    assert f"def {spec}(" in example and "@hookimpl" in example, f"{spec}: give an Example:: implementing it"


@pytest.mark.parametrize("spec", SPECS)
def test_every_hook_spec_is_exercised_by_a_test(spec: str) -> None:
    """Registry hooks: a docs page shows a complete plugin implementing it (those plugins are
    installed and run by test_plugin_kit.py); every hook: some test implements or calls it."""
    if spec in REGISTRY_HOOKS:
        shown = [
            p.name for p in PAGES for _, code in FILE_BLOCK.findall(p.read_text()) if f"def {spec}(" in code
        ]
        assert shown, f"{spec}: no docs page shows a complete plugin for it (a <!-- file: ... --> block)"
    sources = [
        p
        for d in ("tests", "plugins", "adapters", "algorithms", "backends", "examples")
        for p in (ROOT / d).rglob("test_*.py")
    ]
    sources += list((ROOT / "agentlightning_core" / "scaffold" / "templates").rglob("test.py.tmpl"))
    users = [p for p in sources if p.name != Path(__file__).name and spec in p.read_text()]
    assert users or spec in REGISTRY_HOOKS, f"{spec}: no test implements or calls it"


def test_every_public_name_is_in_the_api_reference() -> None:
    api = (DOCS / "api.md").read_text()
    for module in (agentlightning_core, agentlightning_core.testing):
        missing = [n for n in module.__all__ if f"::: {module.__name__}.{n}\n" not in api]
        assert not missing, f"docs/api.md lacks `::: {module.__name__}.NAME` for {missing}"


def test_every_environment_variable_the_code_reads_is_in_the_configuration_table() -> None:
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", (DOCS / "configuration.md").read_text(), re.M))
    read = variables_read()
    missing = {name: files for name, files in read.items() if name not in table}
    assert not missing, f"docs/configuration.md has no row for: {missing}"
    stale = sorted(table - set(read))
    assert not stale, f"docs/configuration.md lists variables no code reads any more: {stale}"


def test_the_scan_finds_each_way_of_reading_a_variable(tmp_path: Path) -> None:
    from .env_scan import variables_in

    module = tmp_path / "m.py"
    module.write_text(
        "import os\nfrom os import environ\nfrom pydantic_settings import BaseSettings, SettingsConfigDict\n"
        'NAME = "VIA_CONSTANT"\n'
        'a = os.environ.get("VIA_GET")\nb = os.environ["VIA_INDEX"]\nc = os.getenv("VIA_GETENV")\n'
        'd = "VIA_IN" in os.environ\ne = environ.get(NAME)\nos.environ.setdefault("VIA_SETDEFAULT", "1")\n'
        "def flag(name):\n    return os.environ.get(name) == '1'\n"
        'f = flag("VIA_HELPER")\n'
        "class S(BaseSettings):\n    model_config = SettingsConfigDict(env_prefix='PFX_')\n    port: int = 1\n"
        "class T(S):\n    more: int = 2\n"
    )
    assert variables_in(module) == {
        "VIA_CONSTANT",
        "VIA_GET",
        "VIA_INDEX",
        "VIA_GETENV",
        "VIA_IN",
        "VIA_SETDEFAULT",
        "VIA_HELPER",
        "PFX_PORT",
        "PFX_MORE",
    }


@pytest.mark.parametrize(
    "page,index,code",
    [(p, i, code) for p in PAGES for i, code in enumerate(RUNNABLE.findall(p.read_text()))],
    ids=lambda v: v.name if isinstance(v, Path) else str(v)[:0] or None,
)
def test_runnable_code_blocks_run(page: Path, index: int, code: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{page.name} block {index}: {done.stderr[-3000:]}"


def test_some_blocks_are_marked_runnable() -> None:
    assert any(RUNNABLE.search(p.read_text()) for p in PAGES)
