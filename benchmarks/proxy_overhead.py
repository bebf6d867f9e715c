"""LLM proxy overhead: the official ``openai`` client calling an instant upstream, directly and
through the proxy (attributed path, span recording on).

Three processes: an OpenAI-compatible upstream that answers at once (aiohttp.web, a fixed
completion with token ids and log-probs), ``agl serve --engine openai`` pointing at it, and this
one, the agent. Direct and proxied calls alternate so machine load hits both alike. Prints
p50/p99 latency of each, the proxy's added p50, calls/s at 32 concurrent through the proxy,
and checks that every proxied call was recorded as a span.

    python benchmarks/proxy_overhead.py --calls 1000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ANSWER = "The answer is 4."


# ------------------------------------------------------------------------------ upstream
def upstream_main(port_pipe: Any) -> None:
    import orjson
    from aiohttp import web

    body = orjson.dumps(
        {
            "id": "chatcmpl-instant",
            "object": "chat.completion",
            "created": 0,
            "model": "instant",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "finish_reason": "stop",
                    "token_ids": [ord(c) for c in ANSWER],
                    "logprobs": {
                        "content": [
                            {"token": c, "logprob": -0.1, "bytes": [ord(c)], "top_logprobs": []}
                            for c in ANSWER
                        ]
                    },
                }
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": len(ANSWER),
                "total_tokens": 12 + len(ANSWER),
            },
            "prompt_token_ids": list(range(12)),
        }
    )

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_pipe.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


# ------------------------------------------------------------------------------ measuring
async def timed_call(client: Any) -> float:
    start = time.perf_counter()
    response = await client.chat.completions.create(
        model="policy", messages=[{"role": "user", "content": "What is 2+2?"}], logprobs=True
    )
    elapsed = time.perf_counter() - start
    assert response.choices[0].message.content == ANSWER
    return elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def throughput(client: Any, calls: int, concurrency: int) -> float:
    remaining = calls

    async def loop() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await timed_call(client)

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return calls / (time.perf_counter() - start)


async def measure(proxy_url: str, upstream_url: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    import openai

    from agentlightning_core.client import HttpStore
    from agentlightning_core.types import LLM, AttemptStatus, semconv

    async with HttpStore(proxy_url, token=token) as store:
        rollout = await store.enqueue_rollout({"bench": True})
        got = await store.dequeue_rollout("bench")
        assert got is not None
        llm = LLM(endpoint=f"{proxy_url}/v1", model="policy", proxied=True, api_key=token)
        llm = llm.for_attempt(rollout.rollout_id, got.attempt.attempt_id)
        proxied = openai.AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0)
        direct = openai.AsyncOpenAI(base_url=upstream_url, api_key="none", max_retries=0)
        for _ in range(args.warmup):
            await timed_call(direct)
            await timed_call(proxied)
        lat_direct: list[float] = []
        lat_proxy: list[float] = []
        for _ in range(args.calls):
            lat_direct.append(await timed_call(direct))
            lat_proxy.append(await timed_call(proxied))
        direct_rate = await throughput(direct, args.throughput_calls, args.concurrency)
        proxy_rate = await throughput(proxied, args.throughput_calls, args.concurrency)
        await store.update_attempt(rollout.rollout_id, got.attempt.attempt_id, status=AttemptStatus.SUCCEEDED)
        recorded = await store.query_spans(rollout.rollout_id)
        spans = len(recorded)
        upstream_ms = [
            s.attributes[semconv.LLM_LATENCY_MS] for s in recorded[args.warmup : args.warmup + args.calls]
        ]
    expected = args.warmup + args.calls + args.throughput_calls
    if spans != expected:
        raise SystemExit(f"span recording lost calls: {spans} spans for {expected} proxied calls")
    return {
        "direct": lat_direct,
        "proxy": lat_proxy,
        "direct_rate": direct_rate,
        "proxy_rate": proxy_rate,
        "spans": spans,
        "upstream_ms": upstream_ms,
    }


def start_proxy(upstream_url: str, token: str) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": token,
        "EVENT_BUS_BACKEND": "memory",
        "AGL_NO_PLUGIN_COMMANDS": "1",
    }
    agl = str(Path(sys.executable).with_name("agl"))
    cmd = [agl, "serve", "--store", "memory://", "--port", "0", "--engine", "openai"]
    cmd += ["--engine-option", f"base_url={upstream_url}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"agl serve did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000, help="sequential calls each way for latency")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--throughput-calls", type=int, default=2000, help="calls for the calls/s figure")
    args = parser.parse_args()

    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    upstream = ctx.Process(target=upstream_main, args=(send,), daemon=True)
    upstream.start()
    upstream_url = f"http://127.0.0.1:{receive.recv()}/v1"
    token = secrets.token_hex(16)
    proxy, proxy_url = start_proxy(upstream_url, token)
    try:
        try:
            import uvloop

            result = uvloop.run(measure(proxy_url, upstream_url, token, args))
        except ImportError:
            result = asyncio.run(measure(proxy_url, upstream_url, token, args))
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=30)
        upstream.terminate()

    d50, d99 = pct(result["direct"], 0.5), pct(result["direct"], 0.99)
    p50, p99 = pct(result["proxy"], 0.5), pct(result["proxy"], 0.99)
    added = [p - d for p, d in zip(result["proxy"], result["direct"], strict=True)]
    print(f"direct  p50 {d50:.2f} ms  p99 {d99:.2f} ms  ({args.calls} sequential calls)")
    print(f"proxied p50 {p50:.2f} ms  p99 {p99:.2f} ms  (attributed, span recording on)")
    print(
        f"proxy adds p50 {p50 - d50:.2f} ms (median of paired differences {statistics.median(added) * 1000:.2f} ms)"
    )
    print(
        f"inside the proxy the upstream call took p50 {statistics.median(result['upstream_ms']):.2f} ms "
        "(span latency_ms of the sequential calls)"
    )
    print(
        f"calls/s at {args.concurrency} concurrent: direct {result['direct_rate']:.0f}, through the proxy {result['proxy_rate']:.0f}"
    )
    print(f"spans recorded: {result['spans']} (one per proxied call)")
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} (1 min)")
    print(
        "reproduce:",
        shlex.join(
            [
                "python",
                "benchmarks/proxy_overhead.py",
                "--calls",
                str(args.calls),
                "--concurrency",
                str(args.concurrency),
                "--throughput-calls",
                str(args.throughput_calls),
            ]
        ),
    )


if __name__ == "__main__":
    main()
