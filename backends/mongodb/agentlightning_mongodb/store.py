"""``MongoStore``: the LightningStore on MongoDB (motor).

A rollout and its attempts are one document, so each state change is atomic without
multi-document transactions (which need a replica set):

* dequeue is one ``find_one_and_update`` on the oldest queued rollout that marks it running and
  pushes the new attempt in the same write: two processes never get the same rollout;
* every other change of a rollout or attempt is a compare-and-set: read the document, apply the
  shared rules (``lifecycle.py``), write back only if its ``version`` did not move, else retry;
* a heartbeat or a batch of spans on a running attempt is one positional update.

Spans live in their own collection; sequence numbers and queue positions come from ``$inc`` on
a counter document, which MongoDB applies atomically.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError

from agentlightning_core.errors import BackendUnavailableError, ConflictError, NotFoundError
from agentlightning_core.pagination import Page
from agentlightning_core.store.base import LATEST, AttemptSelector, LightningStore
from agentlightning_core.store.transitions import (
    CANCELLED_ERROR,
    check_live,
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

from .documents import (
    attempt_changes,
    attempt_document,
    attempt_from_document,
    rollout_document,
    rollout_from_document,
)
from .lifecycle import decide_rollout, end_attempt, is_latest, touch
from .settings import database_name, load_mongo_settings

#: compare-and-set retries before giving up (each retry means another writer just won)
MAX_CAS_RETRIES = 100
_NO_ATTEMPTS = {"attempts": 0}
#: see ``_save``: a requeued rollout's queue position is its enqueue position minus this
RETRY_POSITION_OFFSET = 2**62
_RUNNING = AttemptStatus.RUNNING.value
_DUPLICATE_KEY = 11000


class MongoStore(LightningStore):
    """Collections ``agl_rollouts`` (attempts embedded), ``agl_spans``, ``agl_resources``,
    ``agl_workers`` and ``agl_counters`` in one database."""

    def __init__(
        self,
        url: str,
        *,
        database: str | None = None,
        client: Any = None,
        watchdog_interval: float | None = None,
        server_selection_timeout_ms: int = 5000,
    ) -> None:
        super().__init__()
        if watchdog_interval is not None:
            self.watchdog_interval = watchdog_interval
        self.url = url
        self.database_name = database or database_name(url, load_mongo_settings())
        self._client = client
        self._owns_client = client is None
        self._timeout_ms = server_selection_timeout_ms
        self._db: Any = None

    @classmethod
    def from_url(cls, url: str) -> MongoStore:
        return cls(url)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._started:
            return
        if self._client is None:
            from motor.motor_asyncio import AsyncIOMotorClient

            self._client = AsyncIOMotorClient(
                self.url, serverSelectionTimeoutMS=self._timeout_ms, tz_aware=False
            )
        self._db = self._client[self.database_name]
        try:
            await self._create_indexes()
        except Exception as exc:
            if self._owns_client:
                self._client.close()
                self._client = None
            raise BackendUnavailableError(
                f"cannot open the MongoDB store (database {self.database_name!r}): {exc}"
            ) from exc
        await super().start()

    async def close(self) -> None:
        await super().close()
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    async def drop_database(self) -> None:
        """Delete the store's database (tests against a real server clean up with this)."""
        await self._client.drop_database(self.database_name)

    async def _create_indexes(self) -> None:
        await self._rollouts.create_index([("status", ASCENDING), ("queue_seq", ASCENDING)])
        await self._rollouts.create_index([("seq", ASCENDING)])
        await self._rollouts.create_index([("mode", ASCENDING), ("seq", ASCENDING)])
        await self._spans.create_index(
            [("rollout_id", ASCENDING), ("attempt_seq", ASCENDING), ("sequence_id", ASCENDING)]
        )
        # idempotent spans: a re-sent span is refused by the index and answered with the stored copy;
        # partial, so span documents written before this key existed do not collide on a null
        await self._spans.create_index(
            [("rollout_id", ASCENDING), ("attempt_id", ASCENDING), ("span_id", ASCENDING)],
            unique=True,
            name="uq_span_id",
            partialFilterExpression={"span_id": {"$type": "string"}},
        )
        await self._resources.create_index([("version", ASCENDING)], unique=True)

    @property
    def _rollouts(self) -> Any:
        return self._db["agl_rollouts"]

    @property
    def _spans(self) -> Any:
        return self._db["agl_spans"]

    @property
    def _resources(self) -> Any:
        return self._db["agl_resources"]

    @property
    def _workers(self) -> Any:
        return self._db["agl_workers"]

    async def _next(self, counter: str, count: int = 1) -> int:
        """Reserve ``count`` numbers of ``counter``; returns the first."""
        doc = await self._db["agl_counters"].find_one_and_update(
            {"_id": counter}, {"$inc": {"value": count}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int(doc["value"]) - count + 1

    # ------------------------------------------------------------------- rollouts
    async def enqueue_rollouts(self, requests: Sequence[RolloutRequest]) -> list[Rollout]:
        if not requests:
            return []
        wanted = {r.resources_id for r in requests if r.resources_id is not None}
        if wanted:
            found = {d["_id"] async for d in self._resources.find({"_id": {"$in": list(wanted)}}, {"_id": 1})}
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
        first = await self._next("queue", len(created))
        await self._rollouts.insert_many(
            [rollout_document(r, first + i) for i, r in enumerate(created)], ordered=True
        )
        for rollout in created:
            await self._publish_rollout(rollout, EventType.ROLLOUT_ENQUEUED)
        return [r.model_copy(deep=True) for r in created]

    async def dequeue_rollout(self, worker_id: str | None = None) -> AttemptedRollout | None:
        now = time.time()
        attempt = Attempt(rollout_id="-", sequence=1, worker_id=worker_id, start_time=now, last_heartbeat=now)
        doc = await self._rollouts.find_one_and_update(
            {"status": RolloutStatus.QUEUED.value},
            {
                "$set": {"status": RolloutStatus.RUNNING.value, "queue_seq": None},
                "$inc": {"num_attempts": 1, "version": 1},
                "$min": {"start_time": now},
                "$push": {"attempts": attempt_document(attempt)},
            },
            sort=[("queue_seq", ASCENDING)],
            projection=_NO_ATTEMPTS,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        rollout = rollout_from_document(doc)
        attempt = attempt.model_copy(
            update={"rollout_id": rollout.rollout_id, "sequence": rollout.num_attempts}
        )
        await self._publish_attempt(attempt, EventType.ATTEMPT_STARTED)
        await self._publish_rollout(rollout)
        return AttemptedRollout(rollout=rollout, attempt=attempt)

    async def get_rollout(self, rollout_id: str) -> Rollout | None:
        doc = await self._rollouts.find_one({"_id": rollout_id}, _NO_ATTEMPTS)
        return rollout_from_document(doc) if doc is not None else None

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
        query: dict[str, Any] = {}
        if status is not None:
            query["status"] = {"$in": [RolloutStatus(s).value for s in status]}
        if mode is not None:
            query["mode"] = mode
        if rollout_ids is not None:
            query["_id"] = {"$in": list(dict.fromkeys(rollout_ids))}
        total = await self._rollouts.count_documents(query)
        items: list[Rollout] = []
        if total > offset and limit != 0:
            cursor = self._rollouts.find(query, _NO_ATTEMPTS).sort(
                "seq", DESCENDING if descending else ASCENDING
            )
            cursor = cursor.skip(offset)
            if limit is not None:
                cursor = cursor.limit(limit)
            items = [rollout_from_document(d) async for d in cursor]
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def cancel_rollout(self, rollout_id: str) -> Rollout:
        for _ in range(MAX_CAS_RETRIES):
            doc = await self._rollouts.find_one({"_id": rollout_id})
            if doc is None:
                raise NotFoundError(f"rollout {rollout_id!r} does not exist")
            rollout = rollout_from_document(doc)
            if rollout.status.is_final:
                return rollout
            now = time.time()
            changes: dict[str, Any] = {}
            ended = []
            for index, raw in enumerate(doc["attempts"]):
                attempt = attempt_from_document(rollout_id, index, raw)
                if attempt.status in (AttemptStatus.RUNNING, AttemptStatus.UNRESPONSIVE):
                    end_attempt(attempt, AttemptStatus.FAILED, CANCELLED_ERROR, now)
                    changes.update(attempt_changes(index, attempt))
                    ended.append(attempt)
            rollout.status = RolloutStatus.CANCELLED
            rollout.end_time = now
            changes.update(status=rollout.status.value, end_time=now, queue_seq=None)
            if await self._compare_and_set(doc, changes):
                for attempt in ended:
                    await self._publish_attempt(attempt)
                await self._publish_rollout(rollout)
                return rollout
        raise self._contended(rollout_id)

    # ------------------------------------------------------------------- attempts
    async def get_attempts(self, rollout_id: str) -> list[Attempt]:
        doc = await self._rollouts.find_one({"_id": rollout_id}, {"attempts": 1})
        if doc is None:
            raise NotFoundError(f"rollout {rollout_id!r} does not exist")
        return [attempt_from_document(rollout_id, i, a) for i, a in enumerate(doc["attempts"])]

    async def update_attempt(
        self,
        rollout_id: str,
        attempt_id: str,
        *,
        status: AttemptStatus | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Attempt:
        for _ in range(MAX_CAS_RETRIES):
            doc, rollout, index, attempt = await self._load(rollout_id, attempt_id)
            now = time.time()
            check_live(rollout, attempt, is_latest(rollout, attempt))
            if status is not None:
                check_status_change(attempt, status)
            revived = touch(rollout, attempt, now)
            if metadata:
                attempt.metadata.update(metadata)
            if error is not None:
                attempt.error = error
            rollout_changed = revived
            attempt_event = revived
            if status is not None and status is not attempt.status:
                if status is not AttemptStatus.RUNNING:
                    end_attempt(attempt, status, error, now)
                    rollout_changed = decide_rollout(rollout, attempt, now) or rollout_changed
                attempt_event = True
            if await self._save(doc, rollout, index, attempt, rollout_changed):
                if attempt_event:
                    await self._publish_attempt(attempt)
                if rollout_changed:
                    await self._publish_rollout(rollout)
                return attempt
        raise self._contended(rollout_id)

    async def heartbeat(self, rollout_id: str, attempt_id: str) -> Attempt:
        now = time.time()
        doc = await self._rollouts.find_one_and_update(
            {
                "_id": rollout_id,
                "attempts": {"$elemMatch": {"attempt_id": attempt_id, "status": _RUNNING}},
            },
            {"$set": {"attempts.$.last_heartbeat": now}, "$inc": {"version": 1}},
            projection={"attempts": 1},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            index = next(i for i, a in enumerate(doc["attempts"]) if a["attempt_id"] == attempt_id)
            return attempt_from_document(rollout_id, index, doc["attempts"][index])
        for _ in range(MAX_CAS_RETRIES):  # unknown, ended or unresponsive: full rules (fencing, revival)
            doc, rollout, index, attempt = await self._load(rollout_id, attempt_id)
            revived = touch(rollout, attempt, time.time())
            if await self._save(doc, rollout, index, attempt, revived):
                if revived:
                    await self._publish_attempt(attempt)
                    await self._publish_rollout(rollout)
                return attempt
        raise self._contended(rollout_id)

    # ---------------------------------------------------------------------- spans
    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        if not spans:
            return []
        groups: dict[tuple[str, str], list[int]] = {}
        for i, span in enumerate(spans):
            groups.setdefault((span.rollout_id, span.attempt_id), []).append(i)
        stored: list[Span | None] = [None] * len(spans)
        documents: list[dict[str, Any]] = []
        revived: list[tuple[Rollout, Attempt]] = []
        for (rollout_id, attempt_id), indexes in groups.items():
            attempt_seq, counter, was_revived = await self._reserve_span_ids(
                rollout_id, attempt_id, spans, indexes
            )
            if was_revived is not None:
                revived.append(was_revived)
            for i in indexes:
                span = spans[i]
                if span.sequence_id is None:
                    counter += 1
                    span = span.model_copy(update={"sequence_id": counter})
                else:
                    counter = max(counter, span.sequence_id)
                    span = span.model_copy()
                stored[i] = span
                documents.append(
                    {
                        "rollout_id": rollout_id,
                        "attempt_id": attempt_id,
                        "attempt_seq": attempt_seq,
                        "sequence_id": span.sequence_id,
                        "span_id": span.span_id,
                        "name": span.name,
                        "data": span.model_dump_json(),
                    }
                )
        final = await self._insert_spans(documents, stored)
        for rollout, attempt in revived:
            await self._publish_attempt(attempt)
            await self._publish_rollout(rollout)
        return final

    async def _insert_spans(self, documents: list[dict[str, Any]], stored: list[Span | None]) -> list[Span]:
        """Insert span documents; one already stored (same rollout, attempt and span id), or twice
        in the batch, is not inserted again and is answered with the copy stored first."""
        spans = [s for s in stored if s is not None]
        by_key = {(d["rollout_id"], d["attempt_id"], d["span_id"]): d for d in reversed(documents)}
        fresh = list(by_key.values())[::-1]  # first copy of each key, in batch order
        refused: list[dict[str, Any]] = []
        try:
            await self._spans.insert_many(fresh, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            refused = [fresh[e["index"]] for e in errors]
        if not refused and len(fresh) == len(spans):
            return spans
        existing: dict[tuple[str, str, str], Span] = {}
        if refused:
            query = {
                "$or": [
                    {"rollout_id": d["rollout_id"], "attempt_id": d["attempt_id"], "span_id": d["span_id"]}
                    for d in refused
                ]
            }
            async for doc in self._spans.find(
                query, {"data": 1, "rollout_id": 1, "attempt_id": 1, "span_id": 1}
            ):
                existing[(doc["rollout_id"], doc["attempt_id"], doc["span_id"])] = Span.model_validate_json(
                    doc["data"]
                )
        first: dict[tuple[str, str, str], Span] = {}
        for span in spans:
            first.setdefault((span.rollout_id, span.attempt_id, span.span_id), span)
        return [
            existing.get(key) or first[key]
            for key in ((s.rollout_id, s.attempt_id, s.span_id) for s in spans)
        ]

    async def _reserve_span_ids(
        self, rollout_id: str, attempt_id: str, spans: Sequence[Span], indexes: list[int]
    ) -> tuple[int, int, tuple[Rollout, Attempt] | None]:
        """Heartbeat the attempt and reserve its span ids: (attempt sequence, counter before, revived)."""
        now = time.time()
        explicit = any(spans[i].sequence_id is not None for i in indexes)
        if not explicit:
            doc = await self._rollouts.find_one_and_update(
                {
                    "_id": rollout_id,
                    "attempts": {"$elemMatch": {"attempt_id": attempt_id, "status": _RUNNING}},
                },
                {
                    "$set": {"attempts.$.last_heartbeat": now},
                    "$inc": {"attempts.$.span_seq": len(indexes), "version": 1},
                },
                projection={"attempts": 1},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                index = next(i for i, a in enumerate(doc["attempts"]) if a["attempt_id"] == attempt_id)
                return index + 1, int(doc["attempts"][index]["span_seq"]) - len(indexes), None
        for _ in range(MAX_CAS_RETRIES):  # explicit ids, unknown, or unresponsive
            doc, rollout, index, attempt = await self._load(rollout_id, attempt_id)
            start = counter = int(doc["attempts"][index].get("span_seq", 0))
            for i in indexes:
                sid = spans[i].sequence_id
                counter = counter + 1 if sid is None else max(counter, sid)
            revived = touch(rollout, attempt, now)
            extra = {f"attempts.{index}.span_seq": counter}
            if await self._save(doc, rollout, index, attempt, revived, extra):
                return index + 1, start, (rollout, attempt) if revived else None
        raise self._contended(rollout_id)

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
        doc = await self._rollouts.find_one(
            {"_id": rollout_id}, {"num_attempts": 1, "attempts.attempt_id": 1}
        )
        if doc is None:
            raise NotFoundError(f"rollout {rollout_id!r} does not exist")
        query: dict[str, Any] = {"rollout_id": rollout_id}
        if attempt_id == LATEST:
            if not doc["num_attempts"]:
                return []
            query["attempt_seq"] = doc["num_attempts"]
        elif attempt_id is not None:
            if all(a["attempt_id"] != attempt_id for a in doc.get("attempts", [])):
                raise NotFoundError(f"attempt {attempt_id!r} of rollout {rollout_id!r} does not exist")
            query["attempt_id"] = attempt_id
        if name is not None:
            query["name"] = name
        cursor = self._spans.find(query, {"data": 1}).sort(
            [("attempt_seq", ASCENDING), ("sequence_id", ASCENDING), ("_id", ASCENDING)]
        )
        cursor = cursor.skip(offset)
        if limit is not None:
            if limit == 0:
                return []
            cursor = cursor.limit(limit)
        return [Span.model_validate_json(d["data"]) async for d in cursor]

    # ------------------------------------------------------------------ resources
    async def add_resources(self, resources: Mapping[str, Resource]) -> ResourcesUpdate:
        update = ResourcesUpdate(resources=dict(resources))
        update = ResourcesUpdate.model_validate(update.model_dump())
        update.version = await self._next("resources")
        await self._resources.insert_one(
            {
                "_id": update.resources_id,
                "version": update.version,
                "data": update.model_dump_json(),
            }
        )
        await self._publish(
            Topic.RESOURCES,
            EventType.RESOURCES_UPDATED,
            {"resources_id": update.resources_id, "version": update.version},
        )
        return update

    async def get_resources(self, resources_id: str | None = None) -> ResourcesUpdate | None:
        if resources_id is not None:
            doc = await self._resources.find_one({"_id": resources_id})
        else:
            doc = await self._resources.find_one({}, sort=[("version", DESCENDING)])
        return ResourcesUpdate.model_validate_json(doc["data"]) if doc is not None else None

    async def query_resources(self, *, limit: int | None = None, offset: int = 0) -> Page[ResourcesUpdate]:
        validate_page(limit, offset)
        total = await self._resources.count_documents({})
        items: list[ResourcesUpdate] = []
        if limit != 0 and total > offset:
            cursor = self._resources.find({}).sort("version", ASCENDING).skip(offset)
            if limit is not None:
                cursor = cursor.limit(limit)
            items = [ResourcesUpdate.model_validate_json(d["data"]) async for d in cursor]
        return Page(items=items, total=total, limit=limit, offset=offset)

    # -------------------------------------------------------------------- workers
    async def update_worker(self, worker: Worker) -> Worker:
        stored = worker.model_copy(deep=True)
        await self._workers.replace_one(
            {"_id": stored.worker_id},
            {"_id": stored.worker_id, "data": stored.model_dump_json()},
            upsert=True,
        )
        await self._publish(
            Topic.WORKERS,
            EventType.WORKER_UPDATED,
            {"worker_id": stored.worker_id, "status": stored.status.value},
        )
        return stored.model_copy(deep=True)

    async def query_workers(self) -> list[Worker]:
        return [
            Worker.model_validate_json(d["data"]) async for d in self._workers.find({}).sort("_id", ASCENDING)
        ]

    # -------------------------------------------------------------------- watchdog
    async def sweep(self, now: float | None = None) -> list[Attempt]:
        now = time.time() if now is None else now
        default = self.default_unresponsive_seconds
        ended: list[Attempt] = []
        cursor = self._rollouts.find({"status": RolloutStatus.RUNNING.value, "attempts.status": "running"})
        due = []
        async for doc in cursor:
            rollout = rollout_from_document(doc)
            for index, raw in enumerate(doc["attempts"]):
                attempt = attempt_from_document(rollout.rollout_id, index, raw)
                if overdue_status(rollout, attempt, now, default_unresponsive_seconds=default) is not None:
                    due.append((rollout.rollout_id, attempt.attempt_id))
        for rollout_id, attempt_id in due:
            for _ in range(MAX_CAS_RETRIES):
                doc, rollout, index, attempt = await self._load(rollout_id, attempt_id)
                # decided again on the fresh document
                verdict = overdue_status(rollout, attempt, now, default_unresponsive_seconds=default)
                if verdict is None:
                    break
                end_attempt(attempt, verdict, f"watchdog: attempt {verdict.value}", now)
                changed = decide_rollout(rollout, attempt, now)
                if await self._save(doc, rollout, index, attempt, changed):
                    ended.append(attempt)
                    await self._publish_attempt(attempt)
                    if changed:
                        await self._publish_rollout(rollout)
                    break
        return ended

    # ----------------------------------------------------------------- statistics
    async def statistics(self) -> dict[str, Any]:
        by_status = {
            d["_id"]: d["n"]
            async for d in self._rollouts.aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}])
        }
        attempt_status = {
            d["_id"]: d["n"]
            async for d in self._rollouts.aggregate(
                [{"$unwind": "$attempts"}, {"$group": {"_id": "$attempts.status", "n": {"$sum": 1}}}]
            )
        }
        latest = await self._resources.find_one({}, {"_id": 1}, sort=[("version", DESCENDING)])
        return {
            "backend": "mongodb",
            "database": self.database_name,
            "rollouts": {
                "total": sum(by_status.values()),
                **by_status,
                "queued": by_status.get(RolloutStatus.QUEUED.value, 0),
            },
            "attempts": {"total": sum(attempt_status.values()), **attempt_status},
            "spans": {"total": await self._spans.count_documents({})},
            "resources": {
                "versions": await self._resources.count_documents({}),
                "latest": latest["_id"] if latest is not None else None,
            },
            "workers": {"total": await self._workers.count_documents({})},
        }

    # -------------------------------------------------------------------- internals
    async def _load(self, rollout_id: str, attempt_id: str) -> tuple[dict[str, Any], Rollout, int, Attempt]:
        doc = await self._rollouts.find_one({"_id": rollout_id})
        if doc is None:
            raise NotFoundError(f"rollout {rollout_id!r} does not exist")
        for index, raw in enumerate(doc["attempts"]):
            if raw["attempt_id"] == attempt_id:
                return doc, rollout_from_document(doc), index, attempt_from_document(rollout_id, index, raw)
        raise NotFoundError(f"attempt {attempt_id!r} of rollout {rollout_id!r} does not exist")

    async def _save(
        self,
        doc: dict[str, Any],
        rollout: Rollout,
        index: int,
        attempt: Attempt,
        rollout_changed: bool,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        changes = attempt_changes(index, attempt)
        if extra:
            changes.update(extra)
        if rollout_changed:
            changes.update(status=rollout.status.value, end_time=rollout.end_time, queue_seq=None)
            if rollout.status is RolloutStatus.QUEUED:
                # requeued: at the head of the queue (below every fresh position, which count up
                # from 1), retries among themselves in enqueue order
                changes["queue_seq"] = int(doc["seq"]) - RETRY_POSITION_OFFSET
        return await self._compare_and_set(doc, changes)

    async def _compare_and_set(self, doc: dict[str, Any], changes: dict[str, Any]) -> bool:
        result = await self._rollouts.update_one(
            {"_id": doc["_id"], "version": doc["version"]}, {"$set": changes, "$inc": {"version": 1}}
        )
        return bool(result.modified_count == 1)

    @staticmethod
    def _contended(rollout_id: str) -> ConflictError:
        return ConflictError(
            f"rollout {rollout_id!r} changed {MAX_CAS_RETRIES} times while this update was applied; retry it"
        )
