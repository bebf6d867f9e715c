"""Email addresses: ``user@example.com`` → ``u***@e*****e.com``.

The pattern is deliberately wider than RFC 5322's common subset (any word characters, dots,
``%+-`` in the local part; any labels in the domain; a top-level label of two letters or more), so
recall is the priority: a masked non-address costs readability, a leaked address costs privacy.
"""

from __future__ import annotations

import re

from .stars import keep_ends, keep_first

EMAIL = re.compile(
    r"(?<![\w.%+-])([\w.%+-]+)@((?:[\w-]+\.)+)([^\W\d_]{2,})(?![\w-])",
)


def _mask(match: re.Match[str]) -> str:
    local, labels, tld = match.group(1), match.group(2), match.group(3)
    domain = ".".join(keep_ends(label) for label in labels.rstrip(".").split("."))
    return f"{keep_first(local)}@{domain}.{tld}"


def mask_emails(text: str) -> str:
    if "@" not in text:  # pre-check: most lines have no '@'
        return text
    return EMAIL.sub(_mask, text)
