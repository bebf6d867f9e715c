"""Metric sinks (hook ``agl_register_metric_sinks``): every metric an algorithm logs and the run's
config reach every selected sink; ``metrics.jsonl`` is the built-in one; a sink that is missing
or fails costs one warning, never the run. Real Trainer runs, in-process store, no server."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from agentlightning_core import (
    Algorithm,
    AlgorithmResult,
    PromptTemplate,
    Trainer,
    TrainerContext,
    hookimpl,
    rollout,
)
from agentlightning_core.cli import cli as cli_group
from agentlightning_core.metrics import MetricSink, RunInfo
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing import MetricSinkConformance, Recorded
from agentlightning_core.trainer.run_config import mask_secrets

PROMPT = PromptTemplate(template="Add {a} and {b}.")
DATA = [{"a": a, "b": 1} for a in range(4)]


@rollout
def adder(task: dict[str, int], prompt_template: PromptTemplate) -> float:
    return float(task["a"] % 2 == 0)


class ThreeSteps(Algorithm):
    """Logs three steps (one with a nested metric and a string) and a config addition."""

    name = "three_steps"

    def __init__(self, learning_rate: float = 0.1) -> None:
        self.learning_rate = learning_rate

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        ctx.log_config({"resolved": {"model_path": "/models/x"}})
        update = await ctx.publish_resources(ctx.initial_resources)
        for step in range(3):
            evaluation = await ctx.evaluate(ctx.train_data, resources_id=update.resources_id)
            ctx.log_metrics(
                {"reward": evaluation.mean_reward + step, "grad": {"norm": 1.0 / (step + 1)}, "tag": "s"},
                step=step,
            )
        return AlgorithmResult(best_score=1.0, metrics=ctx.metrics_history)


class RecordingSink(MetricSink):
    """Keeps every call; ``fail_on`` makes one kind of call raise, as a broken tracker would."""

    name: ClassVar[str] = "recording"
    instances: ClassVar[list[RecordingSink]] = []

    def __init__(self, fail_on: str | None = None, label: str = "") -> None:
        self.fail_on = fail_on
        self.label = label
        self.calls: list[tuple[str, Any]] = []
        RecordingSink.instances.append(self)

    def _maybe_fail(self, what: str) -> None:
        if self.fail_on == what:
            raise OSError(28, "No space left on device")

    def open(self, run: RunInfo) -> None:
        self.calls.append(("open", run))
        self._maybe_fail("open")

    def log_config(self, config: Mapping[str, Any]) -> None:
        self.calls.append(("config", dict(config)))
        self._maybe_fail("config")

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None, timestamp: float) -> None:
        self.calls.append(("metrics", (step, dict(metrics))))
        self._maybe_fail("metrics")

    def close(self, error: BaseException | None = None) -> None:
        self.calls.append(("close", error))


class RecordingPlugin:
    @hookimpl
    def agl_register_metric_sinks(self, register: Any) -> None:
        register("recording", RecordingSink, description="test sink")


@pytest.fixture
def manager() -> AglPluginManager:
    RecordingSink.instances.clear()
    return AglPluginManager(load_entry_points=False, plugins=[RecordingPlugin()])


def make_trainer(tmp_path: Path, manager: AglPluginManager, **kwargs: Any) -> Trainer:
    options: dict[str, Any] = dict(
        algorithm=ThreeSteps(),
        store="memory://",
        bus="memory",
        serve=False,
        output_dir=tmp_path / "run",
        initial_resources={"prompt": PROMPT},
        progress=False,
        manager=manager,
    )
    options.update(kwargs)
    return Trainer(**options)


def test_every_logged_metric_and_the_config_reach_a_sink_selected_by_name(
    tmp_path: Path, manager: AglPluginManager
) -> None:
    trainer = make_trainer(tmp_path, manager, metric_sinks=["recording"])
    trainer.fit(adder, DATA)
    (sink,) = RecordingSink.instances
    kinds = [kind for kind, _ in sink.calls]
    assert kinds == ["open", "config", "config", "metrics", "metrics", "metrics", "close"]
    run = sink.calls[0][1]
    assert run.output_dir == tmp_path / "run" and run.config["algorithm"]["name"] == "three_steps"
    config = sink.calls[1][1]
    assert config["data"] == {"train": 4, "val": None}
    assert config["trainer"]["n_runners"] == 1
    assert config["resources"]["prompt"] == {"type": "prompt_template", "template": PROMPT.template}
    assert sink.calls[2][1] == {"resolved": {"model_path": "/models/x"}}
    steps = [payload for kind, payload in sink.calls if kind == "metrics"]
    assert [s for s, _ in steps] == [0, 1, 2]
    assert [m["reward"] for _, m in steps] == [0.5, 1.5, 2.5]
    assert steps[1][1]["grad"] == {"norm": 0.5}
    assert sink.calls[-1] == ("close", None)
    # the built-in sink got the same records, and the whole config
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [x["reward"] for x in lines] == [0.5, 1.5, 2.5] and [x["step"] for x in lines] == [0, 1, 2]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["algorithm"]["name"] == "three_steps" and saved["resolved"]["model_path"] == "/models/x"


def test_sinks_come_from_agl_metric_sinks_when_the_trainer_names_none(
    tmp_path: Path, manager: AglPluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGL_METRIC_SINKS", " recording , jsonl,recording")
    trainer = make_trainer(tmp_path, manager)
    assert [s.name for s in trainer.metric_sinks] == ["jsonl", "recording"]
    trainer.fit(adder, DATA)
    assert len([c for c in RecordingSink.instances[0].calls if c[0] == "metrics"]) == 3


def test_sink_options_reach_the_factory_and_a_misnamed_sink_in_options_is_refused(
    tmp_path: Path, manager: AglPluginManager
) -> None:
    make_trainer(
        tmp_path, manager, metric_sinks="recording", metric_sink_options={"recording": {"label": "x"}}
    )
    assert RecordingSink.instances[-1].label == "x"
    with pytest.raises(ValueError, match=r"metric_sink_options names 'recordng'.*add it to metric_sinks"):
        make_trainer(tmp_path, manager, metric_sinks="recording", metric_sink_options={"recordng": {}})
    with pytest.raises(TypeError, match="give sink names"):
        make_trainer(tmp_path, manager, metric_sinks=[42])


@pytest.mark.parametrize("fail_on", ["open", "config", "metrics"])
def test_a_failing_sink_logs_one_warning_and_training_and_other_sinks_go_on(
    tmp_path: Path, manager: AglPluginManager, fail_on: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken, healthy = RecordingSink(fail_on=fail_on), RecordingSink()
    trainer = make_trainer(tmp_path, manager, metric_sinks=[broken, healthy])
    with caplog.at_level(logging.WARNING):
        result = trainer.fit(adder, DATA)
    assert result.best_score == 1.0 and len(result.metrics) == 3
    warnings = [r.getMessage() for r in caplog.records if "metric sink" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "'recording' failed" in warnings[0] and "No space left on device" in warnings[0]
    assert "training and the other sinks go on" in warnings[0]
    assert len([c for c in healthy.calls if c[0] == "metrics"]) == 3
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3
    # switched off at its first failure: no call after it
    assert len([c for c in broken.calls if c[0] == "metrics"]) == (1 if fail_on == "metrics" else 0)


def test_a_sink_that_is_not_installed_logs_one_warning_with_the_pip_command(
    tmp_path: Path, manager: AglPluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        trainer = make_trainer(tmp_path, manager, metric_sinks=["tensorboard"])
        result = trainer.fit(adder, DATA)
    assert len(result.metrics) == 3
    warnings = [r.getMessage() for r in caplog.records if "metric sink" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "'tensorboard' skipped" in warnings[0] and "pip install agentlightning-tensorboard" in warnings[0]
    assert [s.name for s in trainer.metric_sinks] == ["jsonl"]


def test_a_sink_whose_factory_raises_is_skipped_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class NoLibrary:
        @hookimpl
        def agl_register_metric_sinks(self, register: Any) -> None:
            def factory() -> MetricSink:
                raise ImportError("the 'tracker' sink needs tracker: pip install agentlightning-tracker")

            register("tracker", factory)

    manager = AglPluginManager(load_entry_points=False, plugins=[NoLibrary()])
    with caplog.at_level(logging.WARNING):
        trainer = make_trainer(tmp_path, manager, metric_sinks="tracker")
        trainer.fit(adder, DATA)
    warnings = [r.getMessage() for r in caplog.records if "metric sink" in r.getMessage()]
    assert len(warnings) == 1 and "pip install agentlightning-tracker" in warnings[0]


def test_a_failed_run_closes_sinks_with_its_error(tmp_path: Path, manager: AglPluginManager) -> None:
    class Crashes(Algorithm):
        async def run(self, ctx: TrainerContext) -> AlgorithmResult:
            ctx.log_metrics({"x": 1.0}, step=0)
            raise RuntimeError("diverged")

    trainer = make_trainer(tmp_path, manager, algorithm=Crashes(), metric_sinks=["recording"])
    with pytest.raises(RuntimeError, match="diverged"):
        trainer.fit(adder, DATA)
    kind, error = RecordingSink.instances[0].calls[-1]
    assert kind == "close" and isinstance(error, RuntimeError)


def test_the_config_never_holds_secrets(tmp_path: Path, manager: AglPluginManager) -> None:
    masked = mask_secrets(
        {"api_key": "sk-1", "nested": {"AUTH_TOKEN": "t", "base_url": "http://x"}, "n": None}
    )
    assert masked == {"api_key": "***", "nested": {"AUTH_TOKEN": "***", "base_url": "http://x"}, "n": None}


def test_agl_plugins_lists_the_builtin_jsonl_sink_and_agl_train_takes_sinks() -> None:
    listing = subprocess.run(
        [sys.executable, "-c", "from agentlightning_core.cli import main; main()", "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    builtin = next(p for p in json.loads(listing.stdout) if p["builtin"])
    assert builtin["registered"]["metric sink"] == ["jsonl"]
    assert "agl_register_metric_sinks" in builtin["hooks"]
    help_text = CliRunner().invoke(cli_group, ["train", "--help"]).output
    assert "--metric-sink" in help_text


class TestJsonlSinkConformance(MetricSinkConformance):
    sink_name = "jsonl"

    def sink_options(self, base_dir: Path) -> dict[str, Any]:
        return {"output_dir": base_dir / "jsonl"}

    def read_back(self, base_dir: Path) -> Recorded:
        from agentlightning_core.metrics import flatten, numeric_items

        recorded = Recorded()
        for line in (base_dir / "jsonl" / "metrics.jsonl").read_text().splitlines():
            record = json.loads(line)
            step = record.pop("step", None)
            record.pop("time")
            for key, value in numeric_items(record):
                points = recorded.scalars.setdefault(key, [])
                points.append((step if step is not None else len(points), value))
        config_file = base_dir / "jsonl" / "config.json"
        if config_file.exists():
            config = json.loads(config_file.read_text())
            recorded.config = {k: str(v) for k, v in flatten(config).items()}
        return recorded
