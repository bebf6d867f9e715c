"""Phone numbers, national and international: ``123-456-7890`` → ``***-***-****``,
``+44 20 7946 0958`` → ``+** ** **** ****``.

Two steps, cheap first. A regular expression finds digit runs of seven digits or more written the
way phone numbers are (a leading ``+`` or ``(``; or groups split by ``-``, ``.``, ``/`` or spaces
whose groups after the first have two digits or more; or a bare run right after a cue word such as
``phone``, ``tel``, ``mobile``). Right after a colon a candidate needs a key that is not all hex
digits (``tel:+1-202-555-0173``, ``mobile:415-555-2671``, ``home_no:...``) or a cue word, so the
groups of times and IPv6 addresses are not read as one. Dates, times, decimals, IP addresses and
version strings are turned away there. Then Google's ``phonenumbers`` parses each candidate and keeps it when it is a
*possible* number for its country (``+44 …``) or for one of ``regions`` (default ``US``): possible,
not valid, so that numbers outside real numbering plans (``123-456-7890``, test data) are masked too.
Running ``phonenumbers``' own text matcher instead costs ~80-200 µs per line (measured in
benchmarks/pii_masking.py's history), so it is only the validator here.

Limit: a national-format number of a country outside ``regions`` (``030 901820`` in Germany) is
only found when written internationally (``+49 30 901820``) or when its region is given.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from .stars import star_digits

CANDIDATE = re.compile(
    r"(?<![\w+.\-/])(\+\s?)?(\(?\d[\d\s().\-/]{5,}\d)"
    r"(\s?(?:ext\.?|x|#)\s?\d{1,5})?(?![\w\-/]|\.\d|:\d)",
    re.IGNORECASE,
)
DIGITS = re.compile(r"\d")
_DROP_DIGITS = str.maketrans("", "", "0123456789")
GROUPS = re.compile(r"\d+")
ISO_DATE = re.compile(r"^\(?\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)|^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")
CUE = re.compile(
    r"(?i)(?:phone|tel|mobile|cell|call(?:ed|ing)?|sms|fax|whatsapp|contact|number|dial(?:ed)?)\W{0,4}$"
)


_KEY_BEFORE_COLON = re.compile(r"(\w*):$")
_HEX = re.compile(r"[0-9A-Fa-f]*")


def _hex_key(before: str) -> bool:
    """Whether the word before a colon could be a time's or an IPv6 address's group (all hex digits)."""
    key = _KEY_BEFORE_COLON.search(before[-40:])
    return key is None or _HEX.fullmatch(key.group(1)) is not None


def _plausible(plus: str | None, body: str, before: str) -> bool:
    if len(DIGITS.findall(body)) < 7:
        return False
    if plus or body.startswith("("):
        return True
    if ISO_DATE.match(body):
        return False
    if body.count(".") == 1 and not re.search(r"[\s\-/()]", body):
        return False  # a decimal number, 0.0001234
    try:
        ipaddress.IPv4Address(body)
        return False  # the IP rule's business (it runs first in the masker)
    except ValueError:
        pass
    groups = GROUPS.findall(body)
    if len(groups) >= 2 and all(len(g) >= 2 for g in groups[1:]):
        return True
    return bool(CUE.search(before[-24:]))


class PhoneMasker:
    def __init__(self, regions: Sequence[str] = ("US",)) -> None:
        self.regions = tuple(r.upper() for r in regions)
        self._pn: Any = None

    def _possible(self, number: str) -> bool:
        if self._pn is None:
            # ~40-130 ms to import; only a line with a plausible candidate pays it, once
            import phonenumbers

            self._pn = phonenumbers
        pn = self._pn
        regions = (None,) if number.lstrip().startswith("+") else self.regions
        for region in regions:
            try:
                parsed = pn.parse(number, region)
            except pn.NumberParseException:
                continue
            if pn.is_possible_number(parsed):
                return True
        return False

    def __call__(self, text: str) -> str:
        # pre-checks, cheapest first: seven digits in the line at all, then a run written like a phone
        if len(text) - len(text.translate(_DROP_DIGITS)) < 7 or not CANDIDATE.search(text):
            return text
        out, pos = [], 0
        for m in CANDIDATE.finditer(text):
            plus, body, before = m.group(1), m.group(2), text[: m.start()]
            if before.endswith(":") and _hex_key(before) and not CUE.search(before[-24:]):
                continue  # "12:34:5678901", "2001:db8:..." -- but "tel:+1-202-555-0173", "mobile:415-..."
            if not _plausible(plus, body, before):
                continue
            if not self._possible((plus or "") + body):
                continue
            out.append(text[pos : m.start()])
            out.append(star_digits(m.group(0)))
            pos = m.end()
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)
