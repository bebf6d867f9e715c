"""The ``vllm`` engine's HTTP and process logic, against a FAKE vLLM server (``fake_vllm.py``:
vLLM 0.24's wire format, not vLLM — vLLM needs a CUDA GPU and is not installed here).

What is real: the engine, the trainer's proxy and store, the openai client, the recorded spans,
the subprocess start/stop. What is not: the model (the fake decides the tokens) and the NCCL
data plane of a weight transfer (only its HTTP control plane is exercised).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from agentlightning_vllm import NCCLWeights, VLLMEngine, VLLMServer, VLLMUnavailableError
from fake_vllm import LOGPROB, FakeVLLM, ids

from agentlightning_core import LLM, rollout
from agentlightning_core.errors import BackendUnavailableError, InvalidRequestError
from agentlightning_core.proxy.upstream import UpstreamError
from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.types import semconv

FAKE = Path(__file__).with_name("fake_vllm.py")


@pytest.fixture
async def fake() -> AsyncIterator[FakeVLLM]:
    server = FakeVLLM(model="Qwen/Qwen2.5-1.5B-Instruct")
    async with server.serve():
        yield server


@rollout
async def two_agents(task: dict[str, str], llm: LLM) -> float:
    """Plain openai client, two agents named by header, one call streamed."""
    client = openai.AsyncOpenAI(base_url=llm.endpoint, api_key="x", max_retries=0)
    first = await client.chat.completions.create(
        model=llm.model,
        messages=[{"role": "user", "content": task["q"]}],
        extra_headers={"X-AGL-Agent": "solver"},
    )
    stream = await client.chat.completions.create(
        model=llm.model,
        messages=[{"role": "user", "content": f"check {first.choices[0].message.content}"}],
        stream=True,
        extra_headers={"X-AGL-Agent": "checker"},
    )
    async for _chunk in stream:
        pass
    return 1.0


async def test_every_call_through_the_proxy_records_vllm_token_ids_logprobs_and_weights_version(
    fake: FakeVLLM,
) -> None:
    engine = VLLMEngine(base_url=fake.url)
    engine.weights_version = 7
    async with ProxyHarness(engine) as harness:
        [result] = await harness.run(two_agents, [{"q": "2+2"}])
    assert engine.model_name == "Qwen/Qwen2.5-1.5B-Instruct"  # learned from /v1/models
    chat_calls = [body for kind, body in fake.calls if kind == "chat"]
    assert len(chat_calls) == 2
    for body in chat_calls:  # what vLLM needs to return ids and log-probs
        assert body["return_token_ids"] is True and body["logprobs"] is True and body["top_logprobs"] == 0
        assert body["model"] == "Qwen/Qwen2.5-1.5B-Instruct"
    triplets = result.triplets()
    assert [t.agent_name for t in triplets] == ["solver", "checker"]
    for body, t in zip(chat_calls, triplets, strict=True):
        assert t.prompt_token_ids == ids(json.dumps(body["messages"]))
        answer = "ok[Qwen/Qwen2.5-1.5B-Instruct]"
        assert t.response_token_ids == ids(answer)  # the streamed call's deltas joined
        assert t.response_logprobs == [LOGPROB] * len(answer)
        assert t.weights_version == 7
    spans = result.spans_of_type("llm")
    assert all(s.attributes[semconv.LLM_WEIGHTS_VERSION] == 7 for s in spans)


async def test_completions_get_token_ids_and_logprobs(fake: FakeVLLM) -> None:
    engine = VLLMEngine(base_url=fake.url)
    await engine.start()
    try:
        response = await engine.completions({"prompt": "1+1=", "max_tokens": 2})
    finally:
        await engine.close()
    [(kind, body)] = [c for c in fake.calls if c[0] == "completions"]
    assert body["return_token_ids"] is True and body["logprobs"] == 0
    choice = response["choices"][0]
    assert choice["token_ids"] == ids("ok") and choice["prompt_token_ids"] == ids("1+1=")
    assert choice["logprobs"]["token_logprobs"] == [LOGPROB, LOGPROB]


async def test_attached_replicas_share_the_calls() -> None:
    a, b = FakeVLLM(model="/models/policy"), FakeVLLM(model="/models/policy")
    async with a.serve() as url_a, b.serve() as url_b:
        engine = VLLMEngine()
        with pytest.raises(BackendUnavailableError, match="algorithm='verl'"):
            await engine.chat_completions({"messages": []})
        await engine.attach_servers([url_a, url_b])
        assert engine.model_name == "/models/policy"
        import asyncio

        await asyncio.gather(
            *(engine.chat_completions({"messages": [{"role": "user", "content": str(i)}]}) for i in range(6))
        )
        await engine.close()
    assert len(a.calls) == 3 and len(b.calls) == 3  # least-in-flight over two idle replicas alternates


async def test_lora_adapter_per_resources_version(fake: FakeVLLM, tmp_path: Path) -> None:
    for v in (1, 2):
        (tmp_path / f"v{v}").mkdir()
        (tmp_path / f"v{v}" / "adapter_config.json").write_text('{"r": 8}')
    engine = VLLMEngine(base_url=fake.url)
    await engine.start()
    try:
        assert await engine.update_weights(str(tmp_path / "v1"), version=1) == 1
        assert fake.adapters == {"policy-v1": str(tmp_path / "v1")}
        r1 = await engine.chat_completions({"messages": [{"role": "user", "content": "hi"}]})
        assert r1["model"] == "policy-v1" and r1["weights_version"] == 1
        assert await engine.update_weights(tmp_path / "v2") == 2  # version defaults to the next one
        assert fake.adapters == {"policy-v2": str(tmp_path / "v2")}  # v1 unloaded
        r2 = await engine.chat_completions({"messages": [{"role": "user", "content": "hi"}]})
        assert r2["model"] == "policy-v2" and r2["weights_version"] == 2
        assert (await engine.models())[0]["id"] == "policy-v2"
        await engine.unload_adapter()
        assert fake.adapters == {}
        r3 = await engine.chat_completions({"messages": [{"role": "user", "content": "hi"}]})
        assert r3["model"] == "Qwen/Qwen2.5-1.5B-Instruct"
    finally:
        await engine.close()
    kinds = [k for k, _ in fake.calls if "lora" in k]
    assert kinds == ["load_lora_adapter", "load_lora_adapter", "unload_lora_adapter", "unload_lora_adapter"]


async def test_full_weights_reload_from_a_model_folder(fake: FakeVLLM, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    engine = VLLMEngine(base_url=fake.url)
    await engine.start()
    try:
        assert await engine.update_weights(str(tmp_path), version=5) == 5
        with pytest.raises(InvalidRequestError, match="adapter_config.json"):
            await engine.update_weights(str(tmp_path / "missing"))
        with pytest.raises(InvalidRequestError, match="NCCLWeights"):
            await engine.update_weights({"w": 1})
    finally:
        await engine.close()
    assert fake.weights_path == str(tmp_path)
    assert (
        "collective_rpc",
        {"method": "reload_weights", "kwargs": {"weights_path": str(tmp_path)}},
    ) in fake.calls
    assert engine.weights_version == 5


async def test_nccl_weight_transfer_control_plane(fake: FakeVLLM) -> None:
    """The HTTP sequence of vLLM's weight transfer around the learner's broadcast. The broadcast
    here is a recorder: the NCCL data plane needs GPUs and is not run here."""
    broadcasts: list[list[str]] = []
    weights = NCCLWeights(
        names=["model.embed_tokens.weight"],
        dtype_names=["bfloat16"],
        shapes=[[151936, 1536]],
        broadcast=lambda: broadcasts.append(list(fake.transfer)),
        init_info={"master_address": "127.0.0.1", "master_port": 29555, "world_size": 2, "rank_offset": 1},
    )
    engine = VLLMEngine(base_url=fake.url)
    await engine.start()
    try:
        await engine.update_weights(weights, version=1)
        await engine.update_weights(weights, version=2)  # the group is set up once
    finally:
        await engine.close()
    assert fake.transfer == [
        "init_weight_transfer_engine",
        "start_weight_update",
        "update_weights",
        "finish_weight_update",
        "start_weight_update",
        "update_weights",
        "finish_weight_update",
    ]
    update = next(body for kind, body in fake.calls if kind == "update_weights")
    assert update["update_info"]["names"] == ["model.embed_tokens.weight"]
    assert update["update_info"]["shapes"] == [[151936, 1536]]
    assert len(broadcasts) == 2 and broadcasts[0][-1] in ("start_weight_update", "update_weights")


async def test_sleep_and_wake_up(fake: FakeVLLM) -> None:
    engine = VLLMEngine(base_url=fake.url)
    await engine.start()
    try:
        await engine.sleep(level=1)
        assert await engine.is_sleeping()
        with pytest.raises(UpstreamError) as info:
            await engine.chat_completions({"messages": []})
        assert info.value.status_code == 503
        await engine.wake_up()
        assert not await engine.is_sleeping()
        with pytest.raises(InvalidRequestError, match="level"):
            await engine.sleep(level=3)
        assert (await engine.chat_completions({"messages": []}))["choices"]
    finally:
        await engine.close()
    assert ("sleep", {"level": "1"}) in fake.calls


async def test_development_endpoints_missing_is_a_clear_error() -> None:
    plain = FakeVLLM(dev_mode=False, runtime_lora=False)
    async with plain.serve() as url:
        engine = VLLMEngine(base_url=url)
        await engine.start()
        try:
            with pytest.raises(UpstreamError, match="VLLM_SERVER_DEV_MODE=1"):
                await engine.sleep()
        finally:
            await engine.close()


def test_options_are_checked() -> None:
    with pytest.raises(InvalidRequestError, match="not both"):
        VLLMEngine(model="m", base_url="http://x/v1")
    with pytest.raises(InvalidRequestError, match="http://"):
        VLLMEngine(base_url="localhost:8000/v1")


async def test_without_vllm_installed_start_fails_with_the_install_command() -> None:
    pytest.importorskip("torch")
    if _vllm_installed():
        pytest.skip("vllm is installed here")
    engine = VLLMEngine(model="Qwen/Qwen2.5-1.5B-Instruct")
    with pytest.raises(VLLMUnavailableError, match=r'pip install "agentlightning-vllm\[vllm\]"'):
        await engine.start()


def test_without_a_gpu_the_error_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM importable (a stand-in package: the real one is not installed here) on this machine's
    real torch, which sees no GPU."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    from agentlightning_vllm import check_vllm_available

    with pytest.raises(VLLMUnavailableError, match="no visible|none visible"):
        check_vllm_available(need_gpu=True)


def _vllm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


# ------------------------------------------------------------ the server process
def _server(tmp_path: Path, *extra: str) -> VLLMServer:
    return VLLMServer(
        model="/models/policy",
        served_model_name="policy",
        enable_lora=True,
        weight_transfer_backend="nccl",
        extra_args=list(extra),
        startup_timeout=60,
        log_path=tmp_path / "vllm.log",
        executable=[sys.executable, str(FAKE)],
    )


def test_the_command_line_is_what_vllm_serve_takes(tmp_path: Path) -> None:
    server = _server(tmp_path, "--enforce-eager")
    server.port = 8011
    cmd = server.command()
    assert cmd[2:5] == ["serve", "/models/policy", "--host"]
    for flag, value in (
        ("--port", "8011"),
        ("--served-model-name", "policy"),
        ("--gpu-memory-utilization", "0.6"),
        ("--max-lora-rank", "64"),
        ("--weight-transfer-config", '{"backend": "nccl"}'),
        ("--tool-call-parser", "hermes"),
    ):
        assert cmd[cmd.index(flag) + 1] == value
    assert "--enable-sleep-mode" in cmd and "--enable-lora" in cmd and "--enable-auto-tool-choice" in cmd
    assert cmd[-1] == "--enforce-eager"
    env = server.environment()
    assert env["VLLM_SERVER_DEV_MODE"] == "1" and env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"


@pytest.mark.slow
async def test_starts_waits_for_health_and_stops_a_server_process(tmp_path: Path) -> None:
    server = _server(tmp_path)
    await server.start()
    try:
        engine = VLLMEngine(base_url=server.base_url)
        await engine.start()
        assert engine.model_name == "policy"
        await engine.sleep()  # dev endpoints on, as the environment asked
        await engine.wake_up()
        await engine.close()
    finally:
        process = server._process
        await server.stop()
    assert process is not None and process.poll() is not None
    assert "fake vllm argv" in (tmp_path / "vllm.log").read_text()


@pytest.mark.slow
async def test_a_server_that_dies_at_start_reports_its_log(tmp_path: Path) -> None:
    server = _server(tmp_path, "--exit-with", "3")
    with pytest.raises(VLLMUnavailableError, match=r"(?s)exited with code 3.*CUDA out of memory \(fake\)"):
        await server.start()
