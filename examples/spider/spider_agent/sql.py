"""Running queries safely on the shipped databases, and the execution-match reward."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
_FENCE = re.compile(r"```(?:sql|sqlite)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_SELECT = re.compile(r"\b(SELECT|WITH)\b.*", re.DOTALL | re.IGNORECASE)


def db_path(db_id: str) -> Path:
    path = DATA / f"{db_id}.sqlite"
    if not path.exists():
        raise FileNotFoundError(
            f"no database {db_id!r} in {DATA} (known: {', '.join(p.stem for p in DATA.glob('*.sqlite'))})"
        )
    return path


def load_questions() -> list[dict[str, Any]]:
    return list(json.loads((DATA / "questions.json").read_text()))


def schema_text(db_id: str) -> str:
    """The ``CREATE TABLE`` statements, as the model sees the database."""
    with sqlite3.connect(f"file:{db_path(db_id)}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    return "\n".join(row[0] + ";" for row in rows)


def extract_sql(text: str) -> str:
    """The query in a model's answer: a fenced block if any, else from the first SELECT/WITH."""
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    match = _SELECT.search(candidate)
    query = match.group(0) if match else candidate
    return query.strip().split(";")[0].strip()


def execute(db_id: str, query: str, timeout: float = 2.0, max_rows: int = 1000) -> list[tuple[Any, ...]]:
    """Run ``query`` read-only; raises ``sqlite3.Error`` (or ``TimeoutError``) on failure."""
    deadline = time.monotonic() + timeout
    with sqlite3.connect(f"file:{db_path(db_id)}?mode=ro", uri=True) as db:
        db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            return db.execute(query).fetchmany(max_rows)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise TimeoutError(f"query ran longer than {timeout}s") from None
            raise


def describe_execution(db_id: str, query: str, shown: int = 5) -> str:
    """What the checker sees: an error, or the row count and the first rows."""
    try:
        rows = execute(db_id, query)
    except (sqlite3.Error, TimeoutError) as exc:
        return f"error: {exc}"
    head = "\n".join(repr(row) for row in rows[:shown])
    return f"{len(rows)} row(s)" + (f":\n{head}" if rows else "")


def _normal(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(round(v, 4) if isinstance(v, float) else v for v in row) for row in rows]


def execution_match(db_id: str, predicted: str, gold: str) -> float:
    """1.0 when the predicted query returns the gold query's rows (as a multiset; in order when the
    gold query has ORDER BY), else 0.0 — including when the prediction fails to run."""
    try:
        got = _normal(execute(db_id, predicted))
    except (sqlite3.Error, TimeoutError, ValueError):
        return 0.0
    want = _normal(execute(db_id, gold))
    if "order by" in gold.lower():
        return 1.0 if got == want else 0.0
    return 1.0 if sorted(map(repr, got)) == sorted(map(repr, want)) else 0.0


#: ``shaped_reward`` for a query that runs but returns other rows than the gold query
RUNS_REWARD = 0.1


def shaped_reward(db_id: str, predicted: str, gold: str) -> float:
    """``execution_match``, plus ``RUNS_REWARD`` for a query that at least runs.

    Why: an untrained small model rarely writes SQL at all, so with execution match alone every
    GRPO group is all zeros and there is nothing to learn from; the small reward for runnable SQL
    gives the first signal. A match still scores 1.0, so accuracy (reward >= 1) is execution match.
    """
    if execution_match(db_id, predicted, gold) == 1.0:
        return 1.0
    if not predicted.strip():
        return 0.0
    try:
        execute(db_id, predicted)
    except (sqlite3.Error, TimeoutError, ValueError):
        return 0.0
    return RUNS_REWARD
