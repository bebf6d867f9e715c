"""The sink passes the project's conformance suite, built through its installed entry point."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing import MetricSinkConformance, Recorded


def test_installed_and_registered() -> None:
    registry = AglPluginManager().registry("agl_register_metric_sinks")
    assert "demosink" in registry, "pip install -e the plugin first: its entry point registers it"
    assert registry.entries["demosink"].provider.distribution == "agentlightning-demosink"


class TestDemosinkSink(MetricSinkConformance):
    sink_name = "demosink"

    def sink_options(self, base_dir: Path) -> dict[str, Any]:
        return {"log_dir": base_dir / "demosink"}

    def read_back(self, base_dir: Path) -> Recorded:
        recorded = Recorded()
        with (base_dir / "demosink" / "scalars.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                recorded.scalars.setdefault(row["key"], []).append((int(row["step"]), float(row["value"])))
        config = base_dir / "demosink" / "config.json"
        if config.exists():
            recorded.config = json.loads(config.read_text())
        return recorded
