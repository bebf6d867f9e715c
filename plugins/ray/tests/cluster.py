"""A real local Ray cluster for the tests: a head and a second node, each a ``ray start --block``
process in a session of its own, so that killing a node (``kill -9`` of its process group) takes
its raylet and its workers with it, as a lost machine would. Nothing here calls ``ray stop``:
that would stop every Ray on the machine, not only ours.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: ports of this suite's head (the range 18200-18219 is this plugin's on the shared CI machine)
HEAD_PORT = int(os.environ.get("AGL_TEST_RAY_PORT", "18210"))

#: node death is noticed by the GCS's health checks: every 0.5 s, dead after 3 misses
FAST_HEALTH = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
    "RAY_health_check_initial_delay_ms": "0",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL to the whole node: ``ray start``, its raylet, its workers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        _reap_group(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        _reap_group(self.process.pid)


def _reap_group(pgid: int) -> None:
    """Raylets leave children behind for a moment; make sure none of this node outlives it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.2)


@dataclass
class Cluster:
    workdir: Path
    address: str = ""
    nodes: list[Node] = field(default_factory=list)

    def _start(self, name: str, args: list[str]) -> Node:
        ray = str(Path(sys.executable).with_name("ray"))
        log = self.workdir / f"{name}.log"
        agent_ports = [
            "--dashboard-agent-listen-port", str(free_port()),
            "--dashboard-agent-grpc-port", str(free_port()),
            "--metrics-export-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()),
        ]  # fmt: skip
        command = [
            ray, "start", "--block", "--disable-usage-stats", "--node-ip-address", "127.0.0.1",
            "--min-worker-port", "0", "--max-worker-port", "0", "--object-store-memory", str(80 * 2**20),
            *agent_ports, *args,
        ]  # fmt: skip
        env = {**os.environ, **FAST_HEALTH, "RAY_TMPDIR": str(self.workdir)}
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        node = Node(name, process, log)
        self.nodes.append(node)
        return node

    def start_head(self, cpus: int, resources: dict[str, float]) -> Node:
        self.address = f"127.0.0.1:{HEAD_PORT}"
        node = self._start(
            "head",
            [
                "--head", "--port", str(HEAD_PORT), "--node-manager-port", str(HEAD_PORT + 1),
                "--object-manager-port", str(HEAD_PORT + 2), "--dashboard-port", str(HEAD_PORT + 3),
                "--include-dashboard=false", "--temp-dir", str(self.workdir),
                "--num-cpus", str(cpus), "--resources", json.dumps(resources),
            ],
        )  # fmt: skip
        self.wait_nodes(1, node)
        return node

    def start_node(self, name: str, cpus: int, resources: dict[str, float]) -> Node:
        count = len(self.nodes) + 1
        node = self._start(
            name,
            [
                "--address", self.address, "--node-manager-port", str(free_port()),
                "--object-manager-port", str(free_port()),
                "--num-cpus", str(cpus), "--resources", json.dumps(resources),
            ],
        )  # fmt: skip
        self.wait_nodes(count, node)
        return node

    def wait_nodes(self, count: int, node: Node, timeout: float = 90) -> None:
        """Until the cluster lists ``count`` live nodes (``ray list nodes`` needs the dashboard;
        the GCS answers ``ray status`` without it)."""
        ray = str(Path(sys.executable).with_name("ray"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.process.poll() is not None:
                raise AssertionError(f"{node.name} exited:\n{node.log.read_text()[-3000:]}")
            out = subprocess.run(
                [ray, "status", "--address", self.address], capture_output=True, text=True, timeout=30
            )
            if out.returncode == 0 and out.stdout.count(" node_") >= count:
                return
            time.sleep(1.0)
        raise AssertionError(
            f"{node.name}: {count} nodes not up in {timeout}s:\n{node.log.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
