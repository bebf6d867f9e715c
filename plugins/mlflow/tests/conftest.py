"""A migrated, empty MLflow sqlite database made once per session and copied into each test:
MLflow's schema migrations take ~15 s on a loaded 2-core machine, the tests themselves far less."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def seed_db(migrated_db: Path) -> Callable[[Path], None]:
    """``seed_db(base_dir)``: copy the template database into ``base_dir`` if there is room (the
    full-disk tests have none: there the sink meets the full disk itself)."""

    def seed(base_dir: Path) -> None:
        base_dir.mkdir(parents=True, exist_ok=True)
        target = base_dir / "mlflow.db"
        if not target.exists():
            try:
                shutil.copyfile(migrated_db, target)
            except OSError:
                target.unlink(missing_ok=True)

    return seed
