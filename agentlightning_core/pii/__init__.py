"""Masking of personal data (emails, phone numbers, IP addresses, person names) in free text.

The log filter in :mod:`agentlightning_core.logging` is the main user; :func:`mask_text` is public
so that other sinks (span exporters, dashboards) can apply the same rules. Each rule lives in its own
module; :mod:`.masker` chains them with cheap pre-checks so a line without PII costs little.
"""

from __future__ import annotations

from .masker import PiiKind, PiiMasker, default_masker, mask_text

__all__ = ["PiiKind", "PiiMasker", "default_masker", "mask_text"]
