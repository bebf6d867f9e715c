"""Person names: ``John`` → ``J**n``, from a names list plus context rules.

The list (``data/names.tsv.gz``, ~90k first and last names, 290 kB) is derived from the
``names-dataset`` package by ``scripts/build_pii_names.py``; loading it takes 0.3-0.6 s (measured on
the shared 2-core machine) and happens on the first line that has a capitalised word, never at import. Names that are also everyday
English or software words (``Will``, ``May``, ``Max``, ``Redis``) are flagged ambiguous there.

Rules, for each capitalised Latin-script word (``[A-Z][a-z]+``, accents allowed):

1. after a cue that says a name follows (``name=``, ``"author": "``, ``Mr.``, ``Dr``), the word is
   masked whatever it is, and so are the capitalised words right after it;
2. after a weaker cue (``user``, ``by``, ``from``, ``hi``), a word on the list is masked, ambiguous
   or not (software terms excepted: ``from Redis`` stays);
3. a first name followed by a last name (``Ada Lovelace``, ``Maria Garcia``) is masked as a pair
   unless both words are ambiguous (``Will Smith`` stays: both are everyday words);
4. any unambiguous word on the list is masked on its own.

Limits (see docs/security.md for measured precision and recall): names outside the list and
without a cue are missed (rare names, non-Latin scripts, all-lowercase names); ambiguous names
without a cue are missed (``Grace said``, ``Jordan deployed``); a place or product that is also an
unambiguous name is masked (``Hunter process restarted``, ``Chelsea cache``).
"""

from __future__ import annotations

import gzip
import re
from importlib import resources

from .stars import keep_ends

FIRST, LAST, AMBIGUOUS, SOFTWARE = 1, 2, 4, 8
_FLAGS = {"F": FIRST, "L": LAST, "A": AMBIGUOUS, "S": SOFTWARE}

# "O'Brien" and "Jean-Luc" are one word; "Maria's" is "Maria" (the possessive stays readable).
# The lookahead first: most positions fail on it at once, before the costlier lookbehind runs.
WORD = re.compile(
    r"(?=[A-ZÀ-ÖØ-Þ])(?<![\w./\\@$#-])[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:['’-](?!s\b)[A-Za-zß-öø-ÿ]+)?(?![\w(@-]|\.\w)"
)
#: keys after which (with ':' or '=') a value is a person's name, whatever the word
NAME_KEYS = frozenset(
    """name first_name last_name full_name given_name family_name display_name real_name user_name
    contact_name customer_name firstname lastname fullname displayname username author owner assignee
    reviewer sender recipient customer client patient employee contact person member""".split()
)
#: "model name: Qwen" is not a person: a key "name" right after one of these is no cue
NOT_PERSON = frozenset(
    """model host file queue table db database topic bucket index field column project service app
    package plugin branch tag node pod cluster env var key class function module metric task job
    dataset algorithm adapter tracer engine store bus resource template""".split()
)
TITLES = frozenset("mr mrs ms mx miss dr prof sir madam dear".split())
#: words after which a listed name is masked even when it is also an everyday word
WEAK_CUES = frozenset(
    """user username customer client patient employee member person contact manager by from hi hello
    hey thanks cc dear named called""".split()
)
#: words that introduce a name are not one themselves ("Hi Ahmed": "Hi" is a cue, not a name)
CUE_WORDS = frozenset(
    "hi hello hey dear thanks by from cc mr mrs ms mx miss dr prof sir madam user customer".split()
)


class NamesTable:
    """The names list, loaded on first use."""

    def __init__(self) -> None:
        self._table: dict[str, int] | None = None

    def get(self) -> dict[str, int]:
        if self._table is None:
            raw = resources.files("agentlightning_core.pii").joinpath("data/names.tsv.gz").read_bytes()
            rows = [line.split("\t") for line in gzip.decompress(raw).decode("utf-8").splitlines()[1:]]
            codes = {flags: sum(_FLAGS[f] for f in flags) for flags in {r[1] for r in rows}}
            self._table = {name: codes[flags] for name, flags in rows}
        return self._table


NAMES = NamesTable()


def _cue(text: str, start: int) -> str | None:
    """``"strong"``, ``"weak"`` or ``None``: what the word and separator before ``start`` say.

    A scan back over a few characters (cheaper than a backward regex search, which costs tens of
    µs per word with an alternation this size): the separator (quotes, ``:``, ``=``, spaces, a dot)
    and then the word before it.
    """
    i = start
    while i > 0 and start - i < 6 and text[i - 1] in " \t\"':=.,":
        i -= 1
    if i == start:
        return None
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
        j -= 1
    key, sep = text[j:i].lower(), text[i:start]
    if not key:
        return None
    if ":" in sep or "=" in sep:
        if key in NAME_KEYS:
            k = j - 1
            while k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_"):
                k -= 1
            if key == "name" and k >= 0 and text[k : j - 1].lower() in NOT_PERSON:
                return None
            return "strong"
        return "weak" if key in WEAK_CUES else None
    if key in TITLES and sep.strip(" .") == "":
        return "strong"
    if key in WEAK_CUES and sep.strip(" ,") == "":
        return "weak"
    return None


def mask_names(text: str, table: NamesTable = NAMES) -> str:
    words = list(WORD.finditer(text))
    if not words:
        return text
    names = table.get()
    flags_of = [names.get(m.group(0), 0) for m in words]
    strong_possible = ":" in text or "=" in text or any(w.group(0).lower() in TITLES for w in words)
    if not strong_possible and not any(flags_of):
        return text
    masked: set[int] = set()
    strong_run = False  # inside "name=Ada Mary ..." every following capitalised word is masked
    for i, match in enumerate(words):
        word, start, flags = match.group(0), match.start(), flags_of[i]
        adjacent = i > 0 and words[i - 1].end() == start - 1 and text[start - 1] == " "
        if strong_possible and ((strong_run and adjacent) or _cue(text, start) == "strong"):
            masked.add(i)
            strong_run = True
            continue
        strong_run = False
        if not flags or flags & SOFTWARE or word.lower() in CUE_WORDS:
            if adjacent and (i - 1) in masked and flags_of[i - 1] & FIRST:
                masked.add(i)  # "Mohammed Al-Sayed": a surname the list lacks, after a first name
            continue
        if not flags & AMBIGUOUS or _cue(text, start) is not None:
            masked.add(i)
        elif adjacent and (i - 1) in masked:
            masked.add(i)  # "Ada Lovelace" where Ada was masked: the surname goes too
        if i + 1 < len(words):
            nxt, next_flags = words[i + 1], flags_of[i + 1]
            pair = nxt.start() == match.end() + 1 and text[match.end()] == " "
            if (
                pair
                and flags & FIRST
                and next_flags & LAST
                and not next_flags & SOFTWARE
                and not (flags & AMBIGUOUS and next_flags & AMBIGUOUS)
            ):
                masked.update((i, i + 1))
    if not masked:
        return text
    out, pos = [], 0
    for i in sorted(masked):
        match = words[i]
        out.append(text[pos : match.start()])
        out.append(keep_ends(match.group(0)))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)
