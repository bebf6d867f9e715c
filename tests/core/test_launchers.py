"""Launchers as a plugin kind: the built-in ``local`` one behind ``agl_register_launchers``, a
third-party launcher picked by name by the Trainer, and the inputs that are refused."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from agentlightning_core import PromptTemplate, Trainer, hookimpl, rollout
from agentlightning_core.cli import cli
from agentlightning_core.errors import PluginNotFoundError
from agentlightning_core.hookspecs import Register
from agentlightning_core.launcher import Launcher, LauncherError, LaunchSpec, ReplicaStatus, check_replicas
from agentlightning_core.launcher.local import LocalLauncher
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing import LauncherConformance

PROMPT = PromptTemplate(template="Add {a} and {b}.")


@rollout
def adder(task: dict[str, int], prompt_template: PromptTemplate) -> float:
    return 1.0 if prompt_template.format(**task).startswith("Add") else 0.0


class RecordingLauncher(LocalLauncher):
    """A third-party launcher: runs like ``local`` and keeps the spec it was handed."""

    name = "recording"
    specs: list[LaunchSpec] = []

    async def start(self, spec: LaunchSpec) -> None:
        RecordingLauncher.specs.append(spec)
        await super().start(spec)


def _plugin() -> Any:
    @hookimpl
    def agl_register_launchers(register: Register) -> None:
        register("recording", RecordingLauncher, description="local, recorded")

    return SimpleNamespace(__name__="recording_plugin", agl_register_launchers=agl_register_launchers)


def test_local_is_built_in_and_registered_through_the_hook() -> None:
    manager = AglPluginManager(load_entry_points=False)
    registry = manager.registry("agl_register_launchers")
    assert "local" in registry.names()
    assert registry.entries["local"].provider.distribution == "agentlightning-core"
    assert isinstance(manager.launcher_factory("local")(), LocalLauncher)


def test_the_trainer_starts_its_runners_through_the_launcher_it_names(tmp_path: Path) -> None:
    manager = AglPluginManager(load_entry_points=False, plugins=[_plugin()])
    RecordingLauncher.specs.clear()
    trainer = Trainer(
        launcher="recording",
        n_runners=3,
        concurrency=2,
        store="memory://",
        bus="memory",
        output_dir=tmp_path / "run",
        initial_resources={"prompt": PROMPT},
        progress=False,
        manager=manager,
    )
    result = trainer.fit(adder, [{"a": a, "b": 1} for a in range(9)])
    assert result.best_score == 1.0
    [spec] = RecordingLauncher.specs
    assert spec.replicas == 3 and spec.concurrency == 2
    assert spec.server_url is not None and spec.server_url.startswith("http://127.0.0.1:")


def test_a_launcher_nobody_registered_names_the_pip_command() -> None:
    manager = AglPluginManager(load_entry_points=False)
    with pytest.raises(PluginNotFoundError, match="pip install agentlightning-ray"):
        Trainer(launcher="ray", n_runners=2, store="memory://", manager=manager)


def test_a_launcher_with_no_runners_is_refused() -> None:
    manager = AglPluginManager(load_entry_points=False, plugins=[_plugin()])
    with pytest.raises(LauncherError, match=r"n_runners must be an integer >= 1 \(got 0\)"):
        Trainer(launcher="recording", n_runners=0, store="memory://", manager=manager)
    for bad in (0, -2, True, 1.5):
        with pytest.raises(LauncherError, match="replicas must be an integer >= 1"):
            check_replicas(bad)  # type: ignore[arg-type]


def test_a_launcher_other_than_local_needs_the_trainers_server() -> None:
    manager = AglPluginManager(load_entry_points=False, plugins=[_plugin()])
    with pytest.raises(ValueError, match="serve=False leaves no server"):
        Trainer(launcher="recording", n_runners=1, store="memory://", serve=False, manager=manager)


def test_agl_runner_refuses_zero_replicas_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGL_NO_PLUGIN_COMMANDS", "1")
    args = ["runner", "--server", "http://127.0.0.1:1", "--agent", "m:a", "--replicas", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "--replicas must be an integer >= 1 (got 0)" in result.output
    assert "Trainer(n_runners=0)" in result.output or "agl runner --server URL" in result.output


def test_agl_runner_refuses_options_the_local_launcher_does_not_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGL_NO_PLUGIN_COMMANDS", "1")
    args = ["runner", "--server", "http://127.0.0.1:1", "--agent", "m:a", "--replicas", "2"]
    result = CliRunner().invoke(cli, [*args, "--launcher-option", "num_gpus=1"])
    assert result.exit_code == 1
    assert "launcher 'local' takes no option(s) ['num_gpus']" in result.output


async def test_a_local_runner_process_that_fails_is_reported_with_its_exit_code(tmp_path: Path) -> None:
    launcher: Launcher = LocalLauncher()
    spec = LaunchSpec(agent=f"{tmp_path / 'missing.py'}:agent", replicas=2, server_url="http://127.0.0.1:1")
    await launcher.start(spec)
    with pytest.raises(LauncherError, match="exited with 2"):
        await launcher.wait()
    await launcher.stop()
    assert [s.status for s in launcher.states()] == [ReplicaStatus.FAILED] * 2


class TestLocalLauncherProcesses(LauncherConformance):
    """The built-in launcher passes the kit it gives plugin authors (child processes: the agent
    is a MODULE:OBJECT string and there is no in-process store)."""

    launcher_name = "local"


@pytest.mark.parametrize(
    ("value", "message"),
    [("8", "expected MIN:MAX runners"), ("a:b", "expected MIN:MAX runners"), ("4:2", "need 1 <= MIN <= MAX")],
)
def test_agl_runner_autoscale_needs_min_and_max(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("AGL_NO_PLUGIN_COMMANDS", "1")
    args = ["runner", "--server", "http://127.0.0.1:1", "--agent", "m:a", "--launcher", "ray"]
    result = CliRunner().invoke(cli, [*args, "--autoscale", value])
    assert result.exit_code == 2
    assert message in result.output and "--autoscale 1:8" in result.output


def test_agl_runner_autoscale_goes_to_the_launcher_as_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGL_NO_PLUGIN_COMMANDS", "1")
    args = ["runner", "--server", "http://127.0.0.1:1", "--agent", "m:a", "--autoscale", "1:4"]
    alone = CliRunner().invoke(cli, args)
    assert alone.exit_code == 2 and "the local launcher does not scale; add --launcher ray" in alone.output
    local = CliRunner().invoke(cli, [*args, "--launcher", "local"])
    assert local.exit_code == 1
    assert "takes no option(s) ['autoscale', 'max_replicas', 'min_replicas']" in local.output
