"""Install one adapter alone into a fresh virtual environment and run its own tests there.

Proves the distribution declares everything it needs: the fresh venv gets only the core, the
``agentlightning-otel`` tracer the adapter depends on (not on PyPI, so installed from this
repository), the adapter with its ``test`` extra, and whatever pip resolves for them from PyPI.

    python scripts/check_isolated_install.py adapters/langgraph [--venv DIR]

Before the tests it checks that the venv holds no other ``agentlightning-*`` distribution and
that the core and the package import from the venv, not from this source tree. pytest runs
through the venv's ``pytest`` script, not ``python -m pytest``: ``-m`` puts the working
directory (this repository's root, whose pyproject.toml configures pytest) first on
``sys.path``, so the core would be imported from the source tree and the installed wheel never
tested.

Exit status is pytest's (1 if the venv check fails). Takes about a minute per adapter with a
warm pip cache.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def venv_problems(python: str, package: Path, env: dict[str, str], cwd: str) -> list[str]:
    """What makes the venv not an isolated install of ``package``: another agentlightning
    distribution in it, or the core or the package importing from outside the venv."""
    name = import_package(package)
    probe = subprocess.run(
        [python, "-c", _PROBE, "agentlightning_core", "agentlightning_otel", name],
        cwd=cwd,  # not ROOT: from there `-c` would import the core from the source tree
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(probe.stdout)
    problems: list[str] = []
    expected = {"agentlightning-core", "agentlightning-otel", *found["owners"][name]}
    if set(found["dists"]) != expected:
        problems.append(f"agentlightning distributions {found['dists']}, expected {sorted(expected)}")
    prefix = Path(python).parent.parent.resolve()
    for module, file in found["files"].items():
        if prefix not in Path(file).resolve().parents:
            problems.append(f"{module} imports from {file}, not from the venv at {prefix}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("package", help="package folder, e.g. adapters/langgraph")
    parser.add_argument("--venv", help="where to create the venv (default: a temporary folder)")
    args = parser.parse_args()
    package = (ROOT / args.package).resolve()
    if not (package / "pyproject.toml").exists():
        parser.error(f"{args.package} has no pyproject.toml")
    with tempfile.TemporaryDirectory(prefix="agl-isolated-") as tmp:
        env_dir = Path(args.venv or Path(tmp) / "venv")
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        python = str(env_dir / "bin" / "python")
        pip = [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
        ]
        run([*pip, str(ROOT), str(ROOT / "plugins" / "otel"), f"{package}[test]"])
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


if __name__ == "__main__":
    sys.exit(main())
