"""Tool arguments and results on AutoGen's own ``execute_tool`` spans.

``BaseTool.run_json`` opens the span and calls ``self.run`` inside it, but records neither the
arguments nor the result. The patched ``run_json`` gives each tool instance (once) a ``run``
that, after the call, writes both onto the span current at that point — AutoGen's tool span.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any

from agentlightning_otel.spans import to_json
from opentelemetry import trace

from agentlightning_core.types import semconv

_lock = threading.Lock()
_original: Any = None
_MARK = "_agl_run_traced"


def _trace_results(tool: Any) -> None:
    if vars(tool).get(_MARK):
        return
    original_run = tool.run

    @functools.wraps(original_run)
    async def run(args: Any, cancellation_token: Any) -> Any:
        result = await original_run(args, cancellation_token)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(semconv.TOOL_ARGUMENTS, to_json(args))
            try:
                text = tool.return_value_as_string(result)
            except Exception:  # a tool whose result does not print must not fail the call
                text = repr(result)
            span.set_attribute(semconv.TOOL_RESULT, to_json(text))
        return result

    object.__setattr__(tool, "run", run)
    object.__setattr__(tool, _MARK, True)


def instrument() -> None:
    global _original
    from autogen_core.tools import BaseTool

    with _lock:
        if _original is not None:
            return
        original = BaseTool.run_json
        _original = original

        @functools.wraps(original)
        async def run_json(
            self: Any, args: Mapping[str, Any], cancellation_token: Any, call_id: str | None = None
        ) -> Any:
            _trace_results(self)
            return await original(self, args, cancellation_token, call_id=call_id)

        BaseTool.run_json = run_json  # type: ignore[method-assign]


def uninstrument() -> None:
    global _original
    from autogen_core.tools import BaseTool

    with _lock:
        if _original is not None:
            BaseTool.run_json = _original  # type: ignore[method-assign]
            _original = None


def is_instrumented() -> bool:
    return _original is not None
