"""Bad input to the ray launcher fails fast, naming the field or the address and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from agentlightning_ray import RayLauncher

from agentlightning_core.launcher import LauncherError, LaunchSpec

from .cluster import free_port


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_cpu": 1}, "num_cpu: Extra inputs are not permitted"),
        ({"num_gpus": -1}, "num_gpus: Input should be greater than or equal to 0"),
        ({"autoscale": True}, "autoscale=true needs max_replicas"),
        ({"max_replicas": 4}, "only apply with autoscale=true"),
        (
            {"autoscale": True, "min_replicas": 5, "max_replicas": 2},
            "min_replicas \\(5\\) is above max_replicas",
        ),
        ({"scheduling_strategy": "PACK"}, "scheduling_strategy"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], message: str) -> None:
    with pytest.raises(LauncherError, match=message):
        RayLauncher(**options)


async def test_an_address_that_does_not_answer_fails_within_30s_with_the_address_and_the_fix() -> None:
    port = free_port()  # bound and released: nothing listens there
    launcher = RayLauncher(address=f"127.0.0.1:{port}")
    spec = LaunchSpec(agent="m:agent", replicas=1, server_url="http://127.0.0.1:1")
    start = time.monotonic()
    with pytest.raises(LauncherError) as caught:
        await launcher.start(spec)
    elapsed = time.monotonic() - start
    assert elapsed < 30, f"took {elapsed:.1f}s"
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "does not answer" in message
    assert "ray start --head" in message and "RAY_ADDRESS" in message


def test_agl_runner_with_an_unreachable_ray_address_exits_1_with_one_clear_line() -> None:
    port = free_port()
    env = {**os.environ, "AGL_NO_PLUGIN_COMMANDS": "1"}
    command = [sys.executable, "-m", "agentlightning_core.cli", "runner", "--server", "http://127.0.0.1:1"]
    command += ["--agent", "m:agent", "--launcher", "ray", "--replicas", "2"]
    command += ["--launcher-option", f"address=127.0.0.1:{port}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1, done.stderr
    assert f"Ray address 127.0.0.1:{port} does not answer" in done.stderr
    assert "Traceback" not in done.stderr
