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
tuples). After masking no later handler can see the originals: when the masked message can be rebuilt
from the format string and masked args (the usual ``%s`` case) ``record.args`` holds the masked args,
so formatters that read them (uvicorn's access formatter unpacks them) keep working; otherwise
``record.msg`` becomes the masked message and ``record.args`` is emptied.

On by default. ``AGENT_LIGHTNING_PII_MASKING_ENABLED=false`` (or ``masking=False``) turns it off.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping
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


#: one ``%`` conversion of printf-style formatting (what ``LogRecord.getMessage`` applies)
_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?(?P<flags>[#0 +\-]*)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?[hlL]?(?P<conv>[diouxXeEfFgGcrsa%])"
)


@functools.lru_cache(maxsize=512)
def _parse_format(msg: str) -> tuple[tuple[str, re.Match[str] | None], ...]:
    """``"a %s b"`` → ``(("a ", <%s>), (" b", None))``: literal text, each followed by its conversion."""
    pieces: list[tuple[str, re.Match[str] | None]] = []
    pos = 0
    for m in _SPEC.finditer(msg):
        pieces.append((msg[pos : m.start()], m))
        pos = m.end()
    pieces.append((msg[pos:], None))
    return tuple(pieces)


def _masked_args(record: logging.LogRecord, masked: str) -> tuple[str, Any] | None:
    """The format string and args that give ``masked`` (the masked message), each piece cut from it.

    Every masking rule keeps the text's length, so the characters each literal piece and each
    argument contributed sit at the same offsets in the masked message as in the original. An
    argument rendered by ``%s`` (with or without a width) is replaced by its masked slice; one
    rendered otherwise (``%d``, ``%r``, a precision) must come out unchanged. ``None`` when that does not hold (the caller then flattens the record).
    """
    msg, args = record.msg, record.args
    if not isinstance(msg, str) or not args:
        return None
    mapping = isinstance(args, Mapping)
    source: Any = args  # a tuple, or a mapping for "%(key)s" formats
    new_args: Any = dict(source) if mapping else list(source)
    out, pos, index = [], 0, 0
    try:
        for literal, spec in _parse_format(msg):
            piece = masked[pos : pos + len(literal)]
            out.append(piece.replace("%", "%%"))
            pos += len(literal)
            if spec is None:
                continue
            if spec.group("conv") == "%":
                out.append("%%")
                pos += 1
                continue
            if spec.group("width") == "*" or spec.group("prec") == "*":
                return None
            key = spec.group("key")
            if (key is None) == mapping:
                return None
            if key is None:
                value = source[index]
                slot: Any = index
                index += 1
            else:
                value = source[key]
                slot = key
            # "%(who)-8s" renders its value as "%-8s" does
            conversion = spec.group(0) if key is None else "%" + msg[spec.end("key") + 1 : spec.end()]
            rendered = conversion % (value,)
            piece = masked[pos : pos + len(rendered)]
            pos += len(rendered)
            out.append(spec.group(0))
            if piece != rendered:
                if spec.group("conv") != "s" or spec.group("prec") is not None:
                    return None
                # the value's own characters, without the padding a width adds
                shown = len(str(value))
                new_args[slot] = piece[:shown] if "-" in spec.group("flags") else piece[len(piece) - shown :]
        if pos != len(masked) or (not mapping and index != len(new_args)):
            return None
        fmt = "".join(out)
        final = new_args if mapping else tuple(new_args)
        if fmt % final != masked:
            return None
    except (TypeError, ValueError, KeyError, IndexError):
        return None
    return fmt, final


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
            masked = mask(message)
            rebuilt = _masked_args(record, masked) if record.args else None
            if rebuilt is not None:
                record.msg, record.args = rebuilt
            else:
                record.msg, record.args = masked, None
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
