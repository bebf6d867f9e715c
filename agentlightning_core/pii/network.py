"""IPv4 and IPv6 addresses: ``192.168.1.1`` → ``192.***.*.1``, ``2001:db8::8a2e:370:7334`` →
``2001:***::****:***:7334``.

A loose pattern finds candidates and the standard library's :mod:`ipaddress` decides: version
strings (``1.2.3``), times (``10:22:33``) and out-of-range octets (``300.1.1.1``) are left alone.
The first and last groups stay, so a reader can still tell ``10.*.*.3`` from ``192.***.*.1``; an
IPv6 address with only two groups written keeps just the first (``fe80::1`` → ``fe80::*``).
"""

from __future__ import annotations

import ipaddress
import re

from .stars import star_alnum, star_digits

IPV4 = re.compile(r"(?<![\w.])(\d{1,3})\.(\d{1,3}\.\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
# Hex groups with at least two colons; an embedded IPv4 tail and a zone id are allowed.
IPV6 = re.compile(
    r"(?<![\w:.*])((?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?)(%[\w.]+)?(?![\w:*]|\.[\d*])"
)


def _mask_v4(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return text
    return f"{match.group(1)}.{star_digits(match.group(2))}.{match.group(3)}"


def _mask_v6(match: re.Match[str]) -> str:
    address, zone = match.group(1), match.group(2) or ""
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return match.group(0)
    groups = address.split(":")
    filled = [i for i, g in enumerate(groups) if g]
    if len(filled) <= 2:
        # "::1", "fe80::1", "2001:db8::": nothing would be left to hide between a first and a last
        # group, so only a leading group stays ("fe80::*", "::*")
        keep = filled[0] if len(filled) == 2 and filled[0] == 0 else None
        return ":".join(g if i == keep else star_alnum(g) for i, g in enumerate(groups)) + zone
    first, last = filled[0], filled[-1]
    middle = [star_alnum(g) for g in groups[first + 1 : last]]
    return ":".join([*groups[: first + 1], *middle, *groups[last:]]) + zone


def mask_ips(text: str) -> str:
    if text.count(".") >= 3:  # pre-check: str.count runs at C speed, the regex does not
        text = IPV4.sub(_mask_v4, text)
    if text.count(":") >= 2:  # pre-check: an IPv6 address has at least two colons
        text = IPV6.sub(_mask_v6, text)
    return text
