"""Reading event files back without TensorBoard: for tests, notebooks and quick checks.

An event file is a sequence of TFRecords — ``uint64 length``, ``uint32 masked CRC-32C of the
length``, ``data``, ``uint32 masked CRC-32C of the data`` — each ``data`` an ``Event`` protobuf.
Both checksums are verified, so a reader that agrees with the writer also proves the file is
what TensorBoard would load.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class CorruptEventFile(ValueError):
    """A record whose length or checksum does not match: the file was cut or damaged."""


def _records(path: Path) -> Iterator[bytes]:
    from tensorboardX.record_writer import masked_crc32c

    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        if len(data) - offset < 12:
            raise CorruptEventFile(f"{path}: {len(data) - offset} stray bytes at offset {offset}")
        header = data[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[offset + 8 : offset + 12])
        if masked_crc32c(header) != header_crc:
            raise CorruptEventFile(f"{path}: length checksum mismatch at offset {offset}")
        start = offset + 12
        body = data[start : start + length]
        if len(body) != length or len(data) < start + length + 4:
            raise CorruptEventFile(f"{path}: record at offset {offset} is cut short")
        (body_crc,) = struct.unpack("<I", data[start + length : start + length + 4])
        if masked_crc32c(body) != body_crc:
            raise CorruptEventFile(f"{path}: data checksum mismatch at offset {offset}")
        yield body
        offset = start + length + 4


def event_files(log_dir: str | Path) -> list[Path]:
    return sorted(Path(log_dir).rglob("*.tfevents.*"))


def read_events(log_dir: str | Path) -> Iterator[Any]:
    """Every ``Event`` protobuf of every event file under ``log_dir``, file by file."""
    from tensorboardX.proto.event_pb2 import Event

    for path in event_files(log_dir):
        for record in _records(path):
            event = Event()
            event.ParseFromString(record)
            yield event


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float, float]]]:
    """``{tag: [(step, value, wall_time), ...]}`` in the order written."""
    out: dict[str, list[tuple[int, float, float]]] = {}
    for event in read_events(log_dir):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                out.setdefault(value.tag, []).append((event.step, value.simple_value, event.wall_time))
            elif value.HasField("tensor") and value.tensor.float_val:
                out.setdefault(value.tag, []).append((event.step, value.tensor.float_val[0], event.wall_time))
    return out


def read_texts(log_dir: str | Path) -> dict[str, list[tuple[int, str]]]:
    """``{tag: [(step, text), ...]}`` for text summaries (``config``, non-numeric metrics)."""
    out: dict[str, list[tuple[int, str]]] = {}
    for event in read_events(log_dir):
        for value in event.summary.value:
            if value.HasField("tensor") and value.tensor.string_val:
                tag = value.tag.removesuffix("/text_summary")
                out.setdefault(tag, []).append((event.step, value.tensor.string_val[0].decode("utf-8")))
    return out
