"""``scripts/check_dist.py`` (run by ``make dist``) refuses what must not be published: a missing
wheel or sdist, versions that disagree, a ``file://`` requirement, an unversioned requirement on
another distribution of this project. The files are real wheel/sdist archives written here."""

from __future__ import annotations

import importlib.util
import io
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("check_dist", ROOT / "scripts" / "check_dist.py")
assert spec is not None and spec.loader is not None
check_dist = importlib.util.module_from_spec(spec)
sys.modules["check_dist"] = check_dist
spec.loader.exec_module(check_dist)


def metadata(name: str, version: str, requires: list[str]) -> str:
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}"]
    return "\n".join(lines + [f"Requires-Dist: {r}" for r in requires]) + "\n"


def write_pair(folder: Path, name: str, version: str, requires: list[str]) -> None:
    stem = f"{name.replace('-', '_')}-{version}"
    with zipfile.ZipFile(folder / f"{stem}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{stem}.dist-info/METADATA", metadata(name, version, requires))
    data = metadata(name, version, requires).encode()
    with tarfile.open(folder / f"{stem}.tar.gz", "w:gz") as sdist:
        info = tarfile.TarInfo(f"{stem}/PKG-INFO")
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A good dist/: every distribution of the repository, 0.1.0, depending on the core by version."""
    for name in check_dist.repository_distributions():
        requires = [] if name == "agentlightning-core" else ["agentlightning-core>=0.1.0", "rich>=13"]
        write_pair(tmp_path, name, "0.1.0", requires)
    return tmp_path


def test_a_complete_consistent_dist_passes(dist: Path) -> None:
    assert check_dist.problems(dist) == []


def test_a_file_url_requirement_is_refused(dist: Path) -> None:
    write_pair(dist, "agentlightning-core", "0.1.0", [f"agentlightning-sql @ {ROOT.as_uri()}/backends/sql"])
    found = check_dist.problems(dist)
    assert any("points at a URL" in p and "agentlightning-core (wheel)" in p for p in found), found


def test_an_unversioned_project_requirement_is_refused(dist: Path) -> None:
    write_pair(dist, "agentlightning-redis", "0.1.0", ["agentlightning-core"])
    found = check_dist.problems(dist)
    assert any("on this project's agentlightning-core has no version" in p for p in found), found


def test_versions_that_disagree_and_a_missing_sdist_are_refused(dist: Path) -> None:
    write_pair(dist, "agentlightning-otel", "0.2.0", ["agentlightning-core>=0.1.0"])
    (dist / "agentlightning_redis-0.1.0.tar.gz").unlink()
    found = check_dist.problems(dist)
    assert any(p.startswith("versions disagree") for p in found), found
    assert "agentlightning-redis: no sdist in " + str(dist) in found


def test_a_requirement_the_built_version_does_not_meet_is_refused(dist: Path) -> None:
    write_pair(dist, "agentlightning-apo", "0.1.0", ["agentlightning-core>=0.2"])
    found = check_dist.problems(dist)
    assert any("is not met by the built agentlightning-core 0.1.0" in p for p in found), found
