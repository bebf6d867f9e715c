"""A private RabbitMQ node for fault tests and benchmarks.

Fault tests stop and start the broker while events flow; they must never touch the shared one,
so this starts a node of its own: its own node name, AMQP and distribution ports, data and log
directories, Erlang cookie (``HOME``), no plugins (no management port to collide on).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

SERVER_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRabbitMQ:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).resolve()
        self.port = free_port()
        self.dist_port = free_port()
        self.nodename = f"agltest{uuid.uuid4().hex[:8]}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        self.binary = next((c for c in SERVER_CANDIDATES if Path(c).is_file() or shutil.which(c)), None)
        if self.binary is None:
            raise RuntimeError("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        for sub in ("home", "mnesia", "log"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        (self.directory / "enabled_plugins").write_text("[].\n")
        (self.directory / "env.conf").write_text("")
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )

    def env(self) -> dict[str, str]:
        d = self.directory
        return {
            **os.environ,
            "HOME": str(d / "home"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "env.conf"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 90.0) -> None:
        assert self.binary is not None
        out = (self.directory / "server.out").open("ab")
        self.process = subprocess.Popen(
            [self.binary], env=self.env(), cwd=self.directory, stdout=out, stderr=subprocess.STDOUT
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"private rabbitmq exited with {self.process.returncode}; see {self.directory}/server.out"
                )
            if self._speaks_amqp():
                return
            time.sleep(0.2)
        raise RuntimeError(f"private rabbitmq on port {self.port} not ready within {timeout}s")

    def _speaks_amqp(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"AMQP\x00\x00\x09\x01")
                return s.recv(8)[:1] == b"\x01"  # a Connection.Start method frame
        except OSError:
            return False

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM: the node shuts down cleanly (queues and persistent messages kept)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> PrivateRabbitMQ:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
