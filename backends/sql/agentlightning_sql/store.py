"""``SqlStore``: the LightningStore on SQLite or PostgreSQL.

Each call runs one short transaction from ``transactions.py`` (see there for the locking) through
the store's ``Pools`` (see ``engine.py`` for how each database runs them), then publishes the
events of what changed, after the commit, as the memory store does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, exc, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agentlightning_core.errors import BackendUnavailableError, NotFoundError
from agentlightning_core.pagination import Page
from agentlightning_core.store.base import LATEST, AttemptSelector, LightningStore
from agentlightning_core.store.transitions import validate_page
from agentlightning_core.types import (
    Attempt,
    AttemptedRollout,
    AttemptStatus,
    EventType,
    Resource,
    ResourcesUpdate,
    Rollout,
    RolloutConfig,
    RolloutMode,
    RolloutRequest,
    RolloutStatus,
    Span,
    Topic,
    Worker,
)

from . import migrate
from . import transactions as tx
from .encryption import SecretBox, seal_model, unseal
from .engine import Pools, create_pools
from .rows import dumps, loads
from .schema import attempts, resources, rollouts, spans, workers
from .settings import SqlSettings, load_sql_settings
from .urls import async_url, redacted


class SqlStore(LightningStore):
    """Rollouts, attempts, spans, resources and workers in SQL tables (see ``schema.py``)."""

    def __init__(
        self,
        url: str,
        *,
        settings: SqlSettings | None = None,
        encryption_key: str | None = None,
        watchdog_interval: float | None = None,
        run_migrations: bool = True,
    ) -> None:
        super().__init__()
        if watchdog_interval is not None:
            self.watchdog_interval = watchdog_interval
        self.url = async_url(url)
        self.settings = settings if settings is not None else load_sql_settings()
        if encryption_key is None and self.settings.agl_encryption_key is not None:
            encryption_key = self.settings.agl_encryption_key.get_secret_value()
        self._box = SecretBox(encryption_key)
        self._run_migrations = run_migrations
        self._pools_: Pools | None = None

    @classmethod
    def from_url(cls, url: str) -> SqlStore:
        return cls(url)

    @property
    def dialect(self) -> str:
        return "postgresql" if self.url.get_backend_name() == "postgresql" else "sqlite"

    @property
    def pools(self) -> Pools:
        """Runs transactions on this store's database (also for tests and tools)."""
        if self._pools_ is None:
            raise RuntimeError("the store is not started; use `async with store:` or `await store.start()`")
        return self._pools_

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._started:
            return
        self._pools_ = create_pools(self.url, self.settings)
        try:
            if self._run_migrations:
                await self.migrate()
        except (ConnectionError, TimeoutError, exc.DBAPIError) as error:
            await self._dispose()
            cause = getattr(error, "orig", None) or error
            raise BackendUnavailableError(
                f"cannot open the {self.dialect} store at {redacted(self.url)}: {cause}"
            ) from error
        except BaseException:
            await self._dispose()
            raise
        await super().start()

    async def close(self) -> None:
        await super().close()
        await self._dispose()

    async def _dispose(self) -> None:
        if self._pools_ is not None:
            pools, self._pools_ = self._pools_, None
            await pools.dispose()

    async def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema (what ``start`` does); concurrent starts migrate one at a time."""
        await self.pools.write(_migrate, revision)

    # ------------------------------------------------------------------- rollouts
    async def enqueue_rollouts(self, requests: Sequence[RolloutRequest]) -> list[Rollout]:
        if not requests:
            return []
        wanted = {r.resources_id for r in requests if r.resources_id is not None}
        if wanted:
            found = await self.pools.read(tx.existing_resources, wanted)
            for rid in sorted(wanted - found):
                raise NotFoundError(
                    f"resources_id {rid!r} does not exist; publish it first with add_resources"
                )
        created = [
            Rollout(
                input=r.input,
                mode=r.mode,
                resources_id=r.resources_id,
                config=r.config or RolloutConfig(),
                metadata=dict(r.metadata),
            )
            for r in requests
        ]
        await self.pools.write(tx.enqueue, created)
        for rollout in created:
            await self._publish_rollout(rollout, EventType.ROLLOUT_ENQUEUED)
        return [r.model_copy(deep=True) for r in created]

    async def dequeue_rollout(self, worker_id: str | None = None) -> AttemptedRollout | None:
        if self.pools.is_postgres:
            taken = await self.pools.single(tx.dequeue_in_one_statement, worker_id)
        else:
            taken = await self.pools.write(tx.dequeue, worker_id)
        if taken is None:
            return None
        rollout, attempt = taken
        await self._publish_attempt(attempt, EventType.ATTEMPT_STARTED)
        await self._publish_rollout(rollout)
        return AttemptedRollout(rollout=rollout, attempt=attempt)

    async def get_rollout(self, rollout_id: str) -> Rollout | None:
        return await self.pools.read(tx.get_rollout, rollout_id)

    async def query_rollouts(
        self,
        *,
        status: Sequence[RolloutStatus] | None = None,
        mode: RolloutMode | None = None,
        rollout_ids: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        descending: bool = False,
    ) -> Page[Rollout]:
        validate_page(limit, offset)
        conditions: list[Any] = []
        if status is not None:
            conditions.append(rollouts.c.status.in_([RolloutStatus(s).value for s in status]))
        if mode is not None:
            conditions.append(rollouts.c.mode == mode)
        if rollout_ids is not None:
            conditions.append(rollouts.c.rollout_id.in_(list(dict.fromkeys(rollout_ids))))
        items, total = await self.pools.read(tx.query_rollouts, conditions, descending, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def search_rollouts(
        self,
        *,
        status: Sequence[RolloutStatus] | None = None,
        mode: RolloutMode | None = None,
        resources_id: str | None = None,
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        descending: bool = True,
    ) -> Page[Rollout]:
        """One query: the filters as SQL conditions, ``text`` as a case-insensitive ``LIKE`` on
        the rollout id and the input's stored JSON text (a scan, ~tens of ms at 100k rollouts)."""
        validate_page(limit, offset)
        conditions: list[Any] = []
        if status is not None:
            conditions.append(rollouts.c.status.in_([RolloutStatus(s).value for s in status]))
        if mode is not None:
            conditions.append(rollouts.c.mode == mode)
        if resources_id is not None:
            conditions.append(rollouts.c.resources_id == resources_id)
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            conditions.append(
                rollouts.c.rollout_id.ilike(pattern, escape="\\")
                | rollouts.c.input.ilike(pattern, escape="\\")
            )
        items, total = await self.pools.read(tx.query_rollouts, conditions, descending, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def cancel_rollout(self, rollout_id: str) -> Rollout:
        rollout, changes = await self.pools.write(tx.cancel, rollout_id)
        await self._publish_changes(changes)
        return rollout

    # ------------------------------------------------------------------- attempts
    async def get_attempts(self, rollout_id: str) -> list[Attempt]:
        return await self.pools.read(tx.get_attempts, rollout_id, False)

    async def get_latest_attempt(self, rollout_id: str) -> Attempt | None:
        found = await self.pools.read(tx.get_attempts, rollout_id, True)
        return found[0] if found else None

    async def update_attempt(
        self,
        rollout_id: str,
        attempt_id: str,
        *,
        status: AttemptStatus | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Attempt:
        if self.pools.is_postgres and status is AttemptStatus.SUCCEEDED and error is None and not metadata:
            done = await self.pools.single(tx.finish_succeeded, rollout_id, attempt_id)
            if done is not None:  # the common end of a rollout, in one autocommit statement
                await self._publish_changes(done[1])
                return done[0]
        attempt, changes = await self.pools.write(
            tx.update_attempt, rollout_id, attempt_id, status, error, metadata
        )
        await self._publish_changes(changes)
        return attempt

    async def heartbeat(self, rollout_id: str, attempt_id: str) -> Attempt:
        if self.pools.is_postgres:  # the common case in one autocommit statement
            running = await self.pools.single(tx.heartbeat_running, rollout_id, attempt_id)
            if running is not None:
                return running
        attempt, changes = await self.pools.write(tx.heartbeat, rollout_id, attempt_id)
        await self._publish_changes(changes)
        return attempt

    # ---------------------------------------------------------------------- spans
    async def add_spans(self, spans_: Sequence[Span]) -> list[Span]:
        if not spans_:
            return []
        first = spans_[0]
        if (
            self.pools.is_postgres
            and all(s.attempt_id == first.attempt_id and s.rollout_id == first.rollout_id for s in spans_)
            and all(s.sequence_id is None for s in spans_)
        ):  # the common batch: two autocommit statements, no transaction round trips
            fast = await self.pools.single(tx.add_spans_of_running_attempt, list(spans_))
            if fast is not None:
                return fast
        stored, changes = await self.pools.write(tx.add_spans, list(spans_))
        await self._publish_changes(changes)
        return stored

    async def query_spans(
        self,
        rollout_id: str,
        *,
        attempt_id: AttemptSelector = None,
        name: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Span]:
        validate_page(limit, offset)
        latest = attempt_id == LATEST
        return await self.pools.read(
            tx.query_spans, rollout_id, None if latest else attempt_id, latest, name, limit, offset
        )

    # ------------------------------------------------------------------ resources
    async def add_resources(self, resources_: Mapping[str, Resource]) -> ResourcesUpdate:
        update = ResourcesUpdate(resources=dict(resources_))
        update = ResourcesUpdate.model_validate(update.model_dump())  # validate & detach from caller
        sealed = {
            name: seal_model(res, self._box, f"resource {name!r} ({res.resource_type})")
            for name, res in update.resources.items()
        }
        update.version = await self.pools.write(
            tx.add_resources, update.resources_id, update.create_time, dumps(sealed)
        )
        await self._publish(
            Topic.RESOURCES,
            EventType.RESOURCES_UPDATED,
            {"resources_id": update.resources_id, "version": update.version},
        )
        return update

    async def get_resources(self, resources_id: str | None = None) -> ResourcesUpdate | None:
        def read(conn: Connection) -> Any:
            stmt = select(resources)
            if resources_id is not None:
                stmt = stmt.where(resources.c.resources_id == resources_id)
            else:
                stmt = stmt.order_by(resources.c.version.desc()).limit(1)
            return conn.execute(stmt).mappings().first()

        row = await self.pools.read(read)
        return self._resources_from_row(row) if row is not None else None

    async def query_resources(self, *, limit: int | None = None, offset: int = 0) -> Page[ResourcesUpdate]:
        validate_page(limit, offset)

        def read(conn: Connection) -> tuple[int, list[Any]]:
            total = int(conn.execute(select(func.count()).select_from(resources)).scalar_one())
            if limit == 0:
                return total, []
            stmt = select(resources).order_by(resources.c.version).offset(offset).limit(limit)
            return total, list(conn.execute(stmt).mappings())

        total, rows = await self.pools.read(read)
        return Page(
            items=[self._resources_from_row(r) for r in rows], total=total, limit=limit, offset=offset
        )

    def _resources_from_row(self, row: Mapping[str, Any]) -> ResourcesUpdate:
        return ResourcesUpdate.model_validate(
            {
                "resources_id": row["resources_id"],
                "version": row["version"],
                "create_time": row["create_time"],
                "resources": unseal(loads(row["data"]), self._box),
            }
        )

    # -------------------------------------------------------------------- workers
    async def update_worker(self, worker: Worker) -> Worker:
        stored = worker.model_copy(deep=True)
        builder = pg_insert if self.pools.is_postgres else sqlite_insert
        upsert = builder(workers).values(worker_id=stored.worker_id, data=stored.model_dump_json())
        upsert = upsert.on_conflict_do_update(
            index_elements=["worker_id"], set_={"data": upsert.excluded.data}
        )
        await self.pools.write(_execute, upsert)
        await self._publish(
            Topic.WORKERS,
            EventType.WORKER_UPDATED,
            {"worker_id": stored.worker_id, "status": stored.status.value},
        )
        return stored.model_copy(deep=True)

    async def query_workers(self) -> list[Worker]:
        def read(conn: Connection) -> list[str]:
            return list(conn.execute(select(workers.c.data).order_by(workers.c.worker_id)).scalars())

        return [Worker.model_validate_json(d) for d in await self.pools.read(read)]

    # -------------------------------------------------------------------- watchdog
    async def sweep(self, now: float | None = None) -> list[Attempt]:
        now = time.time() if now is None else now
        ended: list[Attempt] = []
        default = self.default_unresponsive_seconds
        for rollout_id, attempt_id in await self.pools.read(tx.sweep_candidates, now, default):
            changes = await self.pools.write(tx.sweep_one, rollout_id, attempt_id, now, default)
            ended.extend(changes.attempts)
            await self._publish_changes(changes)
        return ended

    # ----------------------------------------------------------------- statistics
    async def statistics(self) -> dict[str, Any]:
        stats = await self.pools.read(_statistics)
        return {
            "backend": self.dialect,
            "database": redacted(self.url),
            "schema_revision": migrate.head_revision(),
            **stats,
            "pool": self.pools.statistics(),
            "encryption": {"key_configured": self._box.has_key},
        }

    # ------------------------------------------------------------------------ waits
    async def wait_for_rollouts(
        self, rollout_ids: Sequence[str], timeout: float | None = None
    ) -> list[Rollout]:
        """Like the base class, but a wake-up costs no query: a final status never changes, so an
        event saying "final" is enough. The database is asked at the start, on each safety
        re-check (changes by another process whose events this bus does not carry), and once at
        the end for the rollouts themselves."""
        ids = list(dict.fromkeys(rollout_ids))
        deadline = None if timeout is None else time.monotonic() + timeout
        subscription = self.bus.subscribe([Topic.ROLLOUTS]) if self.bus is not None else None
        try:
            if subscription is not None:
                await subscription.ready()
            known, pending = await self.pools.read(tx.unfinished, ids)
            if len(known) < len(ids):
                missing = next(rid for rid in ids if rid not in known)
                raise NotFoundError(f"rollout {missing!r} does not exist")
            while pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                if subscription is None:  # no bus: poll
                    await asyncio.sleep(0.05 if left is None else min(0.05, left))
                else:
                    recheck_at = time.monotonic() + (
                        self.wait_recheck_interval if left is None else min(left, self.wait_recheck_interval)
                    )
                    while pending and (wait := recheck_at - time.monotonic()) > 0:
                        event = await subscription.get(timeout=wait)
                        if event is None:
                            break
                        if event.payload.get("status") in tx.FINAL_ROLLOUT:
                            pending.discard(event.payload.get("rollout_id", ""))
                if pending:
                    _, pending = await self.pools.read(tx.unfinished, list(pending))
        finally:
            if subscription is not None:
                await subscription.close()
        final = [RolloutStatus(s) for s in tx.FINAL_ROLLOUT]
        page = await self.query_rollouts(rollout_ids=ids, status=final)
        order = {rid: i for i, rid in enumerate(ids)}
        return sorted(page.items, key=lambda r: order[r.rollout_id])

    # -------------------------------------------------------------------- internals
    async def _publish_changes(self, changes: tx.Changes) -> None:
        for attempt in changes.attempts:
            await self._publish_attempt(attempt)
        for rollout in changes.rollouts:
            await self._publish_rollout(rollout)


def _execute(conn: Connection, statement: Any) -> None:
    conn.execute(statement)


def _migrate(conn: Connection, revision: str) -> None:
    if conn.dialect.name == "postgresql":  # two servers starting together: one migrates, then the other
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": migrate.ADVISORY_LOCK_KEY})
    migrate.upgrade(conn, revision)


def _statistics(conn: Connection) -> dict[str, Any]:
    by_status = {
        s: int(n)
        for s, n in conn.execute(select(rollouts.c.status, func.count()).group_by(rollouts.c.status))
    }
    attempt_status = {
        s: int(n)
        for s, n in conn.execute(select(attempts.c.status, func.count()).group_by(attempts.c.status))
    }
    span_total = int(conn.execute(select(func.count()).select_from(spans)).scalar_one())
    versions, latest = conn.execute(
        select(func.count(), func.max(resources.c.version)).select_from(resources)
    ).one()
    latest_id = None
    if latest is not None:
        latest_id = conn.execute(
            select(resources.c.resources_id).where(resources.c.version == latest)
        ).scalar_one()
    return {
        "rollouts": {
            "total": sum(by_status.values()),
            **by_status,
            "queued": by_status.get(RolloutStatus.QUEUED.value, 0),
        },
        "attempts": {"total": sum(attempt_status.values()), **attempt_status},
        "spans": {"total": span_total},
        "resources": {"versions": int(versions), "latest": latest_id},
        "workers": {"total": int(conn.execute(select(func.count()).select_from(workers)).scalar_one())},
    }
