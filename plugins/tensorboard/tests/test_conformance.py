"""The shared metric-sink suite, reading back the event files with the CRC-checking reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agentlightning_tensorboard import read_scalars, read_texts
from agentlightning_tensorboard.reader import CorruptEventFile, event_files

from agentlightning_core.metrics import RunInfo, flatten
from agentlightning_core.testing import MetricSinkConformance, Recorded


class TestTensorBoardConformance(MetricSinkConformance):
    sink_name = "tensorboard"

    def sink_options(self, base_dir: Path) -> dict[str, Any]:
        return {"log_dir": base_dir / "tb"}

    def read_back(self, base_dir: Path) -> Recorded:
        scalars = {k: [(s, v) for s, v, _ in points] for k, points in read_scalars(base_dir / "tb").items()}
        texts = read_texts(base_dir / "tb")
        config: dict[str, str] = {}
        for _, text in texts.get("config", []):
            body = json.loads(text.removeprefix("```json\n").removesuffix("\n```"))
            config.update({k: str(v) for k, v in flatten(body).items()})
        return Recorded(scalars=scalars, config=config)


def test_strings_become_text_and_wall_times_are_the_logged_ones(tmp_path: Path) -> None:
    from agentlightning_tensorboard import TensorBoardSink

    sink = TensorBoardSink(log_dir=tmp_path)
    sink.open(RunInfo(tmp_path, "t"))
    sink.log_metrics({"note": "before training", "x": 1.0}, 3, 1_700_000_123.5)
    sink.close()
    assert read_texts(tmp_path)["note"] == [(3, "before training")]
    assert read_scalars(tmp_path)["x"] == [(3, 1.0, 1_700_000_123.5)]


def test_default_directory_is_under_the_run_or_agl_tensorboard_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentlightning_tensorboard import TensorBoardSink

    sink = TensorBoardSink()
    sink.open(RunInfo(tmp_path / "run", "run"))
    sink.close()
    assert sink.log_dir == tmp_path / "run" / "tensorboard" and event_files(sink.log_dir)
    monkeypatch.setenv("AGL_TENSORBOARD_DIR", str(tmp_path / "all"))
    sink = TensorBoardSink()
    sink.open(RunInfo(tmp_path / "run2", "run2"))
    sink.close()
    assert sink.log_dir == tmp_path / "all" / "run2"


def test_a_damaged_event_file_is_reported_not_misread(tmp_path: Path) -> None:
    from agentlightning_tensorboard import TensorBoardSink

    sink = TensorBoardSink(log_dir=tmp_path)
    sink.open(RunInfo(tmp_path, "t"))
    sink.log_metrics({"x": 1.0}, 0, 0.0)
    sink.close()
    (path,) = event_files(tmp_path)
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptEventFile, match="checksum mismatch"):
        read_scalars(tmp_path)
