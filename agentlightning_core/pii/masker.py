"""One call that applies every rule, in an order where earlier masks cannot feed later rules.

Emails go first (their local parts hold digits and names), then IP addresses (a phone matcher would
read ``10.0.0.12`` as digits), then phone numbers, then names. Every rule starts with a check that
costs a ``str`` scan or one regex search, so a line without PII pays a few microseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from functools import partial

from .emails import mask_emails
from .names import NAMES, NamesTable, mask_names
from .network import mask_ips
from .phones import PhoneMasker


class PiiKind(str, Enum):
    EMAIL = "email"
    IP = "ip"
    PHONE = "phone"
    NAME = "name"


class PiiMasker:
    """Masks the chosen kinds of PII in text; thread-safe (no state changes after lazy loads)."""

    def __init__(
        self,
        kinds: Iterable[PiiKind | str] = tuple(PiiKind),
        phone_regions: Sequence[str] = ("US",),
        names: NamesTable = NAMES,
    ) -> None:
        self.kinds = frozenset(PiiKind(k) for k in kinds)
        steps: list[Callable[[str], str]] = []
        if PiiKind.EMAIL in self.kinds:
            steps.append(mask_emails)
        if PiiKind.IP in self.kinds:
            steps.append(mask_ips)
        if PiiKind.PHONE in self.kinds:
            steps.append(PhoneMasker(phone_regions))
        if PiiKind.NAME in self.kinds:
            steps.append(partial(mask_names, table=names))
        self._steps = tuple(steps)

    def __call__(self, text: str) -> str:
        for step in self._steps:
            text = step(text)
        return text


_DEFAULT: PiiMasker | None = None


def default_masker() -> PiiMasker:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PiiMasker()
    return _DEFAULT


def mask_text(text: str) -> str:
    """Mask every kind of PII in ``text`` with the default rules."""
    return default_masker()(text)
