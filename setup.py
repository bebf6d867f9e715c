"""Extras that name this repository's own plugin distributions by path.

A plain name (``agentlightning-sql``) in an extra would let pip fetch whatever a stranger
uploads under that name; a ``file://`` reference to the folder here cannot be confused. So
``pip install -e ".[postgres]"`` from the repository root installs ``backends/sql`` beside the core.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent


def local(name: str, folder: str, extra: str = "") -> str:
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
    "litellm": [local("agentlightning-litellm", "plugins/litellm")],
    "grpo": [local("agentlightning-grpo", "algorithms/grpo")],
    "apo": [local("agentlightning-apo", "algorithms/apo")],
    "langgraph": [local("agentlightning-langgraph", "adapters/langgraph")],
    "autogen": [local("agentlightning-autogen", "adapters/autogen")],
    "openai-agents": [local("agentlightning-openai-agents", "adapters/openai_agents")],
    "mcp": [local("agentlightning-mcp", "adapters/mcp")],
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
]

# Only extras whose folder exists: a checkout that lacks a plugin still installs.
extras = {k: v for k, v in PLUGINS.items() if all(Path(r.split(" @ file://")[1]).exists() for r in v)}
extras["dev"] = DEV

setup(extras_require=extras)
