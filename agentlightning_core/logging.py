"""Logging set-up for every Agent Lightning process, with PII masked before any handler writes.

Why the filter sits on handlers, not only on loggers: a filter on a logger sees only records logged
*to that logger*, not those propagated from its children (``agentlightning_core.server`` → root),
whereas a handler's filter sees every record the handler is about to write. So
:func:`configure_logger` puts :class:`PiiMaskingFilter` on the handler it creates, on the handlers
the logger already has, and on the logger itself (for records logged to it directly and handled
elsewhere).

What is masked (rules in :mod:`agentlightning_core.pii`): the formatted message (the format string
with its args applied: PII split across the two is seen whole), the exception and stack text, and
every structured field passed through ``extra=`` (strings, and strings inside dicts, lists and
tuples). After masking, ``record.args`` is emptied: a later handler can only see masked text.

On by default. ``AGENT_LIGHTNING_PII_MASKING_ENABLED=false`` (or ``masking=False``) turns it off.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from .pii import PiiMasker, default_masker

#: attributes every LogRecord has; anything else on a record came through ``extra=``
_STANDARD_ATTRS = frozenset(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "pii_masked",
}
_FORMATTER = logging.Formatter()

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _mask_value(value: Any, mask: Callable[[str], str], depth: int = 0) -> Any:
    if isinstance(value, str):
        return mask(value)
    if depth > 4:  # structured fields are shallow; a deep or cyclic structure is not walked further
        return value
    if isinstance(value, dict):
        return {k: _mask_value(v, mask, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(v, mask, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_mask_value(v, mask, depth + 1) for v in value)
    return value


class PiiMaskingFilter(logging.Filter):
    """Masks PII in a record in place; never drops a record.

    A record is masked once even when several handlers carry the filter (``record.pii_masked``).
    A failure inside the masker must not lose the log line: the message is then replaced by a
    notice rather than written unmasked.
    """

    def __init__(self, masker: PiiMasker | None = None) -> None:
        super().__init__()
        self.masker = masker or default_masker()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "pii_masked", False):
            return True
        mask = self.masker
        try:
            message = record.getMessage()
            record.msg = mask(message)
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = _FORMATTER.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = mask(record.exc_text)
            if record.stack_info:
                record.stack_info = mask(record.stack_info)
            for key, value in list(record.__dict__.items()):
                if key not in _STANDARD_ATTRS:
                    record.__dict__[key] = _mask_value(value, mask)
        except Exception as exc:  # a masking bug must not leak the original text
            record.msg = f"<log message withheld: PII masking failed with {type(exc).__name__}>"
            record.args = None
            record.exc_info = record.exc_text = None
        record.pii_masked = True
        return True


def masking_enabled() -> bool:
    """``AGENT_LIGHTNING_PII_MASKING_ENABLED`` read now (validated: a bad value names the variable)."""
    from .settings import load_settings

    return load_settings().agent_lightning_pii_masking_enabled


def install_pii_filter(logger: logging.Logger, masker: PiiMasker | None = None) -> PiiMaskingFilter:
    """Put one masking filter on ``logger`` and each of its handlers (once; calling again is a no-op)."""
    existing = next((f for f in logger.filters if isinstance(f, PiiMaskingFilter)), None)
    flt = existing or PiiMaskingFilter(masker)
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, PiiMaskingFilter) for f in target.filters):
            target.addFilter(flt)
    return flt


def configure_logger(
    name: str | None = None,
    level: int | str = logging.INFO,
    fmt: str = DEFAULT_FORMAT,
    *,
    masking: bool | None = None,
    masker: PiiMasker | None = None,
    stream: Any = None,
    also: Iterable[str] = ("uvicorn", "uvicorn.access", "uvicorn.error"),
) -> logging.Logger:
    """Configure ``name`` (root by default) to write to ``stream`` (stderr) with PII masked.

    ``masking=None`` follows ``AGENT_LIGHTNING_PII_MASKING_ENABLED`` (default on). The loggers in
    ``also`` (uvicorn's, which keep their own handlers and write client IP addresses) get the filter
    on their handlers too. Idempotent: calling it again adjusts the level and does not add a
    second handler.
    """
    logger = logging.getLogger(name)
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if getattr(h, "_agl_handler", False)), None)
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler._agl_handler = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    handler.setFormatter(logging.Formatter(fmt))
    if masking is None:
        masking = masking_enabled()
    others = [logging.getLogger(name) for name in also]
    targets: list[logging.Logger | logging.Handler] = [logger, *logger.handlers]
    for other in others:
        targets += [other, *other.handlers]
    if masking:
        flt = install_pii_filter(logger, masker)
        for target in targets:
            if not any(isinstance(f, PiiMaskingFilter) for f in target.filters):
                target.addFilter(flt)
    else:
        for target in targets:
            for f in [f for f in target.filters if isinstance(f, PiiMaskingFilter)]:
                target.removeFilter(f)
    return logger
