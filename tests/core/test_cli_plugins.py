"""`agl plugins` against real throwaway distributions installed for the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def make_dist(root: Path, name: str, module_body: str) -> Path:
    pkg = name.replace("-", "_")
    folder = root / name
    (folder / pkg).mkdir(parents=True)
    (folder / pkg / "__init__.py").write_text("")
    (folder / pkg / "plugin.py").write_text(textwrap.dedent(module_body))
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "{name}"
            version = "1.2.3"
            [project.entry-points.agentlightning]
            {pkg} = "{pkg}.plugin"
            [tool.setuptools]
            packages = ["{pkg}"]
            """
        )
    )
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dists")
    target = root / "site"
    good = make_dist(
        root,
        "agl-throwaway-good",
        """
        from agentlightning_core import hookimpl

        @hookimpl
        def agl_register_algorithms(register):
            register("throwaway", lambda **kw: None, description="from a throwaway dist")
        """,
    )
    broken = make_dist(root, "agl-throwaway-broken", "import module_that_does_not_exist\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(good),
            str(broken),
        ],
        check=True,
    )
    return target


def agl(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(site), **env}
    return subprocess.run(
        [sys.executable, "-c", "from agentlightning_core.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_json_lists_installed_plugin_with_distribution_and_registrations(site: Path) -> None:
    result = agl(site, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    infos = {p["name"]: p for p in json.loads(result.stdout)}
    good = infos["agl_throwaway_good"]
    assert good["distribution"] == "agl-throwaway-good" and good["version"] == "1.2.3"
    assert good["hooks"] == ["agl_register_algorithms"]
    assert good["registered"] == {"algorithm": ["throwaway"]}
    assert good["errors"] == []
    assert infos["builtin"]["builtin"] is True
    assert infos["builtin"]["distribution"] == "agentlightning-core" and infos["builtin"]["version"]


def test_broken_plugin_is_reported_and_others_keep_working(site: Path) -> None:
    result = agl(site, "plugins", "--json")
    infos = {p["name"]: p for p in json.loads(result.stdout)}
    broken = infos["agl_throwaway_broken"]
    assert "module_that_does_not_exist" in broken["errors"][0]
    assert infos["agl_throwaway_good"]["registered"] == {"algorithm": ["throwaway"]}


def test_table_output_shows_plugins_and_errors(site: Path) -> None:
    result = agl(site, "plugins", COLUMNS="250")
    assert result.returncode == 0, result.stderr
    assert "agl-throwaway-good" in result.stdout
    assert "throwaway" in result.stdout
    assert "module_that_does_not_exist" in result.stdout


def test_disabled_plugin_is_listed_as_disabled(site: Path) -> None:
    result = agl(site, "plugins", "--json", AGL_DISABLED_PLUGINS="agl-throwaway-good")
    infos = {p["name"]: p for p in json.loads(result.stdout)}
    assert infos["agl_throwaway_good"]["disabled"] is True
    assert infos["agl_throwaway_good"]["registered"] == {}


def test_strict_environment_still_lists_broken_plugins_and_exits_zero(site: Path) -> None:
    result = agl(site, "plugins", AGL_STRICT_PLUGINS="1", COLUMNS="120")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "agl-throwaway-broken" in result.stdout and "module_that_does_not_exist" in result.stdout
    assert "agl-throwaway-good" in result.stdout  # the others are still listed


def test_strict_flag_exits_non_zero_after_listing(site: Path) -> None:
    result = agl(site, "plugins", "--json", "--strict", AGL_STRICT_PLUGINS="1")
    assert result.returncode == 1
    infos = {p["name"]: p for p in json.loads(result.stdout)}
    assert "module_that_does_not_exist" in infos["agl_throwaway_broken"]["errors"][0]
    assert "1 plugin(s) failed to load" in result.stderr and "Traceback" not in result.stderr


def test_other_commands_stop_with_one_line_under_strict_mode(site: Path) -> None:
    result = agl(site, "runner", "--help", AGL_STRICT_PLUGINS="1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "module_that_does_not_exist" in result.stderr and "agl plugins" in result.stderr


@pytest.mark.parametrize("columns", ["80", "60"])
def test_narrow_terminal_keeps_distribution_names_whole(site: Path, columns: str) -> None:
    result = agl(site, "plugins", COLUMNS=columns)
    assert result.returncode == 0, result.stderr
    assert "agl-throwaway-good" in result.stdout and "agentlightning-core" in result.stdout
    assert "…" not in result.stdout  # nothing cut to an ellipsis
    assert "module_that_does_not_exist" in result.stdout  # errors print in full below the table
    assert "agl plugins --verbose" in result.stdout


def test_verbose_shows_hooks_and_registrations_at_any_width(site: Path) -> None:
    result = agl(site, "plugins", "--verbose", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    assert "agl_throwaway_good: registered algorithm: throwaway; hooks register_algorithms" in result.stdout
