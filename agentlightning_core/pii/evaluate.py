"""Precision and recall of the masker on a labelled corpus, so the figures in docs/security.md can be
reproduced (``python benchmarks/pii_masking.py``) and checked on your own log lines.

Corpus format: one log line per line, PII marked ``[[kind:value]]`` (kind: email, ip, phone, name);
``#`` starts a comment line. Every rule keeps the text's length, so a mask is located by comparing
characters; the unit counted is the word (``\\w+`` run), so ``John Smith`` is two name units.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .masker import PiiKind, PiiMasker

MARK = re.compile(r"\[\[(email|ip|phone|name):(.+?)\]\](?!\])")
UNIT = re.compile(r"\w+")


@dataclass
class LabelledLine:
    text: str
    spans: list[tuple[PiiKind, int, int]]


@dataclass
class Score:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    misses: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_pos + self.false_pos
        return self.true_pos / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_pos + self.false_neg
        return self.true_pos / real if real else 1.0


def parse_line(marked: str) -> LabelledLine:
    text, spans, pos = [], [], 0
    length = 0
    for m in MARK.finditer(marked):
        plain = marked[pos : m.start()]
        text.append(plain)
        length += len(plain)
        value = m.group(2)
        spans.append((PiiKind(m.group(1)), length, length + len(value)))
        text.append(value)
        length += len(value)
        pos = m.end()
    text.append(marked[pos:])
    return LabelledLine("".join(text), spans)


def load_corpus(path: Path) -> list[LabelledLine]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [parse_line(line) for line in lines if line.strip() and not line.startswith("#")]


def _units(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in UNIT.finditer(text[start:end])]


def score(corpus: Iterable[LabelledLine], kind: PiiKind, masker: PiiMasker | None = None) -> Score:
    """Score one kind with a masker that applies only that kind (so mistakes are attributed)."""
    masker = masker or PiiMasker(kinds=[kind])
    result = Score()
    for line in corpus:
        masked = masker(line.text)
        if len(masked) != len(line.text):
            raise AssertionError(f"masking changed the length of {line.text!r} → {masked!r}")
        changed = {i for i, (a, b) in enumerate(zip(line.text, masked, strict=True)) if a != b}
        labelled = [(s, e) for k, s, e in line.spans if k is kind]
        for s, e in labelled:
            # a name is hit word by word; an address or number is hit when it no longer shows whole
            units = _units(line.text, s, e) if kind is PiiKind.NAME else [(s, e)]
            for us, ue in units:
                if changed & set(range(us, ue)):
                    result.true_pos += 1
                else:
                    result.false_neg += 1
                    result.misses.append(f"{line.text[us:ue]!r} in {line.text!r}")
        inside = {i for s, e in labelled for i in range(s, e)}
        for us, ue in _units(line.text, 0, len(line.text)):
            if changed & set(range(us, ue)) and not inside & set(range(us, ue)):
                result.false_pos += 1
                result.wrong.append(f"{line.text[us:ue]!r} in {line.text!r} → {masked!r}")
    return result
