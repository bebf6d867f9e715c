"""The run's configuration as metric sinks record it (``config.json``, MLflow params, W&B config).

What a reader of an experiment tracker needs to tell two runs apart: the algorithm and its
options, the trainer's settings, the engine, the data sizes. Secrets never go in: option names
that look like credentials are masked, and ``LLM`` resources are described without their key.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..algorithm import Algorithm
from ..types import LLM, PromptTemplate

if TYPE_CHECKING:
    from .trainer import Trainer

_SECRET = re.compile(r"(api[_-]?key|token|secret|password|authorization|credential)", re.IGNORECASE)
MASK = "***"
#: prompt templates longer than this are cut in the config (the tracker's field limits)
TEMPLATE_CHARS = 500


def mask_secrets(value: Any) -> Any:
    """A JSON-compatible copy of ``value`` with credential-looking keys masked."""
    if isinstance(value, Mapping):
        return {
            str(k): (MASK if _SECRET.search(str(k)) and v is not None else mask_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def algorithm_options(algorithm: Algorithm, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The algorithm's options: its ``config`` (a pydantic model or dataclass, as APO and GRPO
    keep it) when it has one, else the keyword arguments it was built with."""
    config = getattr(algorithm, "config", None)
    if hasattr(config, "model_dump"):
        return mask_secrets(config.model_dump(mode="json"))  # type: ignore[union-attr]
    if config is not None and dataclasses.is_dataclass(config) and not isinstance(config, type):
        return mask_secrets(dataclasses.asdict(config))
    return mask_secrets(dict(kwargs))


def _resource(resource: Any) -> dict[str, Any]:
    if isinstance(resource, LLM):
        return {"type": "llm", "model": resource.model, "endpoint": resource.endpoint}
    if isinstance(resource, PromptTemplate):
        text = resource.template
        if len(text) > TEMPLATE_CHARS:
            text = text[:TEMPLATE_CHARS] + "…"
        return {"type": "prompt_template", "template": text}
    return {"type": type(resource).__name__}


def run_config(trainer: Trainer, n_train: int, n_val: int | None) -> dict[str, Any]:
    algorithm = trainer.algorithm
    engine = trainer.engine
    return {
        "algorithm": {
            # a subclass that sets no ``name`` inherits the base's placeholder: its class name says more
            "name": algorithm.name if algorithm.name != Algorithm.name else type(algorithm).__name__,
            "class": f"{type(algorithm).__module__}.{type(algorithm).__qualname__}",
            "options": algorithm_options(algorithm, trainer.algorithm_kwargs),
        },
        "trainer": {
            "n_runners": trainer.n_runners,
            "launcher": trainer.launcher if isinstance(trainer.launcher, str) else trainer.launcher.name,
            "concurrency": trainer.concurrency,
            "rollout_timeout": trainer.rollout_timeout,
            "tracer": getattr(trainer.tracer, "name", type(trainer.tracer).__name__),
            "store": type(trainer._open_store()).__name__,
            "remote": trainer.remote_url,
        },
        "engine": None
        if engine is None
        else {
            "name": engine.name,
            "model": engine.model_name,
            "options": mask_secrets(dict(trainer.engine_options)),
        },
        "rollout_config": trainer.rollout_config.model_dump(mode="json"),
        "resources": {name: _resource(r) for name, r in trainer.initial_resources.items()},
        "data": {"train": n_train, "val": n_val},
    }
