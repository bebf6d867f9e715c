"""``VLLMEngine`` (engine ``vllm``): vLLM's OpenAI-compatible server behind the trainer's proxy.

Three ways to get servers, one way to talk to them (HTTP, see :mod:`.server` for why):

* ``model=...``: start ``vllm serve`` here (sleep mode, runtime LoRA and the development
  endpoints on), stop it on ``close``;
* ``base_url=...`` (comma-separated for several replicas): use servers already running;
* neither: wait until an algorithm attaches its own replicas (:meth:`attach_servers`; the
  ``verl`` algorithm does this with the vLLM servers VERL starts).

Every chat call asks vLLM for ``return_token_ids`` and the sampled tokens' log-probs, and every
response carries ``weights_version``, so the proxy records training-ready spans. Calls go to the
replica with the fewest calls in flight.

Weights from a learner (:meth:`update_weights`):

* a LoRA adapter folder (has ``adapter_config.json``): loaded on every replica as
  ``<name>-v<version>`` (``/v1/load_lora_adapter``); calls then use it; the previous version is
  unloaded (``/v1/unload_lora_adapter``) — one adapter per resources version;
* a full model folder (Hugging Face layout): every replica reloads its weights from it
  (``/collective_rpc`` ``reload_weights``, vLLM's weight reload from disk);
* :class:`NCCLWeights` (tensors on the learner's GPU): vLLM's native weight transfer —
  ``/init_weight_transfer_engine`` once, then ``/start_weight_update``, ``/update_weights``
  while the learner broadcasts over NCCL, ``/finish_weight_update``.

:meth:`sleep` / :meth:`wake_up` (``/sleep?level=``, ``/wake_up``) free the GPU for training.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import orjson

from agentlightning_core.engine import LLMEngine
from agentlightning_core.errors import BackendUnavailableError, InvalidRequestError
from agentlightning_core.proxy.upstream import OpenAIEngine, UpstreamError

from .server import VLLMServer, check_vllm_available


@dataclass
class NCCLWeights:
    """New weights for vLLM's NCCL weight transfer.

    :param names, dtype_names, shapes: the tensors' metadata, in broadcast order (vLLM's
        ``NCCLWeightTransferUpdateInfo``).
    :param broadcast: called while vLLM receives; broadcasts the tensors from the learner
        (``NCCLWeightTransferEngine.trainer_send_weights``) — blocking, run in a thread.
    :param init_info: ``master_address``, ``master_port``, ``world_size`` and ``rank_offset`` of
        the weight-transfer group, sent once per replica before the first update.
    """

    names: list[str]
    dtype_names: list[str]
    shapes: list[list[int]]
    broadcast: Callable[[], None]
    init_info: dict[str, Any] | None = None
    packed: bool = True


class _Replica:
    """One server, with its own connection pool (the core's ``OpenAIEngine``)."""

    def __init__(self, base_url: str, model: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.root = self.base_url.removesuffix("/v1")
        self.client = OpenAIEngine(base_url=self.base_url, model=model, timeout=timeout)
        self.in_flight = 0
        self.transfer_ready = False


class VLLMEngine(LLMEngine):
    """See the module docstring. Options may be strings (``--engine-option k=v``)."""

    name: ClassVar[str] = "vllm"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        *,
        served_model_name: str | None = None,
        enable_sleep_mode: bool | str = True,
        enable_lora: bool | str = False,
        max_lora_rank: int | str = 64,
        lora_name: str = "policy",
        weight_transfer: str | None = None,
        gpu_memory_utilization: float | str = 0.6,
        tensor_parallel_size: int | str = 1,
        max_model_len: int | str | None = None,
        tool_call_parser: str | None = "hermes",
        extra_args: Sequence[str] | str = (),
        timeout: float | str = 600.0,
        top_logprobs: int | str = 0,
        log_dir: str | None = None,
    ) -> None:
        if model and base_url:
            raise InvalidRequestError(
                "engine 'vllm' takes model= (start vllm serve here) or base_url= (use running servers), not both"
            )
        self.model = model or None
        self.model_name = served_model_name or (Path(model).name if model else "default")
        self.timeout = float(timeout)
        self.top_logprobs = int(top_logprobs)
        self.lora_name = lora_name
        self.current_adapter: str | None = None
        self.server: VLLMServer | None = None
        if model:
            args = extra_args.split() if isinstance(extra_args, str) else list(extra_args)
            self.server = VLLMServer(
                model=model,
                served_model_name=self.model_name,
                enable_sleep_mode=_flag(enable_sleep_mode),
                enable_lora=_flag(enable_lora),
                max_lora_rank=int(max_lora_rank),
                weight_transfer_backend=weight_transfer,
                gpu_memory_utilization=float(gpu_memory_utilization),
                tensor_parallel_size=int(tensor_parallel_size),
                max_model_len=int(max_model_len) if max_model_len not in (None, "") else None,
                tool_call_parser=tool_call_parser or None,
                extra_args=args,
                log_path=Path(log_dir) / "vllm.log" if log_dir else None,
            )
        self._replicas: list[_Replica] = []
        if base_url:
            urls = [u.strip() for u in base_url.split(",") if u.strip()]
            for url in urls:
                if not url.startswith(("http://", "https://")):
                    raise InvalidRequestError(
                        f"engine option base_url={url!r} must start with http:// or https://"
                    )
            self._replicas = [_Replica(u, None, self.timeout) for u in urls]
        self._session: aiohttp.ClientSession | None = None
        self._started = False

    def __repr__(self) -> str:
        where = self.model or ",".join(r.base_url for r in self._replicas) or "attached later"
        return f"VLLMEngine({where!r})"

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        if self._started:
            return
        if self.server is not None:
            check_vllm_available(need_gpu=True)
            await self.server.start()
            self._replicas = [_Replica(self.server.base_url, self.model_name, self.timeout)]
            self._route()
        elif self._replicas:
            await self._learn_model_name()
        self._started = True

    async def close(self) -> None:
        for replica in self._replicas:
            await replica.client.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        if self.server is not None:
            await self.server.stop()
        self._started = False

    async def attach_servers(self, base_urls: Sequence[str]) -> None:
        """Use these servers from now on (the ``verl`` algorithm's vLLM replicas)."""
        if self.server is not None:
            raise InvalidRequestError(
                "this vllm engine started its own server (model=...); it cannot attach others"
            )
        for replica in self._replicas:
            await replica.client.close()
        self._replicas = [_Replica(u, None, self.timeout) for u in base_urls]
        await self._learn_model_name()
        self._started = True

    async def _learn_model_name(self) -> None:
        """A server's served name (VERL's replicas serve under the model's local path)."""
        listed = await self._replicas[0].client.models()
        if listed:
            self.model_name = str(listed[0]["id"])
        self._route()

    def _route(self) -> None:
        """Every request goes to the current adapter, else the base model (the request's own
        ``model`` stays in the recorded span)."""
        for replica in self._replicas:
            replica.client.model = self.current_adapter or self.model_name

    # ------------------------------------------------------------------ calls
    def _pick(self) -> _Replica:
        if not self._replicas:
            raise BackendUnavailableError(
                "engine 'vllm' has no server yet: pass model=... to start one, base_url=... to use a running "
                "one, or train with an algorithm that attaches its own (algorithm='verl')"
            )
        return min(self._replicas, key=lambda r: r.in_flight)

    def _chat_body(self, body: dict[str, Any]) -> dict[str, Any]:
        out = {**body, "return_token_ids": True, "logprobs": True}
        out["top_logprobs"] = max(int(body.get("top_logprobs") or 0), self.top_logprobs)
        return out

    def _completion_body(self, body: dict[str, Any]) -> dict[str, Any]:
        out = {**body, "return_token_ids": True}
        out["logprobs"] = max(int(body.get("logprobs") or 0), self.top_logprobs)
        return out

    def _stamp(self, response: dict[str, Any]) -> dict[str, Any]:
        response["weights_version"] = self.weights_version
        return response

    async def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        replica = self._pick()
        replica.in_flight += 1
        try:
            return self._stamp(await replica.client.chat_completions(self._chat_body(body)))
        finally:
            replica.in_flight -= 1

    async def chat_completions_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        replica = self._pick()
        replica.in_flight += 1
        try:
            async for chunk in replica.client.chat_completions_stream(self._chat_body(body)):
                yield self._stamp(chunk) if not chunk.get("choices") else chunk
        finally:
            replica.in_flight -= 1

    async def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        replica = self._pick()
        replica.in_flight += 1
        try:
            return self._stamp(await replica.client.completions(self._completion_body(body)))
        finally:
            replica.in_flight -= 1

    async def models(self) -> list[dict[str, Any]]:
        name = self.current_adapter or self.model_name
        return [{"id": name, "object": "model", "created": 0, "owned_by": "vllm"}]

    # ------------------------------------------------------ control endpoints
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_read=self.timeout)
            )
        return self._session

    async def _control(
        self, replica: _Replica, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        """POST to a server's control endpoint; vLLM's error message becomes ours."""
        data = orjson.dumps(body) if body is not None else b"{}"
        try:
            async with self._http().post(
                replica.root + path, data=data, params=params, headers={"content-type": "application/json"}
            ) as response:
                raw = await response.read()
                if response.status == 404:
                    raise UpstreamError(
                        404,
                        f"{replica.root}{path} is not served: start vLLM with VLLM_SERVER_DEV_MODE=1 "
                        "(and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True for adapters); the engine does this "
                        "for servers it starts",
                    )
                if response.status >= 400:
                    raise UpstreamError(
                        response.status, f"{replica.root}{path} answered {response.status}: {_message(raw)}"
                    )
        except aiohttp.ClientError as exc:
            raise BackendUnavailableError(f"cannot reach vLLM at {replica.root} ({exc})") from exc
        if not raw:
            return None
        with contextlib.suppress(ValueError):
            return orjson.loads(raw)
        return raw.decode("utf-8", "replace")

    async def _all(self, path: str, body: Any = None, params: dict[str, str] | None = None) -> list[Any]:
        self._pick()  # the "no server" error
        return list(await asyncio.gather(*(self._control(r, path, body, params) for r in self._replicas)))

    async def sleep(self, level: int = 1) -> None:
        """Free the GPU: level 1 keeps the weights in CPU memory, level 2 discards them."""
        if level not in (1, 2):
            raise InvalidRequestError(f"sleep level must be 1 or 2, got {level}")
        await self._all("/sleep", params={"level": str(level)})

    async def wake_up(self, tags: Iterable[str] | None = None) -> None:
        """Reload what sleep freed (``tags``: ``weights``, ``kv_cache``; default both)."""
        params = [("tags", t) for t in tags] if tags else None
        for replica in self._replicas:
            await self._control(replica, "/wake_up", params=dict(params) if params else None)

    async def is_sleeping(self) -> bool:
        answers = [await self._get(r, "/is_sleeping") for r in self._replicas]
        return all(bool(a.get("is_sleeping")) for a in answers if isinstance(a, dict))

    async def _get(self, replica: _Replica, path: str) -> Any:
        try:
            async with self._http().get(replica.root + path) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise UpstreamError(
                        response.status, f"{replica.root}{path} answered {response.status}: {_message(raw)}"
                    )
                return orjson.loads(raw)
        except aiohttp.ClientError as exc:
            raise BackendUnavailableError(f"cannot reach vLLM at {replica.root} ({exc})") from exc

    # ---------------------------------------------------------------- weights
    async def update_weights(self, weights: Any, version: int | None = None) -> int:
        """Swap in a learner's weights (see the module docstring); returns the new version."""
        new_version = self.weights_version + 1 if version is None else int(version)
        if isinstance(weights, NCCLWeights):
            await self._nccl_update(weights, new_version)
        elif isinstance(weights, (str, Path)):
            folder = Path(weights)
            if (folder / "adapter_config.json").exists():
                await self.load_adapter(folder, new_version)
            elif (folder / "config.json").exists():
                await self._all(
                    "/collective_rpc", {"method": "reload_weights", "kwargs": {"weights_path": str(folder)}}
                )
            else:
                raise InvalidRequestError(
                    f"update_weights({str(folder)!r}): expected a LoRA adapter folder (adapter_config.json) "
                    "or a Hugging Face model folder (config.json)"
                )
        else:
            raise InvalidRequestError(
                f"engine 'vllm' takes new weights as a folder path or NCCLWeights, not {type(weights).__name__}"
            )
        self.weights_version = new_version
        return new_version

    async def load_adapter(self, folder: str | Path, version: int) -> str:
        """Load a LoRA adapter as ``<lora_name>-v<version>``, route calls to it, unload the old one."""
        name = f"{self.lora_name}-v{version}"
        await self._all("/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(folder)})
        previous, self.current_adapter = self.current_adapter, name
        self._route()
        if previous is not None and previous != name:
            await self._all("/v1/unload_lora_adapter", {"lora_name": previous})
        return name

    async def unload_adapter(self) -> None:
        """Back to the base weights."""
        previous, self.current_adapter = self.current_adapter, None
        self._route()
        if previous is not None:
            await self._all("/v1/unload_lora_adapter", {"lora_name": previous})

    async def _nccl_update(self, weights: NCCLWeights, version: int) -> None:
        for replica in self._replicas:
            if not replica.transfer_ready:
                if weights.init_info is None:
                    raise InvalidRequestError(
                        "the first NCCL weight update needs init_info (the transfer group)"
                    )
                await self._control(replica, "/init_weight_transfer_engine", {"init_info": weights.init_info})
                replica.transfer_ready = True
        await self._all("/start_weight_update", {"is_checkpoint_format": True})
        info = {
            "names": weights.names,
            "dtype_names": weights.dtype_names,
            "shapes": weights.shapes,
            "packed": weights.packed,
        }
        receive = asyncio.ensure_future(self._all("/update_weights", {"update_info": info}))
        await asyncio.to_thread(weights.broadcast)
        await receive
        await self._all("/finish_weight_update")


def _flag(value: bool | str) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() in ("1", "true", "yes", "on")


def _message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:500]
    if isinstance(data, dict):
        error = data.get("error") or data.get("detail") or data.get("message") or data
        if isinstance(error, dict):
            return str(error.get("message", error))
        return str(error)
    return str(data)
