"""With the application's own AgentOps client initialised, both keep working: AgentOps' service
(a local fake, speaking its real auth and OTLP endpoints) still receives the spans, and the
rollout's spans reach the store too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("agentops", reason="runs in .venv-agentops (make test-agentops)")


@pytest.mark.timeout(180)
def test_the_users_agentops_client_keeps_its_spans_and_the_store_gets_them_too() -> None:
    script = Path(__file__).with_name("alongside_app.py")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=150)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["mode"] == "alongside the application's AgentOps client"
    assert result["same_provider"] is True
    assert result["status"] == "succeeded"
    assert "openai.chat.completion" in result["span_names"]  # AgentOps' own instrumentation, in the store
    assert result["llm_spans"] == 1  # the proxy's record; AgentOps' copy is not a second call
    assert "/v3/auth/token" in result["service_paths"]
    assert result["exported_chat_span"] is True  # the user's AgentOps export still has everything
