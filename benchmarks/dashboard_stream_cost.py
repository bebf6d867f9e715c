"""What an open dashboard page costs a training run: ``store_throughput.py`` against one
``agl serve --store memory://``, alternately with no page and with the overview open.

The question of issue 19 is the cost *to the run*, i.e. to the server the trainer and runners
talk to. Two kinds of page, chosen with ``--client``:

* ``http`` (default): the overview page's own traffic, made by a small client in this process —
  log in with the token, hold the page's one SSE stream (``/dashboard/api/stream?page=overview``)
  and refetch ``/dashboard/api/overview`` after a ``change`` message under the page script's rule
  (at most every 2 s, never more often than 100x the last refetch took, at most 10 s apart). The
  server does all it would do for a real browser; nothing renders. In real use the browser runs
  on the user's laptop, not on the training machine.
* ``browser``: the same page in headless chromium on this machine. On a 2-core machine chromium's
  rendering competes with the server and the load generator for CPU, so this measures the
  machine, not only the server.

Each round runs both; every run gets a fresh server (an empty memory store: the server gets
slower as its store grows, which would otherwise count against whichever run comes second), and
the order alternates. Printed per round and as medians: rollouts/s, the server's
CPU seconds per rollout (from ``/proc``; less sensitive to other load than rollouts/s) and what
the page received (stream messages, refetches), so a page that did nothing cannot pass for a
cheap one.

    python benchmarks/dashboard_stream_cost.py                      # --client http, 12 rounds
    python benchmarks/dashboard_stream_cost.py --client browser     # needs Debian's chromium
    python benchmarks/dashboard_stream_cost.py --profile            # + py-spy's share (pip install py-spy)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dashboard_load import start_server, stop  # noqa: E402  (a sibling script, not a package)

PREFIX = "/dashboard"
#: the overview page's refetch rule (``static/app.js``: ``live(..., everyMs=2000)``)
EVERY_S, MAX_S, FACTOR = 2.0, 10.0, 100


#: a server sample is the dashboard's when its stack holds one of these (or is the bus's queue put)
DASHBOARD_FRAMES = ("agentlightning_dashboard", "StreamingResponse")


class HttpPage(AbstractContextManager["HttpPage"]):
    """The overview page's traffic without a browser: its SSE stream and throttled refetches."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.messages = 0
        self.refetches = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._task: asyncio.Task[None] | None = None
        self._live = threading.Event()

    def __enter__(self) -> HttpPage:
        self._thread.start()

        async def start() -> asyncio.Task[None]:
            return asyncio.create_task(self._run())

        self._task = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        if not self._live.wait(30):
            raise SystemExit(f"the dashboard stream did not say 'live' within 30 s: {self._failure()}")
        return self

    def __exit__(self, *exc: object) -> None:
        task = self._task
        assert task is not None

        async def close() -> None:  # cancel, and wait until the stream's connection is closed
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _failure(self) -> str:
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            return repr(task.exception())
        return "no error yet"

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=None) as client:
            login = await client.post(f"{PREFIX}/login", data={"token": self.token})
            if login.status_code != 303:
                raise RuntimeError(f"login answered {login.status_code}")
            pending: asyncio.Task[None] | None = None
            last, last_s = 0.0, 0.0

            async def refetch(wait: float) -> None:
                nonlocal last, last_s
                await asyncio.sleep(wait)
                last = time.monotonic()
                response = await client.get(f"{PREFIX}/api/overview")
                response.raise_for_status()
                last_s = time.monotonic() - last
                self.refetches += 1

            await refetch(0.0)  # the page's first render, before it opens the stream
            try:
                async with client.stream(
                    "GET", f"{PREFIX}/api/stream", params={"page": "overview"}
                ) as stream:
                    async for line in stream.aiter_lines():
                        if not line.startswith("event: "):
                            continue
                        self.messages += 1
                        event = line.removeprefix("event: ")
                        if event == "live":
                            self._live.set()
                        elif event == "change" and (pending is None or pending.done()):
                            every = min(MAX_S, max(EVERY_S, FACTOR * last_s))
                            wait = max(0.0, every - (time.monotonic() - last))
                            pending = asyncio.create_task(refetch(wait))
            finally:
                if pending is not None:
                    pending.cancel()
                    await asyncio.gather(pending, return_exceptions=True)


class BrowserPage(AbstractContextManager["BrowserPage"]):
    """The overview open in a headless chromium tab (Debian's package, driven by Playwright)."""

    messages = refetches = -1  # not observed from outside the browser

    def __init__(self, page: Any, url: str, token: str) -> None:
        self.page, self.url, self.token = page, url, token

    def __enter__(self) -> BrowserPage:
        self.page.goto(f"{self.url}{PREFIX}/login")
        self.page.fill("#token", self.token)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("#live.on")
        return self

    def __exit__(self, *exc: object) -> None:
        self.page.goto("about:blank")


class Profile:
    """py-spy samples of the server, and the share that is the dashboard's.

    A sample counts as the dashboard's when its stack holds a frame of ``agentlightning_dashboard``
    (the overview route and its JSON, the stream), of Starlette's ``StreamingResponse`` (sending
    the stream; the load generator streams nothing) or is the bus handing an event to a
    subscription's queue (without a page the in-memory bus has no subscriber). The no-page runs
    are the control: their share must be 0. It misses the HTTP parsing of the page's one request
    every few seconds and any GC the page causes, so it is a floor, but it does not drown in the
    run-to-run noise that paired throughput figures do on a shared machine.
    """

    def __init__(self) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        self.spy = spy
        self.total = {"no page": 0, "page open": 0}
        self.dashboard = {"no page": 0, "page open": 0}
        self._dir = tempfile.TemporaryDirectory(prefix="agl-stream-cost-")
        self._n = 0

    def record(self, pid: int) -> subprocess.Popen[bytes]:
        self._n += 1
        out = Path(self._dir.name) / f"{self._n}.txt"
        args = ["record", "-p", str(pid), "-f", "raw", "-o", str(out), "-r", "250", "--nonblocking"]
        proc = subprocess.Popen([self.spy, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached before the load starts
        return proc

    def stop(self, proc: subprocess.Popen[bytes], kind: str) -> None:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        for line in (Path(self._dir.name) / f"{self._n}.txt").read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            self.total[kind] += int(count)
            if any(mark in stack for mark in DASHBOARD_FRAMES) or (
                "InMemoryEventBus.publish" in stack and "put_nowait" in stack
            ):
                self.dashboard[kind] += int(count)

    def summary(self) -> str:
        def share(kind: str) -> str:
            pct = 100 * self.dashboard[kind] / max(self.total[kind], 1)
            return f"{kind}: {self.dashboard[kind]:,} of {self.total[kind]:,} server samples ({pct:.2f}%)"

        return (
            "py-spy (every run sampled, so the paired figures stay fair), samples in the dashboard's "
            f"frames (its routes, its stream, the bus's queue put): {share('page open')}; {share('no page')}"
        )


class Server(AbstractContextManager["Server"]):
    """A fresh ``agl serve --store memory://`` per run, so every run starts from an empty store."""

    def __enter__(self) -> Server:
        self.proc, self.url, self.token = start_server("memory://")
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)

    def cpu(self) -> float:
        """CPU seconds the server process has used (user + system), from /proc."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def load(self, rollouts: int) -> tuple[float, float]:
        """``store_throughput.py`` against this server: rollouts/s, and server CPU us per rollout."""
        cmd = [sys.executable, str(HERE / "store_throughput.py"), "--url", self.url, "-R", str(rollouts)]
        cmd += ["-W", "32", "-S", "4", "-P", "1"]
        env = {**os.environ, "AGL_SERVER_TOKEN": self.token}
        cpu = self.cpu()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("rollouts/s:"))
        return float(line.split(":")[1].replace(",", "")), 1e6 * (self.cpu() - cpu) / rollouts


def measure(client: str, rounds: int, rollouts: int, profile: bool = False) -> None:
    rate: dict[str, list[float]] = {"no page": [], "page open": []}
    cpu_us: dict[str, list[float]] = {"no page": [], "page open": []}
    seen = ""
    spy = Profile() if profile else None
    with page_factory(client) as open_page:
        for r in range(rounds):
            order = ["no page", "page open"] if r % 2 == 0 else ["page open", "no page"]
            for kind in order:
                with Server() as server:
                    with (
                        open_page(server.url, server.token) if kind == "page open" else nullcontext() as page
                    ):
                        recording = spy.record(server.proc.pid) if spy else None
                        got = server.load(rollouts)
                        if spy and recording:
                            spy.stop(recording, kind)
                    if page is not None and page.messages >= 0:
                        seen = f"; the page got {page.messages} stream messages, {page.refetches} overview refetches"
                rate[kind].append(got[0])
                cpu_us[kind].append(got[1])
            print(
                f"  round {r + 1} ({order[0]} first): rollouts/s {rate['no page'][-1]:,.0f} without the page, "
                f"{rate['page open'][-1]:,.0f} with it; server CPU {cpu_us['no page'][-1]:,.0f} vs "
                f"{cpu_us['page open'][-1]:,.0f} us per rollout{seen}",
                flush=True,
            )
    report(rate, cpu_us, rollouts)
    if spy:
        print(spy.summary())


def page_factory(client: str) -> AbstractContextManager[Callable[[str, str], Any]]:
    """A context that yields ``open_page(url, token)``: a context manager for one page's lifetime."""
    if client == "http":
        return nullcontext(HttpPage)
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("--client browser needs Debian's chromium: apt-get install -y chromium")
    return _Browser(chromium)


class _Browser(AbstractContextManager[Callable[[str, str], Any]]):
    """One headless chromium tab, reused by every run."""

    def __init__(self, chromium: str) -> None:
        self.chromium = chromium

    def __enter__(self) -> Callable[[str, str], Any]:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        browser = self._pw.chromium.launch(
            executable_path=self.chromium, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page()
        return lambda url, token: BrowserPage(page, url, token)

    def __exit__(self, *exc: object) -> None:
        self._pw.stop()


def report(rate: dict[str, list[float]], cpu_us: dict[str, list[float]], rollouts: int) -> None:
    for name in rate:
        runs, cpu = rate[name], cpu_us[name]
        print(
            f"store_throughput.py -R {rollouts}, {name:<9}: median {statistics.median(runs):,.0f} rollouts/s "
            f"(min {min(runs):,.0f}, max {max(runs):,.0f}); server CPU median {statistics.median(cpu):,.0f} "
            f"us per rollout (min {min(cpu):,.0f}, max {max(cpu):,.0f})"
        )
    slower = sorted(100 * (1 - b / a) for a, b in zip(rate["no page"], rate["page open"], strict=True))
    dearer = sorted(100 * (b / a - 1) for a, b in zip(cpu_us["no page"], cpu_us["page open"], strict=True))
    print(
        f"cost of an open page, paired per round: rollouts/s median {statistics.median(slower):+.1f}% "
        f"(range {slower[0]:+.1f}% .. {slower[-1]:+.1f}%; positive: slower with the page open); "
        f"server CPU per rollout median {statistics.median(dearer):+.1f}% "
        f"(range {dearer[0]:+.1f}% .. {dearer[-1]:+.1f}%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--client", choices=("http", "browser"), default="http")
    parser.add_argument("--rounds", type=int, default=12, help="pairs of runs (order alternates)")
    parser.add_argument("-R", "--rollouts", type=int, default=6000, help="rollouts per run")
    parser.add_argument("--profile", action="store_true", help="also sample the server with py-spy")
    args = parser.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min) at the start")
    measure(args.client, args.rounds, args.rollouts, args.profile)
    print(f"machine: load average {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
