"""What every metric sink must do, as a suite a sink plugin runs on itself.

    from agentlightning_core.testing import MetricSinkConformance, Recorded

    class TestMySink(MetricSinkConformance):
        sink_name = "my"                                    # the name your plugin registers

        def sink_options(self, base_dir):
            return {"log_dir": base_dir / "my"}             # every file under base_dir

        def read_back(self, base_dir):
            return Recorded(scalars={...}, config={...})   # read the files the tracker wrote

Sinks are built through the installed entry point (``metric_sink_factory(sink_name)``), and one
test runs a real ``Trainer`` with ``metric_sinks=[sink_name]``.

``read_back`` must read what the tracker's own storage holds (event files, a tracking database,
an offline run directory), not what the sink kept in memory: the suite checks that the values
logged are the values stored. The full-disk tests put ``base_dir`` on a real 64 KiB tmpfs, so
they need root (as CI has); elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..agent import rollout
from ..algorithm import Algorithm, AlgorithmResult, TrainerContext
from ..metrics import JsonlSink, MetricSink, MetricSinks, RunInfo

#: the metrics the suite logs, step by step; nested mappings and non-numbers on purpose
STEPS: list[tuple[int, dict[str, Any]]] = [
    (0, {"val/reward_mean": 0.25, "val/n": 8, "note": "before training"}),
    (1, {"train/loss": 1.5, "train/reward_mean": 0.375, "grad": {"norm": 2.0}}),
    (2, {"train/loss": 1.25, "train/reward_mean": 0.5, "grad": {"norm": 1.0}, "flat": True}),
    (3, {"val/reward_mean": 0.625, "val/n": 8, "candidates": ["a", "b"]}),
]
CONFIG: dict[str, Any] = {
    "algorithm": {"name": "grpo", "options": {"learning_rate": 2e-05, "steps": 3}},
    "trainer": {"n_runners": 2},
    "data": {"train": 40, "val": 8},
}


@dataclass
class Recorded:
    """What a tracker's storage holds: ``scalars[key] = [(step, value), ...]`` in step order, and
    the config flattened with ``/`` or ``.`` (either is accepted) to string values."""

    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)


def expected_scalars() -> dict[str, list[tuple[int, float]]]:
    from ..metrics import numeric_items

    out: dict[str, list[tuple[int, float]]] = {}
    for step, metrics in STEPS:
        for key, value in numeric_items(metrics):
            out.setdefault(key, []).append((step, value))
    return out


def _mount_full_tmpfs(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", f"agl-full-{uuid.uuid4().hex[:8]}", str(path)],
        capture_output=True,
    )
    return done.returncode == 0


def fill(path: Path) -> None:
    """Fill the filesystem holding ``path`` until the kernel says ENOSPC."""
    fd = os.open(path / ".filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


class MetricSinkConformance:
    """Subclass; implement :meth:`make_sink` and :meth:`read_back`."""

    #: False for a sink whose writes happen in another process (W&B's service): a write failing
    #: there cannot be seen by the sink, so the mid-run full-disk test only checks that nothing
    #: raises and the other sinks got everything
    reports_write_failures: bool = True

    @pytest.fixture
    def small_disk(self, tmp_path: Path) -> Iterator[Path]:
        """A real 64 KiB tmpfs (root only); unmounted after the test."""
        mount = tmp_path / "small-disk"
        if not _mount_full_tmpfs(mount):
            pytest.skip("the full-disk tests mount a 64 KiB tmpfs, which needs root (CI runs as root)")
        try:
            yield mount
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)

    #: the name the plugin registers with ``agl_register_metric_sinks``
    sink_name: str = ""

    def sink_options(self, base_dir: Path) -> dict[str, Any]:
        """Factory options that put every file the sink writes under ``base_dir``."""
        return {}

    def read_back(self, base_dir: Path) -> Recorded:
        raise NotImplementedError

    def make_sink(self, base_dir: Path) -> MetricSink:
        from ..plugin_manager import AglPluginManager

        factory = AglPluginManager().metric_sink_factory(self.sink_name)
        return factory(**self.sink_options(base_dir))

    # ------------------------------------------------------------------ helpers
    def run_all(self, sinks: MetricSinks, base_dir: Path, steps: list[tuple[int, dict[str, Any]]]) -> None:
        sinks.open(RunInfo(base_dir, "conformance", dict(CONFIG)))
        for n, (step, metrics) in enumerate(steps):
            sinks.log_metrics(metrics, step, 1_700_000_000.0 + n)
        sinks.close()

    # -------------------------------------------------------------------- tests
    def test_metrics_and_config_read_back_from_storage(self, tmp_path: Path) -> None:
        sink = self.make_sink(tmp_path)
        sinks = MetricSinks([sink])
        self.run_all(sinks, tmp_path, STEPS)
        assert sinks.failures == {}
        recorded = self.read_back(tmp_path)
        expected = expected_scalars()
        assert sorted(recorded.scalars) == sorted(expected), recorded.scalars
        for key, points in expected.items():
            got = recorded.scalars[key]
            assert [s for s, _ in got] == [s for s, _ in points], (key, got)
            assert all(math.isclose(a, b, rel_tol=1e-6) for (_, a), (_, b) in zip(got, points, strict=True))
        config = {k.replace(".", "/"): v for k, v in recorded.config.items()}
        assert config.get("algorithm/name") == "grpo", recorded.config
        assert float(config["algorithm/options/learning_rate"]) == 2e-05
        assert int(config["data/train"]) == 40

    def test_records_without_step(self, tmp_path: Path) -> None:
        sink = self.make_sink(tmp_path)
        sinks = MetricSinks([sink])
        sinks.open(RunInfo(tmp_path, "no-step", {}))
        sinks.log_metrics({"score": 1.0}, None, 1_700_000_000.0)
        sinks.log_metrics({"score": 2.0}, None, 1_700_000_001.0)
        sinks.close()
        assert sinks.failures == {}
        values = [v for _, v in self.read_back(tmp_path).scalars["score"]]
        assert values == [1.0, 2.0]

    def test_full_disk_before_open_is_one_warning(
        self, small_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        fill(small_disk)
        sink = self.make_sink(small_disk)
        healthy = JsonlSink(tmp_path / "healthy")
        sinks = MetricSinks([healthy, sink])
        with caplog.at_level(logging.WARNING):
            self.run_all(sinks, tmp_path, STEPS)
        warnings = [
            r for r in caplog.records if r.levelno >= logging.WARNING and repr(sink.name) in r.getMessage()
        ]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert sink.name in sinks.failures
        lines = (tmp_path / "healthy" / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == len(STEPS)

    def test_disk_full_mid_run_never_raises(
        self, small_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        sink = self.make_sink(small_disk)
        healthy = JsonlSink(tmp_path / "healthy")
        sinks = MetricSinks([healthy, sink])
        sinks.open(RunInfo(tmp_path, "mid-run", dict(CONFIG)))
        sinks.log_metrics({"x": 1.0}, 0, 1_700_000_000.0)
        fill(small_disk)
        with caplog.at_level(logging.WARNING):
            for step in range(1, 200):
                sinks.log_metrics(
                    {"x": float(step), "padding": {f"k{i}": float(i) for i in range(20)}}, step, 0.0
                )
            sinks.close()
        warnings = [
            r for r in caplog.records if r.levelno >= logging.WARNING and repr(sink.name) in r.getMessage()
        ]
        assert len(warnings) <= 1
        if self.reports_write_failures:
            assert len(warnings) == 1, "a sink whose writes fail must say so (once)"
        lines = (tmp_path / "healthy" / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == 200

    def test_a_trainer_run_reaches_the_sink_by_its_registered_name(self, tmp_path: Path) -> None:
        from ..trainer import Trainer

        trainer = Trainer(
            LoggedSteps(),
            store="memory://",
            bus="memory",
            serve=False,
            progress=False,
            output_dir=tmp_path / "run",
            metric_sinks=[self.sink_name],
            metric_sink_options={self.sink_name: self.sink_options(tmp_path)},
        )
        assert [s.name for s in trainer.metric_sinks][-1] == self.sink_name
        result = trainer.fit(_echo, [0.25, 0.75])
        assert len(result.metrics) == len(STEPS) + 1
        recorded = self.read_back(tmp_path)
        assert [v for _, v in recorded.scalars["eval/reward_mean"]] == [0.5]
        assert [v for _, v in recorded.scalars["train/loss"]] == [1.5, 1.25]
        config = {k.replace(".", "/"): v for k, v in recorded.config.items()}
        assert config["algorithm/name"] == "logged_steps" and int(config["data/train"]) == 2


@rollout
def _echo(task: float) -> float:
    """The agent of the trainer test: its reward is its task."""
    return task


class LoggedSteps(Algorithm):
    """Evaluates the data once, then logs :data:`STEPS` as a training run would."""

    name = "logged_steps"

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        evaluation = await ctx.evaluate(ctx.train_data)
        ctx.log_metrics({"eval/reward_mean": evaluation.mean_reward}, step=0)
        for step, metrics in STEPS:
            ctx.log_metrics(metrics, step=step)
        return AlgorithmResult(best_score=evaluation.mean_reward, metrics=ctx.metrics_history)
