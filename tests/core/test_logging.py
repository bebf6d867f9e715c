"""configure_logger(): every line a handler writes is masked, unless masking is turned off."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import uuid

import pytest

from agentlightning_core.logging import PiiMaskingFilter, configure_logger, install_pii_filter


@pytest.fixture
def logger_name() -> str:
    return f"agl-test-{uuid.uuid4().hex[:8]}"


def _configured(name: str, **kwargs: object) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = configure_logger(name, fmt="%(message)s|%(who)s", stream=stream, **kwargs)  # type: ignore[arg-type]
    logger.propagate = False
    return logger, stream


def test_message_args_and_extra_fields_are_masked(logger_name: str) -> None:
    logger, stream = _configured(logger_name, masking=True)
    logger.info(
        "login %s from %s",
        "ada@example.com",
        "10.1.2.3",
        extra={"who": {"name": "user John", "tel": ["+44 20 7946 0958"]}},
    )
    line = stream.getvalue()
    assert "a**@e*****e.com" in line and "10.*.*.3" in line
    assert "J**n" in line and "+** ** **** ****" in line
    assert "ada@" not in line and "John" not in line and "7946" not in line


def test_records_from_child_loggers_are_masked_by_the_handler_filter(logger_name: str) -> None:
    _, stream = _configured(logger_name, masking=True)
    logging.getLogger(f"{logger_name}.child.grandchild").warning("call 123-456-7890", extra={"who": "-"})
    assert stream.getvalue().startswith("call ***-***-****")


def test_exception_text_is_masked(logger_name: str) -> None:
    logger, stream = _configured(logger_name, masking=True)
    try:
        raise ValueError("bad address bob@example.org")
    except ValueError:
        logger.exception("failed for %s", "192.168.1.1", extra={"who": "-"})
    out = stream.getvalue()
    assert "bob@example.org" not in out and "b**@e*****e.org" in out
    assert "192.***.*.1" in out and "Traceback" in out


def test_env_variable_turns_masking_off(logger_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_LIGHTNING_PII_MASKING_ENABLED", "false")
    logger, stream = _configured(logger_name)
    logger.info("user@example.com", extra={"who": "John"})
    assert stream.getvalue() == "user@example.com|John\n"


def test_masking_is_on_by_default(logger_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_LIGHTNING_PII_MASKING_ENABLED", raising=False)
    logger, stream = _configured(logger_name)
    logger.info("user@example.com", extra={"who": "-"})
    assert stream.getvalue() == "u***@e*****e.com|-\n"


def test_a_bad_env_value_names_the_variable(logger_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_LIGHTNING_PII_MASKING_ENABLED", "maybe")
    with pytest.raises(Exception, match="(?i)agent_lightning_pii_masking_enabled"):
        configure_logger(logger_name)


def test_configure_twice_keeps_one_handler_and_one_filter(logger_name: str) -> None:
    logger, _ = _configured(logger_name, masking=True)
    configure_logger(logger_name, masking=True)
    assert len(logger.handlers) == 1
    assert sum(isinstance(f, PiiMaskingFilter) for f in logger.handlers[0].filters) == 1
    configure_logger(logger_name, masking=False)
    assert not any(isinstance(f, PiiMaskingFilter) for f in logger.handlers[0].filters)


def test_a_record_is_masked_once_with_two_filtered_handlers(logger_name: str) -> None:
    logger, first = _configured(logger_name, masking=True)
    second = io.StringIO()
    extra_handler = logging.StreamHandler(second)
    logger.addHandler(extra_handler)
    install_pii_filter(logger)
    logger.info("ping 10.0.0.1", extra={"who": "-"})
    assert first.getvalue().startswith("ping 10.*.*.1") and second.getvalue() == "ping 10.*.*.1\n"


def test_a_masker_failure_withholds_the_line_rather_than_leaking_it(logger_name: str) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("boom")

    logger, stream = _configured(logger_name, masking=True, masker=broken)
    logger.info("secret ada@example.com", extra={"who": "-"})
    assert "ada@example.com" not in stream.getvalue()
    assert "withheld" in stream.getvalue()


def test_uvicorn_access_lines_are_masked(logger_name: str) -> None:
    configure_logger(logger_name, masking=True, stream=io.StringIO())
    access = logging.getLogger("uvicorn.access")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "203.0.113.7:50123", "GET", "/health", "1.1", 200)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert stream.getvalue().startswith("203.*.***.7:50123")


def test_uvicorn_access_formatter_still_gets_its_args_masked(logger_name: str) -> None:
    # uvicorn's AccessFormatter unpacks record.args (client, method, path, version, status): emptying
    # them made every access line a "--- Logging error ---" once configure_logger had run
    from uvicorn.logging import AccessFormatter

    access = logging.getLogger(f"{logger_name}.access")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s "%(request_line)s" %(status_code)s', use_colors=False)
    )
    access.addHandler(handler)
    access.propagate = False
    configure_logger(logger_name, masking=True, stream=io.StringIO(), also=[access.name])
    raised: list[BaseException | None] = []

    def record_error(record: logging.LogRecord) -> None:
        raised.append(sys.exc_info()[1])

    handler.handleError = record_error  # type: ignore[method-assign]
    access.info(
        '%s - "%s %s HTTP/%s" %d', "203.0.113.7:50123", "GET", "/v1/x?mail=ada@example.com", "1.1", 200
    )
    assert not raised, raised
    assert stream.getvalue() == '203.*.***.7:50123 "GET /v1/x?mail=a**@e*****e.com HTTP/1.1" 200 OK\n'


def test_masked_args_keep_their_shape_and_hold_no_original(logger_name: str) -> None:
    logger, stream = _configured(logger_name, masking=True)
    records: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        records.append(record)
        return True

    logger.handlers[0].addFilter(keep)
    # a name split across the format string (the cue "user") and an argument is still found
    logger.info("user %s from %s took %.1f s (%d%%)", "John", "10.1.2.3", 1.5, 50, extra={"who": "-"})
    logger.info("%(who)-6s at %(ip)s", {"who": "Priya", "ip": "10.0.0.7"}, extra={"who": "-"})
    logger.info("call %d", 4155552671, extra={"who": "-"})  # no %s to carry the mask: flattened
    assert stream.getvalue().splitlines() == [
        "user J**n from 10.*.*.3 took 1.5 s (50%)|-",
        "P***a  at 10.*.*.7|-",
        "call **********|-",
    ]
    assert records[0].args == ("J**n", "10.*.*.3", 1.5, 50)
    assert records[1].args == {"who": "P***a", "ip": "10.*.*.7"}
    assert records[2].args is None and records[2].msg == "call **********"


def test_importing_the_core_loads_neither_phonenumbers_nor_the_names_list() -> None:
    code = (
        "import sys, agentlightning_core, agentlightning_core.logging as l\n"
        "from agentlightning_core.pii.names import NAMES\n"
        "assert 'phonenumbers' not in sys.modules, 'phonenumbers imported at import time'\n"
        "assert NAMES._table is None\n"
        "l.configure_logger('x', masking=True).info('no pii here')\n"
        "assert 'phonenumbers' not in sys.modules and NAMES._table is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
