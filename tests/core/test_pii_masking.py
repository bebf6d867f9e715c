"""The masking rules, pinned by the issue's examples and measured on the labelled corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlightning_core.pii import PiiKind, PiiMasker, mask_text
from agentlightning_core.pii.evaluate import load_corpus, parse_line, score

DATA = Path(__file__).parent / "data"
CORPUS = load_corpus(DATA / "pii_corpus.txt")
HOLDOUT = load_corpus(DATA / "pii_corpus_holdout.txt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user@example.com", "u***@e*****e.com"),
        ("123-456-7890", "***-***-****"),
        ("user John", "user J**n"),
        ("192.168.1.1", "192.***.*.1"),
        ("+44 20 7946 0958", "+** ** **** ****"),
        ("2001:db8::8a2e:370:7334", "2001:***::****:***:7334"),
        ("name=Ada Lovelace", "name=A*a L******e"),
    ],
)
def test_issue_examples_are_masked_as_specified(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_corpus_is_big_enough_and_labelled() -> None:
    assert len(CORPUS) >= 300
    kinds = {kind for line in CORPUS for kind, _, _ in line.spans}
    assert kinds == set(PiiKind)


@pytest.mark.parametrize("kind", [PiiKind.EMAIL, PiiKind.IP, PiiKind.PHONE])
@pytest.mark.parametrize("corpus", [CORPUS, HOLDOUT], ids=["corpus", "holdout"])
def test_emails_ips_phones_have_full_recall_and_no_false_positive(kind: PiiKind, corpus: list) -> None:
    result = score(corpus, kind)
    assert result.misses == []
    assert result.wrong == []


def test_the_full_masker_leaves_no_labelled_email_ip_or_phone_visible() -> None:
    # the chained masker (order matters: emails, IPs, phones, names) on every labelled value
    for line in CORPUS + HOLDOUT:
        masked = mask_text(line.text)
        for kind, start, end in line.spans:
            if kind is not PiiKind.NAME:
                assert line.text[start:end] not in masked, (line.text, masked)


@pytest.mark.parametrize("corpus", [CORPUS, HOLDOUT], ids=["corpus", "holdout"])
def test_names_precision_and_recall_stay_at_the_documented_level(corpus: list) -> None:
    # docs/security.md states the measured figures; these floors catch a regression of the rules
    # or of the names list without pinning the exact count
    result = score(corpus, PiiKind.NAME)
    assert result.recall >= 0.93, result.misses
    assert result.precision >= 0.95, result.wrong


def test_lines_without_pii_are_left_exactly_as_they_were() -> None:
    clean = [line.text for line in CORPUS if not line.spans]
    assert len(clean) >= 150
    changed = [(t, mask_text(t)) for t in clean if mask_text(t) != t]
    # the documented false positives only (place or word names the list cannot tell from people)
    assert len(changed) <= 3, changed


def test_masking_keeps_length_and_is_idempotent() -> None:
    for line in CORPUS:
        once = mask_text(line.text)
        assert len(once) == len(line.text)
        assert mask_text(once) == once


def test_masker_applies_only_the_kinds_asked_for() -> None:
    text = "John Smith <john@example.com> 10.0.0.1 +1 415 555 2671"
    only_ip = PiiMasker(kinds=[PiiKind.IP])(text)
    assert only_ip == "John Smith <john@example.com> 10.*.*.1 +1 415 555 2671"


def test_phones_outside_the_default_region_need_an_international_prefix_or_the_region() -> None:
    text = "Berlin office 030 901820 11"
    assert mask_text(text) == text  # documented limit: a German national number, region US
    assert PiiMasker(kinds=[PiiKind.PHONE], phone_regions=["US", "DE"])(text) == "Berlin office *** ****** **"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tel:+1-202-555-0173", "tel:+*-***-***-****"),  # a tel: URI
        ("phone:415-555-2671", "phone:***-***-****"),  # key:value, no space
        ("mobile:(646) 555-0142", "mobile:(***) ***-****"),
        ("home_no:415 555 2671", "home_no:*** *** ****"),
        ("phone:4155552671", "phone:**********"),  # a bare run after a cue
    ],
)
def test_phones_right_after_a_colon_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text", ["at 12:34:5678901", "order_id:5551234567", "ts:1700000000123", "build:20240115 1234567"]
)
def test_digits_after_a_colon_that_are_no_phone_stay(text: str) -> None:
    assert mask_text(text) == text
    # the phone rule alone (no IP rule before it) must not read IPv6 groups as a number either
    only_phones = PiiMasker(kinds=[PiiKind.PHONE])
    assert only_phones("2001:db8:0:0:1234:5678:9012:3456") == "2001:db8:0:0:1234:5678:9012:3456"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fe80::1", "fe80::*"),  # two groups: keeping first and last would hide nothing
        ("fe80::1a2b%eth0", "fe80::****%eth0"),
        ("::1", "::*"),
        ("2001:db8::", "2001:***::"),
        ("2001:db8::1", "2001:***::1"),
        ("::ffff:192.168.1.1", "::ffff:192.***.*.1"),  # the IPv4 tail is masked as IPv4
    ],
)
def test_short_ipv6_addresses_never_stay_whole(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    ["version 1.2.3.4567", "2024-01-15 10:22:33", "took 1700000000 ns", "300.1.1.1", "mac 00:1A:2B:3C:4D:5E"],
)
def test_numbers_that_are_not_pii_are_not_masked(text: str) -> None:
    assert mask_text(text) == text


def test_corpus_markup_parses_to_plain_text_and_offsets() -> None:
    line = parse_line("hi [[name:Ada]] at [[ip:10.0.0.1]]")
    assert line.text == "hi Ada at 10.0.0.1"
    assert [(k.value, line.text[s:e]) for k, s, e in line.spans] == [("name", "Ada"), ("ip", "10.0.0.1")]
