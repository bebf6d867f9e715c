"""Check a deployment end to end: enqueue N rollouts through a server, optionally ``kill -9`` a
process (a server, a runner, a Ray node) once a share of them is done, wait for every rollout to
be final, then check what docs/deploy.md promises: none lost, each succeeded exactly once.

    AGL_SERVER_TOKEN=... python scripts/deploy_check.py http://127.0.0.1:18200 -N 1000 \\
        --kill PID --kill-at 0.3

The rollouts' input is ``{"seconds": S, "i": i}`` (the agent of docs/deploy.md sleeps S seconds);
they are retried when their runner is silent for ``--unresponsive`` seconds. Prints one line of
figures; exits 1 when a promise does not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from agentlightning_core.client import HttpStore
from agentlightning_core.types import AttemptStatus, RolloutConfig, RolloutRequest, RolloutStatus

FINAL = [RolloutStatus.SUCCEEDED, RolloutStatus.FAILED, RolloutStatus.CANCELLED]


async def main(args: argparse.Namespace) -> int:
    config = RolloutConfig(unresponsive_seconds=args.unresponsive, max_attempts=3)
    async with HttpStore(args.url, token=os.environ.get("AGL_SERVER_TOKEN")) as client:
        requests = [
            RolloutRequest(input={"seconds": args.seconds, "i": i}, config=config) for i in range(args.n)
        ]
        start = time.monotonic()
        ids: list[str] = []
        for first in range(0, args.n, 500):
            ids += [r.rollout_id for r in await client.enqueue_rollouts(requests[first : first + 500])]
        killed_at: float | None = None
        while True:
            done = (await client.query_rollouts(rollout_ids=ids, status=FINAL, limit=0)).total
            if args.kill and killed_at is None and done >= args.kill_at * args.n:
                for pid in args.kill:
                    os.kill(pid, signal.SIGKILL)
                killed_at = time.monotonic()
                print(f"kill -9 {' '.join(map(str, args.kill))} at {done}/{args.n} done", flush=True)
            if done >= args.n:
                break
            if time.monotonic() - start > args.timeout:
                print(f"FAIL: {args.n - done} rollouts not final after {args.timeout}s")
                return 1
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - start
        page = await client.query_rollouts(rollout_ids=ids)
        succeeded = sum(r.status is RolloutStatus.SUCCEEDED for r in page.items)
        retried = twice = 0
        for rid in ids:
            attempts = await client.get_attempts(rid)
            retried += len(attempts) > 1
            twice += sum(a.status is AttemptStatus.SUCCEEDED for a in attempts) > 1
    lost = args.n - page.total
    after = f", final {start + elapsed - killed_at:.1f}s after the kill" if killed_at else ""
    print(
        f"{args.n} rollouts in {elapsed:.1f}s ({args.n / elapsed:.0f}/s){after}: {succeeded} succeeded, "
        f"{lost} lost, {retried} retried, {twice} succeeded twice"
    )
    return 0 if succeeded == args.n and lost == 0 and twice == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("-N", dest="n", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=0.05)
    parser.add_argument("--unresponsive", type=float, default=5.0)
    parser.add_argument("--kill", type=int, action="append", default=[], help="pid to kill -9 (repeatable)")
    parser.add_argument("--kill-at", type=float, default=0.3, help="share of rollouts done at the kill")
    parser.add_argument("--timeout", type=float, default=600)
    sys.exit(asyncio.run(main(parser.parse_args())))
