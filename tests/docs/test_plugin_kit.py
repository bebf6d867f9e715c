"""``agl new-plugin``: every kind has a skeleton, the ones shown in docs/ are exactly what it
writes, and what it writes installs (``pip install -e``) and passes its own tests, which run the
conformance suites of ``agentlightning_core.testing``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentlightning_core.plugin_manager import REGISTRY_HOOKS
from agentlightning_core.scaffold import KINDS, render

from .plugin_venv import PluginVenv

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "plugins"


def new_plugin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentlightning_core.cli", "new-plugin", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_registry_hook_has_a_skeleton() -> None:
    assert {kind.hook for kind in KINDS.values()} == set(REGISTRY_HOOKS), (
        "a kind of plugin without an `agl new-plugin` template: add agentlightning_core/scaffold/templates/<kind>/"
    )
    for name, kind in KINDS.items():
        assert name == REGISTRY_HOOKS[kind.hook].replace(" ", "-")


def _example(path: Path) -> tuple[str, str]:
    """(kind, name) of a committed example, read from its generated README."""
    line = next(x for x in (path / "README.md").read_text().splitlines() if "agl new-plugin" in x)
    kind, name = line.split("agl new-plugin ")[1].split("`")[0].split()
    return kind, name


def test_every_kind_has_an_example_for_its_docs_page() -> None:
    kinds = {_example(p)[0] for p in EXAMPLES.iterdir() if (p / "pyproject.toml").exists()}
    assert kinds == set(KINDS), "examples/plugins/: run `agl new-plugin KIND demoX -d examples/plugins/demoX`"


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in EXAMPLES.glob("*/pyproject.toml")))
def test_the_examples_are_what_new_plugin_writes_today(folder: str) -> None:
    path = EXAMPLES / folder
    kind, name = _example(path)
    for rel, content in render(kind, name).items():
        assert (path / rel).read_text() == content, (
            f"{path / rel} differs from the template: regenerate with "
            f"agl new-plugin {kind} {name} -d examples/plugins/{name} --force"
        )


def test_bad_kind_or_name_is_refused_with_the_fix(tmp_path: Path) -> None:
    done = new_plugin("store", "my_store", cwd=tmp_path)
    assert done.returncode == 2 and "URL scheme cannot hold '_'" in done.stderr and "'mystore'" in done.stderr
    done = new_plugin("tracer", "My-Tracer", cwd=tmp_path)
    assert done.returncode == 2 and "NAME 'My-Tracer' must be lowercase" in done.stderr
    done = new_plugin("launcherz", "x", cwd=tmp_path)
    assert done.returncode == 2 and "launcherz" in done.stderr
    assert not any(tmp_path.iterdir())
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    done = new_plugin("tracer", "taken", cwd=tmp_path)
    assert done.returncode == 2 and "not empty" in done.stderr


@pytest.mark.slow
def test_each_kind_installs_and_passes_its_generated_tests(tmp_path: Path) -> None:
    names = {kind: f"gen{kind.replace('-', '')}" for kind in KINDS}
    for kind, name in names.items():
        done = new_plugin(kind, name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"pip install -e {name}" in done.stdout
    venv = PluginVenv(tmp_path / "venv")
    venv.pip_install_editable(*(tmp_path / name for name in names.values()))
    for kind, name in names.items():
        done = venv.run("-m", "pytest", "-q", "-p", "no:randomly", name, cwd=tmp_path)
        assert done.returncode == 0, f"{kind}: {done.stdout[-3000:]}{done.stderr[-2000:]}"
        assert " passed" in done.stdout and "failed" not in done.stdout
    listed = venv.run("-m", "agentlightning_core.cli", "plugins", "--json", cwd=tmp_path)
    assert all(f'"{name}"' in listed.stdout for name in names.values()), listed.stdout[-2000:]


def test_the_shared_venv_has_none_of_them() -> None:
    from importlib.metadata import entry_points

    installed = {ep.name for ep in entry_points(group="agentlightning")}
    ours = {f"gen{kind.replace('-', '')}" for kind in KINDS}
    ours |= {p.parent.name for p in EXAMPLES.glob("*/pyproject.toml")}
    assert not installed & ours, "a test left a generated plugin installed in the shared venv"
