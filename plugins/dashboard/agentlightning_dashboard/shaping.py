"""What every value goes through before a page shows it: PII masking, then truncation.

Masking uses the same rules as the logs (:func:`agentlightning_core.pii.mask_text`) and follows
``AGENT_LIGHTNING_PII_MASKING_ENABLED`` (on by default). Truncation keeps a span with a 2 MB
prompt from freezing the browser: long strings are cut in the view, and the page links to the
whole span ("show all"), still masked.
"""

from __future__ import annotations

from typing import Any

from agentlightning_core.pii import mask_text

#: characters of one string shown before the view cuts it
VIEW_CHARS = 4000


class Shaper:
    def __init__(self, *, masking: bool, view_chars: int | None = VIEW_CHARS) -> None:
        self.masking = masking
        self.view_chars = view_chars

    def full(self) -> Shaper:
        """The same masking without truncation (the "show all" view)."""
        return Shaper(masking=self.masking, view_chars=None)

    def text(self, value: str) -> str:
        if self.masking:
            value = mask_text(value)
        if self.view_chars is not None and len(value) > self.view_chars:
            return value[: self.view_chars] + f"… [truncated: {len(value)} characters in all]"
        return value

    def value(self, value: Any) -> Any:
        """Masks and cuts every string inside a JSON value (keys are left alone)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            if self.view_chars is not None and len(value) > 200:
                return [self.value(v) for v in value[:200]] + [f"… [truncated: {len(value)} items in all]"]
            return [self.value(v) for v in value]
        return value

    def was_cut(self, value: Any) -> bool:
        """Whether :meth:`value` would cut something in ``value``."""
        if self.view_chars is None:
            return False
        if isinstance(value, str):
            return len(value) > self.view_chars
        if isinstance(value, dict):
            return any(self.was_cut(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return len(value) > 200 or any(self.was_cut(v) for v in value)
        return False
