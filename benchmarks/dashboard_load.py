"""The dashboard at scale: 100k rollouts and 1M spans, measured against a real ``agl serve``.

Fills a store through the store API (in this process, no HTTP) with R rollouts of S spans each,
across modes, five resources versions and about 10% failed rollouts, plus one rollout with 200
spans (an agent span over LLM calls with prompts and answers). Then it starts ``agl serve`` on
that store, logs in to the dashboard like a browser and prints, each over N repetitions:

* first meaningful paint of the overview: the page, its script and style sheet and the overview's
  JSON in sequence (the server's share), and, where Debian's chromium is installed, the time a
  real headless browser takes from navigation to the overview's numbers on screen;
* a filtered table page (status + mode, a text search, a resources version, a deep page);
* the rollout detail with 200 spans.

Times are measured by the client over loopback, so they include HTTP and JSON decoding: an upper
bound of the server's time.

    python benchmarks/dashboard_load.py                      # SQLite in a temp dir, 100k / 1M
    python benchmarks/dashboard_load.py --store postgresql+asyncpg://postgres@127.0.0.1/agl_i19_bench
    python benchmarks/dashboard_load.py --db /tmp/agl_dash.db --reuse   # measure an existing fill

What an open page costs a training run (the live stream) is ``benchmarks/dashboard_stream_cost.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from agentlightning_core.runtime.context import AttemptContext
from agentlightning_core.store.base import LightningStore
from agentlightning_core.types import (
    AttemptStatus,
    PromptTemplate,
    RolloutConfig,
    RolloutRequest,
    Span,
    semconv,
)

AGL = str(Path(sys.executable).with_name("agl"))
HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------ fill
async def fill(store: LightningStore, n_rollouts: int, n_spans: int, workers: int) -> str:
    """Fill ``store``; returns the id of the rollout with 200 spans."""
    versions = []
    for v in range(5):
        update = await store.add_resources(
            {"system": PromptTemplate(template=f"You are a calculator (round {v}).\nReply with the number.")}
        )
        versions.append(update.resources_id)
    one_try = RolloutConfig(max_attempts=1)
    started = time.time()
    for start in range(0, n_rollouts, 1000):
        await store.enqueue_rollouts(
            [
                RolloutRequest(
                    input={"question": f"What is {i % 97}+{i % 89}?", "n": i},
                    mode="val" if i % 5 == 0 else "train",
                    resources_id=versions[(i * 5) // n_rollouts],
                    config=one_try,
                )
                for i in range(start, min(n_rollouts, start + 1000))
            ]
        )
    done = [0]

    async def work(w: int) -> None:
        while (got := await store.dequeue_rollout(f"bench-{w}")) is not None:
            ctx = AttemptContext(rollout=got.rollout, attempt=got.attempt, worker_id=f"bench-{w}")
            for i in range(n_spans):
                ctx.record_span(
                    Span(
                        rollout_id=ctx.rollout_id,
                        attempt_id=ctx.attempt_id,
                        name=f"step-{i}",
                        attributes={semconv.SPAN_TYPE: "other", "step": i, "note": "x" * 64},
                    )
                )
            await store.add_spans(ctx.take_pending())
            failed = got.rollout.input["n"] % 10 == 3
            await store.update_attempt(
                ctx.rollout_id,
                ctx.attempt_id,
                status=AttemptStatus.FAILED if failed else AttemptStatus.SUCCEEDED,
                error="wrong answer" if failed else None,
            )
            done[0] += 1
            if done[0] % 10_000 == 0:
                rate = done[0] / (time.time() - started)
                print(f"  filled {done[0]:,} rollouts ({rate:,.0f}/s)", flush=True)

    await asyncio.gather(*(work(w) for w in range(workers)))
    return await add_big_rollout(store)


async def add_big_rollout(store: LightningStore, n: int = 200) -> str:
    rollout = await store.enqueue_rollout({"question": "the rollout with 200 spans"}, mode="train")
    got = await store.dequeue_rollout("bench-big")
    assert got is not None and got.rollout.rollout_id == rollout.rollout_id
    aid = got.attempt.attempt_id
    now = time.time()
    agent = Span(
        rollout_id=rollout.rollout_id,
        attempt_id=aid,
        name="agent",
        start_time=now,
        end_time=now + n * 0.01,
        attributes={semconv.SPAN_TYPE: "agent", semconv.AGENT_NAME: "calculator"},
    )
    spans = [agent]
    for i in range(n - 1):
        spans.append(
            Span(
                rollout_id=rollout.rollout_id,
                attempt_id=aid,
                trace_id=agent.trace_id,
                parent_id=agent.span_id,
                name="gen_ai.chat",
                start_time=now + i * 0.01,
                end_time=now + i * 0.01 + 0.008,
                attributes={
                    semconv.SPAN_TYPE: "llm",
                    semconv.GEN_AI_REQUEST_MODEL: "bench",
                    semconv.GEN_AI_INPUT_TOKENS: 40,
                    semconv.GEN_AI_OUTPUT_TOKENS: 3,
                    semconv.LLM_REQUEST: {
                        "messages": [
                            {"role": "system", "content": "You are a calculator. " * 20},
                            {"role": "user", "content": f"What is {i}+{i}?"},
                        ]
                    },
                    semconv.LLM_RESPONSE: {
                        "choices": [{"message": {"role": "assistant", "content": str(2 * i)}}]
                    },
                    semconv.LLM_PROMPT_TOKEN_IDS: list(range(40)),
                    semconv.LLM_COMPLETION_TOKEN_IDS: [1, 2, 3],
                },
            )
        )
    await store.add_spans(spans)
    await store.update_attempt(rollout.rollout_id, aid, status=AttemptStatus.SUCCEEDED)
    return rollout.rollout_id


async def fill_main(store_url: str, n_rollouts: int, n_spans: int, workers: int) -> str:
    from agentlightning_core import open_store

    store = open_store(store_url)
    async with store:
        stats = await store.statistics()
        if stats["rollouts"]["total"]:
            raise SystemExit(f"{store_url} already holds {stats['rollouts']['total']} rollouts: use --reuse")
        started = time.time()
        big = await fill(store, n_rollouts, n_spans, workers)
        stats = await store.statistics()
        print(
            f"filled: {stats['rollouts']['total']:,} rollouts, {stats['spans']['total']:,} spans "
            f"in {time.time() - started:.0f} s"
        )
        return big


async def find_big(store_url: str) -> str:
    from agentlightning_core import open_store

    store = open_store(store_url)
    async with store:
        page = await store.search_rollouts(text="the rollout with 200 spans", limit=1)
        if not page.items:
            raise SystemExit(f"{store_url} has no rollout with 200 spans: fill it first (drop --reuse)")
        return page.items[0].rollout_id


# ------------------------------------------------------------------------------ serve
def start_server(
    store_url: str, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str, str]:
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": token,
        "EVENT_BUS_BACKEND": "memory",
        "AGL_NO_PLUGIN_COMMANDS": "1",
        "RATE_LIMIT_ENABLED": "false",
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [AGL, "serve", "--store", store_url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"agl serve did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip(), token


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        print("agl serve did not stop within 60 s of SIGTERM; killed", file=sys.stderr)
        proc.kill()
        proc.wait()


def timed(client: httpx.Client, paths: list[str], repeat: int) -> list[float]:
    """Milliseconds per repetition of fetching ``paths`` in sequence (after one warm-up)."""
    out = []
    for i in range(repeat + 1):
        t = time.perf_counter()
        for path in paths:
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")
        if i:
            out.append((time.perf_counter() - t) * 1000)
    return out


def summary(ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})"


def browser_paint(url: str, token: str, repeat: int) -> list[float] | None:
    """Navigation to the overview's numbers on screen, in headless chromium; None without one."""
    import shutil

    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{url}/dashboard/login")
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=count-total]")
        for _ in range(repeat):
            t = time.perf_counter()
            page.goto(f"{url}/dashboard/")
            page.wait_for_selector("[data-testid=count-total]")
            out.append((time.perf_counter() - t) * 1000)
        browser.close()
    return out


def measure(store_url: str, big: str, repeat: int) -> None:
    proc, url, token = start_server(store_url)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.post("/dashboard/login", data={"token": token}).status_code == 303
            stats = client.get("/dashboard/api/backends").json()["store"]
            print(
                f"store: {stats.get('backend')}  rollouts {stats['rollouts']['total']:,}  "
                f"spans {stats['spans']['total']:,}"
            )
            rid = client.get("/dashboard/api/rollouts?resources_id=x").status_code  # warm the route
            assert rid == 200
            versions = client.get("/dashboard/api/resources").json()["versions"]
            middle = versions[len(versions) // 2]["resources_id"]
            paint = [
                "/dashboard/",
                "/dashboard/static/app.js",
                "/dashboard/static/style.css",
                "/dashboard/api/overview",
            ]
            print(
                f"overview, server share of first paint (page + assets + data) {summary(timed(client, paint, repeat))}"
            )
            browser = browser_paint(url, token, max(3, repeat // 2))
            if browser is not None:
                print(f"overview, first meaningful paint in headless chromium        {summary(browser)}")
            else:
                print("overview in a browser: skipped (no chromium / playwright here)")
            tables = {
                "status=failed&mode=val": "/dashboard/api/rollouts?status=failed&mode=val&per_page=50",
                "q=what is 12+ (text search)": "/dashboard/api/rollouts?q=What%20is%2012%2B&per_page=50",
                "resources_id (one version)": f"/dashboard/api/rollouts?resources_id={middle}&per_page=50",
                "page 1000 of everything": "/dashboard/api/rollouts?page=1000&per_page=50",
                "first page of everything": "/dashboard/api/rollouts?per_page=50",
            }
            for name, path in tables.items():
                print(f"table {name:<30} {summary(timed(client, [path], repeat))}")
            print(
                f"rollout detail, 200 spans                {summary(timed(client, [f'/dashboard/api/rollouts/{big}'], repeat))}"
            )
    finally:
        stop(proc)


# ------------------------------------------------------------------------------ throughput
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", help="store URL (default: SQLite file under --db)")
    parser.add_argument("--db", help="SQLite file to fill (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="measure the store as it is, do not fill")
    parser.add_argument("-R", "--rollouts", type=int, default=100_000)
    parser.add_argument("-S", "--spans", type=int, default=10, help="spans per rollout (10: 1M spans)")
    parser.add_argument("-W", "--workers", type=int, default=16, help="concurrent fillers")
    parser.add_argument("-n", "--repeat", type=int, default=20)
    args = parser.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    tmp = None
    store_url = args.store
    if store_url is None:
        if args.db is None:
            tmp = tempfile.TemporaryDirectory(prefix="agl-dashboard-load-")
            args.db = str(Path(tmp.name) / "load.db")
        store_url = f"sqlite:///{args.db}"
    try:
        big = asyncio.run(
            find_big(store_url)
            if args.reuse
            else fill_main(store_url, args.rollouts, args.spans, args.workers)
        )
        measure(store_url, big, args.repeat)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
