"""Extras that name this repository's own plugin distributions: by path in a checkout, by name and
version in a release.

In a checkout, a plain name (``agentlightning-sql``) in an extra would let pip fetch whatever a
stranger uploads under that name before the project publishes it; a ``file://`` reference to the
folder here cannot be confused, so ``pip install -e ".[postgres]"`` installs ``backends/sql``.

Published metadata must not point at a folder on the build machine, so ``make dist`` sets
``AGL_RELEASE_BUILD=1`` and the extras name each distribution with this version
(``agentlightning-sql[postgres]==0.1.0``); a wheel built from the sdist, where the plugin folders
are absent, gets the same.
"""

import os
import re
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
RELEASE = os.environ.get("AGL_RELEASE_BUILD") == "1"
#: every distribution of this repository carries the core's version (scripts/check_dist.py checks it)
VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def local(name: str, folder: str, extra: str = "") -> str:
    if RELEASE or not (ROOT / folder / "pyproject.toml").exists():
        return f"{name}{extra}=={VERSION}"
    return f"{name}{extra} @ {(ROOT / folder).as_uri()}"


PLUGINS = {
    "sqlite": [local("agentlightning-sql", "backends/sql")],
    "postgres": [local("agentlightning-sql", "backends/sql", "[postgres]")],
    "mongodb": [local("agentlightning-mongodb", "backends/mongodb")],
    "redis": [local("agentlightning-redis", "backends/redis")],
    "rabbitmq": [local("agentlightning-rabbitmq", "backends/rabbitmq")],
    "otel": [local("agentlightning-otel", "plugins/otel")],
    "transformers": [local("agentlightning-transformers", "plugins/transformers")],
    "tensorboard": [local("agentlightning-tensorboard", "plugins/tensorboard")],
    "mlflow": [local("agentlightning-mlflow", "plugins/mlflow")],
    "wandb": [local("agentlightning-wandb", "plugins/wandb")],
    "dashboard": [local("agentlightning-dashboard", "plugins/dashboard")],
    "litellm": [local("agentlightning-litellm", "plugins/litellm")],
    "grpo": [local("agentlightning-grpo", "algorithms/grpo")],
    "apo": [local("agentlightning-apo", "algorithms/apo")],
    "langgraph": [local("agentlightning-langgraph", "adapters/langgraph")],
    "autogen": [local("agentlightning-autogen", "adapters/autogen")],
    "openai-agents": [local("agentlightning-openai-agents", "adapters/openai_agents")],
    "mcp": [local("agentlightning-mcp", "adapters/mcp")],
    "ray": [local("agentlightning-ray", "plugins/ray")],
}

DEV = [
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "pytest-timeout>=2.3",
    "ruff>=0.5",
    "mypy>=1.10",
    "openai>=1.30",
    "pre-commit>=3",
    # the Redis rate-limit storage's tests (the core itself never needs redis; see docs/security.md)
    "redis>=5.2",
    # property-based fuzzing of the server's OpenAPI spec (tests/core/test_api_fuzz.py)
    "schemathesis>=4.0",
    # make dist (wheel + sdist of every distribution)
    "build>=1.2",
    # make docs: the site (mkdocs build --strict), its API reference from the docstrings
    "mkdocs>=1.6,<2",
    "mkdocs-material>=9.5",
    "mkdocstrings[python]>=0.26",
]

extras = dict(PLUGINS)
extras["jinja"] = ["jinja2>=3.1"]  # PromptTemplate(engine="jinja")
extras["dev"] = DEV

setup(extras_require=extras)
