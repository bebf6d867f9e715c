"""Reading an offline W&B run directory back, without syncing it anywhere.

A run's ``run-<id>.wandb`` file is W&B's transaction log: a 7-byte header (``:W&B``, magic
``0xBEE1``, version 0), then 32 KiB blocks of LevelDB-log records — ``uint32 CRC-32`` (of the
record type byte, then the data), ``uint16 length``, ``uint8 type`` (full / first / middle /
last fragment), data — padded with zeros where fewer than 7 bytes are left in a block. Each
reassembled record is a ``wandb_internal_pb2.Record`` protobuf. This is the file ``wandb sync``
uploads, so what this module reads is exactly what W&B would show.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADER = struct.Struct("<4sHB")
RECORD = struct.Struct("<IHB")
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


class CorruptRunFile(ValueError):
    """The ``.wandb`` file is not a W&B transaction log, or a record fails its checksum."""


@dataclass
class OfflineRun:
    """What an offline run holds: the history rows (``_step`` included), the config (nested, as
    logged) and the run's name and id."""

    run_id: str = ""
    name: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None


def _records(data: bytes, path: Path) -> list[bytes]:
    if len(data) < HEADER.size:
        raise CorruptRunFile(f"{path}: {len(data)} bytes, shorter than the W&B header")
    ident, magic, version = HEADER.unpack_from(data)
    if ident != b":W&B" or magic != 0xBEE1 or version != 0:
        raise CorruptRunFile(f"{path}: not a W&B transaction log (header {data[:7]!r})")
    out: list[bytes] = []
    pending: list[bytes] = []
    offset = HEADER.size
    while offset + RECORD.size <= len(data):
        left_in_block = BLOCK - offset % BLOCK
        if left_in_block < RECORD.size:
            offset += left_in_block
            continue
        checksum, length, kind = RECORD.unpack_from(data, offset)
        if checksum == 0 and length == 0 and kind == 0:  # zero padding at the end of a block
            offset += left_in_block
            continue
        start = offset + RECORD.size
        body = data[start : start + length]
        if len(body) < length:
            break  # the writer is still busy (or was killed): the last record is incomplete
        if zlib.crc32(body, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != checksum:
            raise CorruptRunFile(f"{path}: checksum mismatch in the record at offset {offset}")
        if kind == FULL:
            out.append(body)
        elif kind == FIRST:
            pending = [body]
        elif kind == MIDDLE:
            pending.append(body)
        elif kind == LAST:
            out.append(b"".join([*pending, body]))
            pending = []
        else:
            raise CorruptRunFile(f"{path}: unknown record type {kind} at offset {offset}")
        offset = start + length
    return out


def _set(target: dict[str, Any], key: str, nested: list[str], value_json: str) -> None:
    keys = list(nested) or [key]
    node = target
    for part in keys[:-1]:
        node = node.setdefault(part, {})
    node[keys[-1]] = json.loads(value_json)


def read_offline_run(run_dir: str | Path) -> OfflineRun:
    """Read ``run_dir`` (``.../wandb/offline-run-<time>-<id>``, or the ``.wandb`` file itself)."""
    from wandb.proto import wandb_internal_pb2 as pb

    path = Path(run_dir)
    if path.is_dir():
        files = sorted(path.glob("run-*.wandb"))
        if not files:
            raise FileNotFoundError(f"{path} holds no run-*.wandb file; is it a W&B run directory?")
        path = files[0]
    result = OfflineRun()
    for raw in _records(path.read_bytes(), path):
        record = pb.Record()  # type: ignore[attr-defined]
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            result.run_id, result.name = record.run.run_id, record.run.display_name
            for item in record.run.config.update:
                _set(result.config, item.key, list(item.nested_key), item.value_json)
        elif kind == "config":
            for item in record.config.update:
                _set(result.config, item.key, list(item.nested_key), item.value_json)
            for item in record.config.remove:
                result.config.pop(item.key, None)
        elif kind == "history":
            row: dict[str, Any] = {}
            for h in record.history.item:
                _set(row, h.key, list(h.nested_key), h.value_json)
            if record.history.HasField("step"):
                row.setdefault("_step", record.history.step.num)
            result.history.append(row)
        elif kind == "exit":
            result.exit_code = record.exit.exit_code
    return result
