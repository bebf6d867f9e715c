"""Check what ``make dist`` built: one wheel and one sdist per distribution, versions that agree,
and dependencies between this project's distributions declared by name and version.

    python scripts/check_dist.py [dist]

Fails (exit 1, one line per problem) when a distribution of the repository has no wheel or no
sdist, when versions differ, when any ``Requires-Dist`` points at a URL (``file://`` or other:
published metadata must resolve by name on an index), or when a requirement on another
``agentlightning-*`` distribution has no version or one that the built version does not satisfy.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("plugins", "adapters", "algorithms", "backends")


def repository_distributions() -> dict[str, Path]:
    """Canonical name → folder of the core and every plugin, adapter, algorithm and backend."""
    found = {"agentlightning-core": ROOT}
    for kind in KINDS:
        for pyproject in sorted((ROOT / kind).glob("*/pyproject.toml")):
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            found[str(canonicalize_name(name))] = pyproject.parent
    return found


def wheel_metadata(path: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(path) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(wheel.read(name).decode())
    return {key: message.get_all(key) or [] for key in ("Name", "Version", "Requires-Dist")}


def sdist_metadata(path: Path) -> dict[str, list[str]]:
    with tarfile.open(path) as sdist:
        member = next(
            m for m in sdist.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
        )
        extracted = sdist.extractfile(member)
        assert extracted is not None
        message = Parser().parsestr(extracted.read().decode())
    return {key: message.get_all(key) or [] for key in ("Name", "Version", "Requires-Dist")}


def problems(dist_dir: Path) -> list[str]:
    expected = repository_distributions()
    wheels = {str(parse_wheel_filename(p.name)[0]): p for p in dist_dir.glob("*.whl")}
    sdists = {str(parse_sdist_filename(p.name)[0]): p for p in dist_dir.glob("*.tar.gz")}
    found: list[str] = []
    for name in expected:
        if name not in wheels:
            found.append(f"{name}: no wheel in {dist_dir}")
        if name not in sdists:
            found.append(f"{name}: no sdist in {dist_dir}")
    metadata = {f"{n} (wheel)": wheel_metadata(p) for n, p in wheels.items()}
    metadata.update({f"{n} (sdist)": sdist_metadata(p) for n, p in sdists.items()})
    versions = {label: meta["Version"][0] for label, meta in metadata.items()}
    if len(set(versions.values())) > 1:
        found.append(f"versions disagree: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}")
    built = {str(canonicalize_name(m["Name"][0])): m["Version"][0] for m in metadata.values()}
    for label, meta in sorted(metadata.items()):
        for line in meta["Requires-Dist"]:
            requirement = Requirement(line)
            if requirement.url:
                found.append(f"{label}: requirement {line!r} points at a URL, not a name and version")
                continue
            other = str(canonicalize_name(requirement.name))
            if other not in expected:
                continue
            if not requirement.specifier:
                found.append(f"{label}: requirement {line!r} on this project's {other} has no version")
            elif other in built and not requirement.specifier.contains(built[other], prereleases=True):
                found.append(f"{label}: requirement {line!r} is not met by the built {other} {built[other]}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dist", nargs="?", default=str(ROOT / "dist"), help="folder with the built files")
    dist_dir = Path(parser.parse_args().dist)
    found = problems(dist_dir)
    for problem in found:
        print(f"check_dist: {problem}", file=sys.stderr)
    if not found:
        n = len(list(dist_dir.glob("*.whl")))
        print(f"check_dist: {n} wheels and sdists, one version, dependencies by name and version")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
