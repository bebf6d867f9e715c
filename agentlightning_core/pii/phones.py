"""Phone numbers, national and international: ``123-456-7890`` → ``***-***-****``,
``+44 20 7946 0958`` → ``+** ** **** ****``.

Google's ``phonenumbers`` finds them (its matcher already skips dates, times and page ranges), with
the *possible* leniency so that numbers outside real numbering plans (``123-456-7890``, test data)
are caught too. That leniency alone would also take order ids and Unix times, so a match must look
written as a phone number: a leading ``+`` or ``(``, or digit groups split by ``-``, ``.``, ``/`` or
spaces whose groups after the first have two digits or more (``1.2.3.4567`` is a version, not a
phone) — or a cue word (``phone``, ``tel``, ``mobile``, ...) just before a bare digit run.

Limit: a national-format number of a country other than the ``regions`` given (default ``US``) is
only found when written internationally (``+49 30 123456``); ``regions`` takes more, at one matcher
pass each for lines that hold a 7-digit run.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from .stars import star_digits

#: pre-check: seven digits or more, allowing the separators phone numbers use
CANDIDATE = re.compile(r"\d(?:[\s().\-/]{0,3}\d){6,}")
GROUPS = re.compile(r"\d+")
CUE = re.compile(r"(?i)(?:phone|tel|mobile|cell|call(?:ed|ing)?|sms|fax|whatsapp|contact|number|dial(?:ed)?)\W{0,4}$")


def _is_ipv4(raw: str) -> bool:
    try:
        ipaddress.IPv4Address(raw)
    except ValueError:
        return False
    return True


def _looks_written_as_phone(raw: str, before: str) -> bool:
    if raw.startswith(("+", "(")):
        return True
    if _is_ipv4(raw):  # the IP rule's business (it runs first in the masker)
        return False
    groups = GROUPS.findall(raw)
    if len(groups) >= 2 and all(len(g) >= 2 for g in groups[1:]):
        return True
    return bool(CUE.search(before[-24:]))


class PhoneMasker:
    def __init__(self, regions: Sequence[str] = ("US",)) -> None:
        self.regions = tuple(regions)
        self._matcher: Any = None

    def _load(self) -> Any:
        # phonenumbers costs ~40 ms to import; only lines with a digit run pay it, once.
        import phonenumbers

        self._leniency = phonenumbers.Leniency.POSSIBLE
        self._matcher = phonenumbers.PhoneNumberMatcher
        return self._matcher

    def __call__(self, text: str) -> str:
        if not CANDIDATE.search(text):
            return text
        matcher = self._matcher or self._load()
        for region in self.regions:
            spans = [
                (m.start, m.end)
                for m in matcher(text, region, leniency=self._leniency)
                if _looks_written_as_phone(m.raw_string, text[: m.start])
            ]
            for start, end in reversed(spans):
                text = text[:start] + star_digits(text[start:end]) + text[end:]
        return text
