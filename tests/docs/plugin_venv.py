"""A throwaway venv that sees the project's venv, for installing a plugin without touching it.

``pip install -e`` into the shared ``.venv`` would leave the plugin registered for every later
test and command. Instead: a fresh venv (no pip of its own) whose ``.pth`` file adds this
interpreter's site-packages as a site directory, so the core, pytest and every dependency come
from there, while entry points and editable installs of the new plugins live only in the new one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path


class PluginVenv:
    def __init__(self, root: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
        self.python = root / "bin" / "python"
        purelib = subprocess.run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        parent = sysconfig.get_paths()["purelib"]
        Path(purelib, "agl_parent_venv.pth").write_text(f"import site; site.addsitedir({parent!r})\n")

    def pip_install_editable(self, *folders: Path) -> None:
        """``pip install -e`` each folder into this venv only (no build isolation, no downloads)."""
        args = [sys.executable, "-m", "pip", "--python", str(self.python), "install", "-q"]
        args += ["--disable-pip-version-check", "--no-deps", "--no-build-isolation"]
        for folder in folders:
            args += ["-e", str(folder)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    def run(self, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "AGL_DISABLED_PLUGINS": ""}
        return subprocess.run(
            [str(self.python), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
        )
