"""``VLLMServer``: one ``vllm serve`` process this engine starts, watches and stops.

Why a subprocess rather than vLLM's in-process ``AsyncLLM``: the model server then has its own
CUDA context, memory and process group (a learner in the Trainer's process shares the GPU without
sharing an allocator, and a vLLM crash does not take the store and runners down); every feature
the engine needs — token ids, log-probs, LoRA load/unload, sleep/wake, weight transfer — is vLLM's
own HTTP API, maintained upstream, rather than internal Python APIs that change between
releases; and a server this engine starts, a server someone else runs, and VERL's replicas are
all driven by the same HTTP code. The cost is one loopback hop per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

log = logging.getLogger(__name__)

INSTALL = 'pip install "agentlightning-vllm[vllm]" on a CUDA machine (see scripts/setup_stable_gpu.sh for the pinned stack)'


class VLLMUnavailableError(RuntimeError):
    """vLLM is not installed, or this machine has no GPU it can serve on."""


def check_vllm_available(*, need_gpu: bool = True) -> None:
    """Fail early, with the install command, where ``vllm serve`` could not start."""
    try:
        import importlib.util

        found = importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise VLLMUnavailableError(f"engine 'vllm' needs vLLM, which is not installed: {INSTALL}")
    if need_gpu:
        try:
            import torch
        except ImportError:
            raise VLLMUnavailableError(f"engine 'vllm' needs torch with CUDA: {INSTALL}") from None
        if not torch.cuda.is_available():
            raise VLLMUnavailableError(
                "engine 'vllm' serves on a GPU and this machine has none visible to torch "
                f"({torch.__version__}); on a CPU use engine='transformers', or attach to a running "
                "vLLM server with base_url=http://host:port/v1"
            )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class VLLMServer:
    """``vllm serve <model>`` on ``host:port`` with the flags RL training needs.

    :param extra_args: more ``vllm serve`` flags, passed as given.
    :param dev_mode: ``VLLM_SERVER_DEV_MODE=1`` — exposes ``/sleep``, ``/wake_up``,
        ``/collective_rpc`` and the weight-transfer endpoints (development endpoints: bind to
        loopback, as the default host does).
    """

    model: str
    served_model_name: str
    host: str = "127.0.0.1"
    port: int = 0
    enable_sleep_mode: bool = True
    enable_lora: bool = False
    max_lora_rank: int = 64
    weight_transfer_backend: str | None = None
    gpu_memory_utilization: float = 0.6
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    #: vLLM's tool-call parser, for agents that call tools (hermes fits Qwen2.5); None = no tools
    tool_call_parser: str | None = "hermes"
    extra_args: Sequence[str] = ()
    dev_mode: bool = True
    startup_timeout: float = 900.0
    log_path: Path | None = None
    executable: Sequence[str] = field(
        default_factory=lambda: [sys.executable, "-m", "vllm.entrypoints.cli.main"]
    )
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        """The full command line (tested without vLLM: it is what a user can run by hand)."""
        cmd = [*self.executable, "serve", self.model, "--host", self.host, "--port", str(self.port)]
        cmd += ["--served-model-name", self.served_model_name]
        cmd += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        cmd += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        if self.max_model_len is not None:
            cmd += ["--max-model-len", str(self.max_model_len)]
        if self.tool_call_parser:
            cmd += ["--enable-auto-tool-choice", "--tool-call-parser", self.tool_call_parser]
        if self.enable_sleep_mode:
            cmd.append("--enable-sleep-mode")
        if self.enable_lora:
            cmd += ["--enable-lora", "--max-lora-rank", str(self.max_lora_rank)]
        if self.weight_transfer_backend:
            cmd += ["--weight-transfer-config", json.dumps({"backend": self.weight_transfer_backend})]
        return [*cmd, *self.extra_args]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.dev_mode:
            env["VLLM_SERVER_DEV_MODE"] = "1"
        if self.enable_lora:
            env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
        return env

    async def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        if self.port == 0:
            self.port = free_port(self.host)
        log_path = self._spawn()
        await self.wait_ready(log_path)

    def _spawn(self) -> Path:
        """Start the process (blocking calls, kept out of the event loop's coroutines)."""
        log_path = self.log_path or Path(os.environ.get("AGL_VLLM_LOG_DIR", ".")) / f"vllm-{self.port}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        command = self.command()
        log.info("starting %s (log: %s)", " ".join(command), log_path)
        if shutil.which(command[0]) is None and not Path(command[0]).exists():
            raise VLLMUnavailableError(f"cannot run {command[0]!r}: {INSTALL}")
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=self.environment()
        )
        return log_path

    async def wait_ready(self, log_path: Path | None = None) -> None:
        """Poll ``/health`` until the server answers, failing at once if the process exits."""
        deadline = time.monotonic() + self.startup_timeout
        health = self.base_url.removesuffix("/v1") + "/health"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while True:
                if self._process is not None and self._process.poll() is not None:
                    tail = _tail(log_path) if log_path else ""
                    raise VLLMUnavailableError(
                        f"vllm serve exited with code {self._process.returncode} before it was ready; "
                        f"last lines of its log:\n{tail}"
                    )
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(health) as response:
                        if response.status == 200:
                            return
                if time.monotonic() > deadline:
                    await self.stop()
                    raise VLLMUnavailableError(
                        f"vllm serve did not answer {health} within {self.startup_timeout:g}s"
                    )
                await asyncio.sleep(1.0)

    async def stop(self, grace: float = 30.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, grace)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._log is not None:
            self._log.close()
            self._log = None


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
