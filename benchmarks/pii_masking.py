"""What PII masking costs per log line, and how well it finds names.

Prints: ns per line for the masker alone and for a full ``logger.info`` call through a handler,
with masking on and off, for lines with and without PII; the one-off cost of the lazy loads; and
precision/recall per kind on the labelled corpora in tests/core/data.

Reproduce::

    .venv/bin/python benchmarks/pii_masking.py            # ~30 s
    .venv/bin/python benchmarks/pii_masking.py --repeat 3  # fewer rounds, noisier
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CLEAN = [
    "rollout ro-7f3a2 finished in 1.23s with reward 0.5",
    "GRPO step 12 loss=0.342 kl=0.01",
    "Starting server on port 4747",
    "attempt at-1 of ro-9 failed: timeout after 300s",
    "Spans exported: 1024",
    "Redis event bus connected",
    "build 2024-01-15 10:22:33 ok",
    "GET /v1/rollouts?limit=100&offset=200 200",
]
WITH_PII = [
    "user alice@example.com signed in from 203.0.113.7",
    "customer phone: (415) 555-2671",
    "rollout assigned to Priya Patel",
    "peer 2001:db8::8a2e:370:7334 connected over QUIC",
    "contact Laura Chen at laura.chen@example.com or (646) 555-0142",
    "UK office +44 20 7946 0958",
    "user John Smith logged in from 10.2.3.4",
    "Hi Ahmed, your training job finished",
]


def _ns_per_call(fn, lines: list[str], repeat: int, number: int) -> float:
    best = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            for line in lines:
                fn(line)
        best.append((time.perf_counter_ns() - start) / (number * len(lines)))
    return min(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--number", type=int, default=300)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    from agentlightning_core.logging import configure_logger
    from agentlightning_core.pii import PiiKind, PiiMasker
    from agentlightning_core.pii.evaluate import load_corpus, score
    from agentlightning_core.pii.names import NAMES

    t0 = time.perf_counter()
    NAMES.get()
    names_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    import phonenumbers  # noqa: F401

    phones_ms = (time.perf_counter() - t0) * 1e3
    masker = PiiMasker()
    masker("warm up +1 415 555 2671")  # phonenumbers loads its region metadata on first use

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"one-off: names list load {names_ms:.0f} ms, phonenumbers import {phones_ms:.0f} ms")
    print()
    print(f"{'what':44s} {'no PII':>10s} {'with PII':>10s}")
    for label, fn in [
        ("mask_text(line)", masker),
        ("  emails only", PiiMasker(kinds=[PiiKind.EMAIL])),
        ("  IPs only", PiiMasker(kinds=[PiiKind.IP])),
        ("  phones only", PiiMasker(kinds=[PiiKind.PHONE])),
        ("  names only", PiiMasker(kinds=[PiiKind.NAME])),
    ]:
        clean = _ns_per_call(fn, CLEAN, args.repeat, args.number)
        pii = _ns_per_call(fn, WITH_PII, args.repeat, args.number)
        print(f"{label:44s} {clean:8.0f}ns {pii:8.0f}ns")

    for masking in (False, True):
        sink = io.StringIO()
        logger = configure_logger("bench", masking=masking, stream=sink)
        logger.propagate = False

        def log(line: str, logger: logging.Logger = logger, sink: io.StringIO = sink) -> None:
            logger.info("%s", line)
            sink.seek(0)
            sink.truncate()

        clean = _ns_per_call(log, CLEAN, args.repeat, args.number)
        pii = _ns_per_call(log, WITH_PII, args.repeat, args.number)
        label = f"logger.info(...) masking={'on' if masking else 'off'}"
        print(f"{label:44s} {clean:8.0f}ns {pii:8.0f}ns")

    print()
    print(f"{'corpus':10s} {'kind':6s} {'precision':>9s} {'recall':>7s}  (tp/fp/fn)")
    for name in ("pii_corpus.txt", "pii_corpus_holdout.txt"):
        corpus = load_corpus(ROOT / "tests" / "core" / "data" / name)
        for kind in PiiKind:
            s = score(corpus, kind)
            print(
                f"{name.split('.')[0][4:] or 'corpus':10s} {kind.value:6s} {s.precision:9.3f} {s.recall:7.3f}"
                f"  ({s.true_pos}/{s.false_pos}/{s.false_neg}) over {len(corpus)} lines"
            )
    print("\nreproduce: .venv/bin/python benchmarks/pii_masking.py")


if __name__ == "__main__":
    main()
