"""``SqlStore``: the LightningStore on SQLite or PostgreSQL.

Each call is one short transaction. Calls that change a rollout's state lock the rollout's and
the attempt's rows (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the writer transaction
holds the database's write lock), load them as models, apply the shared rules (see
``lifecycle.py``) and write back what changed, so two server processes on one database keep the
same semantics as one memory store. Events are published after the commit.

The hot path stays at a few statements per call: dequeue is one ``UPDATE ... RETURNING`` on the
oldest queued row plus the attempt ``INSERT``; a heartbeat is one ``UPDATE``; a batch of spans
is one counter ``UPDATE`` per attempt plus one multi-row ``INSERT``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, exc, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from agentlightning_core.errors import BackendUnavailableError, NotFoundError
from agentlightning_core.pagination import Page
from agentlightning_core.store.base import LATEST, AttemptSelector, LightningStore
from agentlightning_core.store.transitions import (
    CANCELLED_ERROR,
    check_status_change,
    overdue_status,
    validate_page,
)
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
from .encryption import SecretBox, seal_model, unseal
from .engine import Pools, create_pools
from .lifecycle import decide_rollout, end_attempt, touch
from .rows import (
    ATTEMPT_COLUMNS,
    ROLLOUT_COLUMNS,
    attempt_from_row,
    attempt_values,
    dumps,
    loads,
    rollout_from_row,
    rollout_values,
    span_values,
)
from .schema import QUEUE_SEQUENCE, attempts, resources, rollouts, spans, workers
from .settings import SqlSettings, load_sql_settings
from .urls import async_url, redacted

log = logging.getLogger(__name__)

_RUNNING = AttemptStatus.RUNNING.value
_UNRESPONSIVE = AttemptStatus.UNRESPONSIVE.value
_FINAL_ROLLOUT = [s.value for s in RolloutStatus if s.is_final]


@functools.lru_cache(maxsize=1024)
def _config(text_: str) -> RolloutConfig:
    """Parsed rollout configs for the watchdog's pre-check (read-only use)."""
    return RolloutConfig.model_validate_json(text_)


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
    def _pools(self) -> Pools:
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
            await self._pools_.dispose()
            self._pools_ = None
            cause = getattr(error, "orig", None) or error
            raise BackendUnavailableError(
                f"cannot open the {self.dialect} store at {redacted(self.url)}: {cause}"
            ) from error
        except BaseException:
            await self._pools_.dispose()
            self._pools_ = None
            raise
        await super().start()

    async def close(self) -> None:
        await super().close()
        if self._pools_ is not None:
            await self._pools_.dispose()
            self._pools_ = None

    async def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema (what ``start`` does); concurrent starts migrate one at a time."""
        async with self._pools.write() as conn:
            if self._pools.is_postgres:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": migrate.ADVISORY_LOCK_KEY}
                )
            await conn.run_sync(migrate.upgrade, revision)

    # ------------------------------------------------------------------- rollouts
    async def enqueue_rollouts(self, requests: Sequence[RolloutRequest]) -> list[Rollout]:
        if not requests:
            return []
        wanted = {r.resources_id for r in requests if r.resources_id is not None}
        if wanted:
            async with self._pools.read() as conn:
                found = set(
                    (
                        await conn.execute(
                            select(resources.c.resources_id).where(resources.c.resources_id.in_(wanted))
                        )
                    ).scalars()
                )
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
        async with self._pools.write() as conn:
            positions = await self._next_queue_positions(conn, len(created))
            await conn.execute(
                insert(rollouts),
                [{**rollout_values(r), "queue_seq": pos} for r, pos in zip(created, positions, strict=True)],
            )
        for rollout in created:
            await self._publish_rollout(rollout, EventType.ROLLOUT_ENQUEUED)
        return [r.model_copy(deep=True) for r in created]

    async def dequeue_rollout(self, worker_id: str | None = None) -> AttemptedRollout | None:
        if not self._pools.is_postgres:
            # SQLite: don't take the database's write lock just to find an empty queue
            async with self._pools.read() as conn:
                probe = select(rollouts.c.pk).where(rollouts.c.queue_seq.is_not(None)).limit(1)
                if (await conn.execute(probe)).first() is None:
                    return None
        now = time.time()
        oldest = select(rollouts.c.pk).where(rollouts.c.queue_seq.is_not(None))
        oldest = oldest.order_by(rollouts.c.queue_seq).limit(1)
        if self._pools.is_postgres:
            oldest = oldest.with_for_update(skip_locked=True)
        take = (
            update(rollouts)
            .where(rollouts.c.pk == oldest.scalar_subquery())
            .values(
                status=RolloutStatus.RUNNING.value,
                queue_seq=None,
                num_attempts=rollouts.c.num_attempts + 1,
                start_time=func.coalesce(rollouts.c.start_time, now),
            )
            .returning(*rollouts.c)
        )
        async with self._pools.write() as conn:
            row = (await conn.execute(take)).mappings().first()
            if row is None:
                return None
            rollout = rollout_from_row(row)
            attempt = Attempt(
                rollout_id=rollout.rollout_id,
                sequence=rollout.num_attempts,
                worker_id=worker_id,
                start_time=now,
                last_heartbeat=now,
            )
            await conn.execute(insert(attempts).values(attempt_values(attempt)))
        await self._publish_attempt(attempt, EventType.ATTEMPT_STARTED)
        await self._publish_rollout(rollout)
        return AttemptedRollout(rollout=rollout, attempt=attempt)

    async def get_rollout(self, rollout_id: str) -> Rollout | None:
        async with self._pools.read() as conn:
            row = (
                (await conn.execute(select(rollouts).where(rollouts.c.rollout_id == rollout_id)))
                .mappings()
                .first()
            )
        return rollout_from_row(row) if row is not None else None

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
        conditions = []
        if status is not None:
            conditions.append(rollouts.c.status.in_([RolloutStatus(s).value for s in status]))
        if mode is not None:
            conditions.append(rollouts.c.mode == mode)
        if rollout_ids is not None:
            conditions.append(rollouts.c.rollout_id.in_(list(dict.fromkeys(rollout_ids))))
        order = rollouts.c.pk.desc() if descending else rollouts.c.pk.asc()
        async with self._pools.read() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(rollouts).where(*conditions))
            ).scalar_one()
            items: list[Rollout] = []
            if total > offset and limit != 0:
                stmt = select(rollouts).where(*conditions).order_by(order).offset(offset).limit(limit)
                items = [rollout_from_row(r) for r in (await conn.execute(stmt)).mappings()]
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def cancel_rollout(self, rollout_id: str) -> Rollout:
        now = time.time()
        async with self._pools.write() as conn:
            row = (
                (
                    await conn.execute(
                        select(rollouts).where(rollouts.c.rollout_id == rollout_id).with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFoundError(f"rollout {rollout_id!r} does not exist")
            rollout = rollout_from_row(row)
            if rollout.status.is_final:
                return rollout
            ended = (
                (
                    await conn.execute(
                        update(attempts)
                        .where(
                            attempts.c.rollout_id == rollout_id,
                            attempts.c.status.in_([_RUNNING, _UNRESPONSIVE]),
                        )
                        .values(status=AttemptStatus.FAILED.value, end_time=now, error=CANCELLED_ERROR)
                        .returning(*attempts.c)
                    )
                )
                .mappings()
                .all()
            )
            rollout.status = RolloutStatus.CANCELLED
            rollout.end_time = now
            await conn.execute(
                update(rollouts)
                .where(rollouts.c.rollout_id == rollout_id)
                .values(status=rollout.status.value, end_time=now, queue_seq=None)
            )
        for attempt in sorted((attempt_from_row(r) for r in ended), key=lambda a: a.sequence):
            await self._publish_attempt(attempt)
        await self._publish_rollout(rollout)
        return rollout

    # ------------------------------------------------------------------- attempts
    async def get_attempts(self, rollout_id: str) -> list[Attempt]:
        async with self._pools.read() as conn:
            rows = (
                await conn.execute(
                    select(attempts).where(attempts.c.rollout_id == rollout_id).order_by(attempts.c.sequence)
                )
            ).mappings()
            found = [attempt_from_row(r) for r in rows]
            if not found:
                await self._require_rollout(conn, rollout_id)
        return found

    async def get_latest_attempt(self, rollout_id: str) -> Attempt | None:
        async with self._pools.read() as conn:
            stmt = (
                select(attempts)
                .where(attempts.c.rollout_id == rollout_id)
                .order_by(attempts.c.sequence.desc())
                .limit(1)
            )
            row = (await conn.execute(stmt)).mappings().first()
            if row is None:
                await self._require_rollout(conn, rollout_id)
                return None
        return attempt_from_row(row)

    async def update_attempt(
        self,
        rollout_id: str,
        attempt_id: str,
        *,
        status: AttemptStatus | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Attempt:
        now = time.time()
        attempt_event = False
        async with self._pools.write() as conn:
            rollout, attempt, _ = await self._lock(conn, rollout_id, attempt_id)
            if status is not None:
                check_status_change(attempt, status)
            revived = touch(rollout, attempt, now)
            if metadata:
                attempt.metadata.update(metadata)
            if error is not None:
                attempt.error = error
            rollout_changed = revived
            if status is not None and status is not attempt.status:
                if status is not AttemptStatus.RUNNING:  # RUNNING is only reachable by revival
                    end_attempt(attempt, status, error, now)
                    rollout_changed = decide_rollout(rollout, attempt, now) or rollout_changed
                attempt_event = True
            elif revived:
                attempt_event = True
            await self._save(conn, rollout, attempt, rollout_changed)
        if attempt_event:
            await self._publish_attempt(attempt)
        if rollout_changed:
            await self._publish_rollout(rollout)
        return attempt

    async def heartbeat(self, rollout_id: str, attempt_id: str) -> Attempt:
        now = time.time()
        fast = (
            update(attempts)
            .where(
                attempts.c.attempt_id == attempt_id,
                attempts.c.rollout_id == rollout_id,
                attempts.c.status != _UNRESPONSIVE,
            )
            .values(last_heartbeat=now)
            .returning(*attempts.c)
        )
        async with self._pools.write() as conn:
            row = (await conn.execute(fast)).mappings().first()
            if row is not None:
                return attempt_from_row(row)
            # unknown, or unresponsive: the full rules (revival) under lock
            rollout, attempt, _ = await self._lock(conn, rollout_id, attempt_id)
            revived = touch(rollout, attempt, now)
            await self._save(conn, rollout, attempt, revived)
        if revived:
            await self._publish_attempt(attempt)
            await self._publish_rollout(rollout)
        return attempt

    # ---------------------------------------------------------------------- spans
    async def add_spans(self, spans_: Sequence[Span]) -> list[Span]:
        if not spans_:
            return []
        groups: dict[tuple[str, str], list[int]] = {}
        for index, span in enumerate(spans_):
            groups.setdefault((span.rollout_id, span.attempt_id), []).append(index)
        stored: list[Span | None] = [None] * len(spans_)
        rows: list[dict[str, Any]] = []
        revived: list[tuple[Rollout, Attempt]] = []
        now = time.time()
        async with self._pools.write() as conn:
            for (rollout_id, attempt_id), indexes in groups.items():
                explicit = any(spans_[i].sequence_id is not None for i in indexes)
                reserve = 0 if explicit else len(indexes)
                fast = (
                    update(attempts)
                    .where(
                        attempts.c.attempt_id == attempt_id,
                        attempts.c.rollout_id == rollout_id,
                        attempts.c.status != _UNRESPONSIVE,
                    )
                    .values(last_heartbeat=now, span_seq=attempts.c.span_seq + reserve)
                    .returning(attempts.c.sequence, attempts.c.span_seq)
                )
                row = (await conn.execute(fast)).first()
                if row is not None:
                    attempt_seq, counter = row[0], row[1] - reserve
                    write_counter = explicit
                else:  # unknown, or unresponsive (a late report may revive it)
                    rollout, attempt, counter = await self._lock(conn, rollout_id, attempt_id)
                    if touch(rollout, attempt, now):
                        revived.append((rollout, attempt))
                        await self._save(conn, rollout, attempt, True)
                    else:
                        await self._save(conn, rollout, attempt, False)
                    attempt_seq, write_counter = attempt.sequence, True
                for i in indexes:
                    span = spans_[i]
                    if span.sequence_id is None:
                        counter += 1
                        span = span.model_copy(update={"sequence_id": counter})
                    else:
                        counter = max(counter, span.sequence_id)
                        span = span.model_copy()
                    stored[i] = span
                    rows.append(span_values(span, attempt_seq))
                if write_counter:
                    await conn.execute(
                        update(attempts).where(attempts.c.attempt_id == attempt_id).values(span_seq=counter)
                    )
            await conn.execute(insert(spans), rows)
        for rollout, attempt in revived:
            await self._publish_attempt(attempt)
            await self._publish_rollout(rollout)
        return [s for s in stored if s is not None]

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
        async with self._pools.read() as conn:
            num_attempts = await self._require_rollout(conn, rollout_id)
            conditions = [spans.c.rollout_id == rollout_id]
            if attempt_id == LATEST:
                if num_attempts == 0:
                    return []
                conditions.append(spans.c.attempt_seq == num_attempts)
            elif attempt_id is not None:
                exists = select(attempts.c.sequence).where(
                    attempts.c.attempt_id == attempt_id, attempts.c.rollout_id == rollout_id
                )
                if (await conn.execute(exists)).first() is None:
                    raise NotFoundError(f"attempt {attempt_id!r} of rollout {rollout_id!r} does not exist")
                conditions.append(spans.c.attempt_id == attempt_id)
            if name is not None:
                conditions.append(spans.c.name == name)
            stmt = (
                select(spans.c.data)
                .where(*conditions)
                .order_by(spans.c.attempt_seq, spans.c.sequence_id, spans.c.pk)
                .offset(offset)
                .limit(limit)
            )
            data = (await conn.execute(stmt)).scalars().all()
        return [Span.model_validate_json(d) for d in data]

    # ------------------------------------------------------------------ resources
    async def add_resources(self, resources_: Mapping[str, Resource]) -> ResourcesUpdate:
        update_ = ResourcesUpdate(resources=dict(resources_))
        update_ = ResourcesUpdate.model_validate(update_.model_dump())  # validate & detach from caller
        sealed = {
            name: seal_model(res, self._box, f"resource {name!r} ({res.resource_type})")
            for name, res in update_.resources.items()
        }
        async with self._pools.write() as conn:
            if self._pools.is_postgres:  # versions are max + 1: one publisher at a time
                await conn.execute(text("LOCK TABLE agl_resources IN EXCLUSIVE MODE"))
            latest = (await conn.execute(select(func.max(resources.c.version)))).scalar_one()
            update_.version = (latest or 0) + 1
            await conn.execute(
                insert(resources).values(
                    resources_id=update_.resources_id,
                    version=update_.version,
                    create_time=update_.create_time,
                    data=dumps(sealed),
                )
            )
        await self._publish(
            Topic.RESOURCES,
            EventType.RESOURCES_UPDATED,
            {"resources_id": update_.resources_id, "version": update_.version},
        )
        return update_

    async def get_resources(self, resources_id: str | None = None) -> ResourcesUpdate | None:
        stmt: Select[Any] = select(resources)
        if resources_id is not None:
            stmt = stmt.where(resources.c.resources_id == resources_id)
        else:
            stmt = stmt.order_by(resources.c.version.desc()).limit(1)
        async with self._pools.read() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return self._resources_from_row(row) if row is not None else None

    async def query_resources(self, *, limit: int | None = None, offset: int = 0) -> Page[ResourcesUpdate]:
        validate_page(limit, offset)
        async with self._pools.read() as conn:
            total = (await conn.execute(select(func.count()).select_from(resources))).scalar_one()
            stmt = select(resources).order_by(resources.c.version).offset(offset).limit(limit)
            rows = (await conn.execute(stmt)).mappings().all() if limit != 0 else []
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
        values = {"worker_id": stored.worker_id, "data": stored.model_dump_json()}
        upsert_builder = pg_insert if self._pools.is_postgres else sqlite_insert
        upsert = upsert_builder(workers).values(values)
        upsert = upsert.on_conflict_do_update(index_elements=["worker_id"], set_={"data": upsert.excluded.data})
        async with self._pools.write() as conn:
            await conn.execute(upsert)
        await self._publish(
            Topic.WORKERS,
            EventType.WORKER_UPDATED,
            {"worker_id": stored.worker_id, "status": stored.status.value},
        )
        return stored.model_copy(deep=True)

    async def query_workers(self) -> list[Worker]:
        async with self._pools.read() as conn:
            data = (await conn.execute(select(workers.c.data).order_by(workers.c.worker_id))).scalars().all()
        return [Worker.model_validate_json(d) for d in data]

    # -------------------------------------------------------------------- watchdog
    async def sweep(self, now: float | None = None) -> list[Attempt]:
        now = time.time() if now is None else now
        candidates = (
            select(
                attempts.c.attempt_id,
                attempts.c.rollout_id,
                attempts.c.sequence,
                attempts.c.start_time,
                attempts.c.last_heartbeat,
                rollouts.c.config,
            )
            .select_from(attempts.join(rollouts, rollouts.c.rollout_id == attempts.c.rollout_id))
            .where(attempts.c.status == _RUNNING)
        )
        async with self._pools.read() as conn:
            rows = (await conn.execute(candidates)).all()
        due = []
        for attempt_id, rollout_id, sequence, start_time, last_heartbeat, config in rows:
            probe_rollout = Rollout(rollout_id=rollout_id, config=_config(config))
            probe_attempt = Attempt(
                rollout_id=rollout_id,
                attempt_id=attempt_id,
                sequence=sequence,
                start_time=start_time,
                last_heartbeat=last_heartbeat,
            )
            if overdue_status(probe_rollout, probe_attempt, now) is not None:
                due.append((rollout_id, attempt_id))
        ended: list[tuple[Rollout, Attempt, bool]] = []
        for rollout_id, attempt_id in due:
            async with self._pools.write() as conn:
                rollout, attempt, _ = await self._lock(conn, rollout_id, attempt_id)
                verdict = overdue_status(rollout, attempt, now)  # decided again on the locked rows
                if verdict is None:
                    continue
                end_attempt(attempt, verdict, f"watchdog: attempt {verdict.value}", now)
                changed = decide_rollout(rollout, attempt, now)
                await self._save(conn, rollout, attempt, changed)
            ended.append((rollout, attempt, changed))
        for rollout, attempt, changed in ended:
            await self._publish_attempt(attempt)
            if changed:
                await self._publish_rollout(rollout)
        return [attempt for _, attempt, _ in ended]

    # ----------------------------------------------------------------- statistics
    async def statistics(self) -> dict[str, Any]:
        async with self._pools.read() as conn:
            by_status = dict(
                (await conn.execute(select(rollouts.c.status, func.count()).group_by(rollouts.c.status))).all()
            )
            attempt_status = dict(
                (await conn.execute(select(attempts.c.status, func.count()).group_by(attempts.c.status))).all()
            )
            span_total = (await conn.execute(select(func.count()).select_from(spans))).scalar_one()
            versions, latest = (
                await conn.execute(select(func.count(), func.max(resources.c.version)).select_from(resources))
            ).one()
            latest_id = None
            if latest is not None:
                latest_id = (
                    await conn.execute(select(resources.c.resources_id).where(resources.c.version == latest))
                ).scalar_one()
            worker_total = (await conn.execute(select(func.count()).select_from(workers))).scalar_one()
        return {
            "backend": self.dialect,
            "database": redacted(self.url),
            "schema_revision": migrate.head_revision(),
            "rollouts": {
                "total": sum(by_status.values()),
                **by_status,
                "queued": by_status.get(RolloutStatus.QUEUED.value, 0),
            },
            "attempts": {"total": sum(attempt_status.values()), **attempt_status},
            "spans": {"total": span_total},
            "resources": {"versions": versions, "latest": latest_id},
            "workers": {"total": worker_total},
            "pool": self._pools.statistics(),
            "encryption": {"key_configured": self._box.has_key},
        }

    # ------------------------------------------------------------------------ waits
    async def wait_for_rollouts(
        self, rollout_ids: Sequence[str], timeout: float | None = None
    ) -> list[Rollout]:
        """Like the base class, but each wake-up costs no query: a final status never changes,
        so an event saying "final" is enough; the database is asked again only on the safety
        re-check (another process with no shared bus) and once at the end."""
        ids = list(dict.fromkeys(rollout_ids))
        deadline = None if timeout is None else time.monotonic() + timeout
        subscription = self.bus.subscribe([Topic.ROLLOUTS]) if self.bus is not None else None
        try:
            if subscription is not None:
                await subscription.ready()
            pending = await self._unfinished(ids, check_exist=True)
            while pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                if subscription is None:
                    await asyncio.sleep(min(0.05, left) if left is not None else 0.05)
                    pending = await self._unfinished(list(pending))
                    continue
                recheck = self.wait_recheck_interval if left is None else min(left, self.wait_recheck_interval)
                recheck_at = time.monotonic() + recheck
                while pending and (wait := recheck_at - time.monotonic()) > 0:
                    event = await subscription.get(timeout=wait)
                    if event is None:
                        break
                    if event.payload.get("status") in _FINAL_ROLLOUT:
                        pending.discard(event.payload.get("rollout_id", ""))
                if pending:
                    pending = await self._unfinished(list(pending))
        finally:
            if subscription is not None:
                await subscription.close()
        page = await self.query_rollouts(rollout_ids=ids, status=[RolloutStatus(s) for s in _FINAL_ROLLOUT])
        order = {rid: i for i, rid in enumerate(ids)}
        return sorted(page.items, key=lambda r: order[r.rollout_id])

    async def _unfinished(self, ids: list[str], check_exist: bool = False) -> set[str]:
        async with self._pools.read() as conn:
            rows = (
                await conn.execute(
                    select(rollouts.c.rollout_id, rollouts.c.status).where(rollouts.c.rollout_id.in_(ids))
                )
            ).all()
        if check_exist and len(rows) < len(ids):
            known = {r[0] for r in rows}
            missing = next(rid for rid in ids if rid not in known)
            raise NotFoundError(f"rollout {missing!r} does not exist")
        return {rid for rid, status in rows if status not in _FINAL_ROLLOUT}

    # -------------------------------------------------------------------- internals
    async def _require_rollout(self, conn: AsyncConnection, rollout_id: str) -> int:
        """The rollout's ``num_attempts``; ``NotFoundError`` if it does not exist."""
        stmt = select(rollouts.c.num_attempts).where(rollouts.c.rollout_id == rollout_id)
        found = (await conn.execute(stmt)).first()
        if found is None:
            raise NotFoundError(f"rollout {rollout_id!r} does not exist")
        return int(found[0])

    async def _lock(self, conn: AsyncConnection, rollout_id: str, attempt_id: str) -> tuple[Rollout, Attempt, int]:
        """Load (and on PostgreSQL lock) a rollout with one of its attempts, and the span counter."""
        stmt = (
            select(*ROLLOUT_COLUMNS, *ATTEMPT_COLUMNS)
            .select_from(attempts.join(rollouts, rollouts.c.rollout_id == attempts.c.rollout_id))
            .where(attempts.c.attempt_id == attempt_id, attempts.c.rollout_id == rollout_id)
            .with_for_update()
        )
        row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            await self._require_rollout(conn, rollout_id)
            raise NotFoundError(f"attempt {attempt_id!r} of rollout {rollout_id!r} does not exist")
        return rollout_from_row(row, "r_"), attempt_from_row(row, "a_"), int(row["a_span_seq"])

    async def _save(self, conn: AsyncConnection, rollout: Rollout, attempt: Attempt, rollout_changed: bool) -> None:
        """Write back an attempt (and its rollout when it changed) loaded by ``_lock``."""
        await conn.execute(
            update(attempts)
            .where(attempts.c.attempt_id == attempt.attempt_id)
            .values(
                status=attempt.status.value,
                end_time=attempt.end_time,
                last_heartbeat=attempt.last_heartbeat,
                error=attempt.error,
                meta=dumps(attempt.metadata),
            )
        )
        if not rollout_changed:
            return
        position = None
        if rollout.status is RolloutStatus.QUEUED:  # requeued: a new position at the back
            (position,) = await self._next_queue_positions(conn, 1)
        await conn.execute(
            update(rollouts)
            .where(rollouts.c.rollout_id == rollout.rollout_id)
            .values(status=rollout.status.value, end_time=rollout.end_time, queue_seq=position)
        )

    async def _next_queue_positions(self, conn: AsyncConnection, count: int) -> list[int]:
        """``count`` increasing queue positions after every queued rollout's."""
        if self._pools.is_postgres:
            stmt = select(QUEUE_SEQUENCE.next_value()).select_from(func.generate_series(1, count))
            return sorted((await conn.execute(stmt)).scalars())
        # SQLite: we hold the write lock, so max + 1 cannot race
        stmt = select(func.coalesce(func.max(rollouts.c.queue_seq), 0)).where(rollouts.c.queue_seq.is_not(None))
        base = int((await conn.execute(stmt)).scalar_one())
        return list(range(base + 1, base + count + 1))
