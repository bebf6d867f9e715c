"""Install one adapter alone into a fresh virtual environment and run its own tests there.

Proves the distribution declares everything it needs: the fresh venv gets only the core, the
``agentlightning-otel`` tracer the adapter depends on (not on PyPI, so installed from this
repository), the adapter with its ``test`` extra, and whatever pip resolves for them from PyPI.

    python scripts/check_isolated_install.py adapters/langgraph [--venv DIR]

Exit status is pytest's. Takes about a minute per adapter with a warm pip cache.
"""

from __future__ import annotations

import argparse
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
        done = subprocess.run(
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
            cwd=str(ROOT),
            env=env,
        )
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
