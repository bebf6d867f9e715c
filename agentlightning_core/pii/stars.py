"""How a detected value is hidden: keep just enough shape to read a log, never the value."""

from __future__ import annotations


def keep_ends(word: str) -> str:
    """``John`` → ``J**n``, ``Al`` → ``A*``: first and last character, the middle starred."""
    if len(word) <= 1:
        return "*"
    if len(word) == 2:
        return word[0] + "*"
    return word[0] + "*" * (len(word) - 2) + word[-1]


def keep_first(word: str) -> str:
    """``user`` → ``u***``: the first character, the rest starred."""
    return word[:1] + "*" * (len(word) - 1)


def star_digits(text: str) -> str:
    """``+1 (415) 555-2671`` → ``+* (***) ***-****``: separators stay so the shape is readable."""
    return "".join("*" if c.isdigit() else c for c in text)


def star_alnum(text: str) -> str:
    return "".join("*" if c.isalnum() else c for c in text)
