"""Resources: the versioned things an agent uses (its LLM endpoint, its prompt templates).

Algorithms publish a new :class:`ResourcesUpdate` whenever they change something (new weights,
a better prompt); each rollout names the version it must run with, so runners never mix them.
"""

from __future__ import annotations

import string
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer

from .limits import Id
from .rollout import new_id


class LLM(BaseModel):
    """An OpenAI-compatible endpoint. ``endpoint`` is the base URL (ending in ``/v1``).

    When ``proxied`` is true the endpoint is the trainer's LLM proxy and the runner hands the agent
    a copy whose endpoint names the rollout and attempt (see :meth:`for_attempt`), so every call is
    attributed without the agent doing anything.
    """

    model_config = ConfigDict(extra="forbid")

    resource_type: Literal["llm"] = "llm"
    endpoint: str
    model: str
    sampling_parameters: dict[str, Any] = Field(default_factory=dict)
    api_key: SecretStr | None = Field(default=None, json_schema_extra={"secret": True})
    proxied: bool = False
    weights_version: int | None = None

    @field_serializer("api_key", when_used="json")
    def _dump_secret(self, value: SecretStr | None) -> str | None:
        # Resources travel between trusted processes (store, server, runner); the key must arrive.
        return value.get_secret_value() if value is not None else None

    def for_attempt(self, rollout_id: str, attempt_id: str) -> LLM:
        """Return a copy routed through the proxy's per-attempt path (no-op if not proxied)."""
        if not self.proxied:
            return self
        base = self.endpoint.rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        return self.model_copy(update={"endpoint": f"{base}/rollout/{rollout_id}/attempt/{attempt_id}/v1"})

    @property
    def api_key_value(self) -> str:
        """The key for an OpenAI client; local endpoints accept any non-empty string."""
        return self.api_key.get_secret_value() if self.api_key is not None else "agl-local"


class PromptTemplate(BaseModel):
    """A prompt with ``{name}`` placeholders (``engine="f-string"``) or Jinja syntax."""

    model_config = ConfigDict(extra="forbid")

    resource_type: Literal["prompt_template"] = "prompt_template"
    template: str
    engine: Literal["f-string", "jinja"] = "f-string"

    def format(self, **kwargs: Any) -> str:
        if self.engine == "jinja":
            from ..optional import require  # jinja2 is optional: only jinja templates need it

            jinja2 = require(
                "jinja2",
                what="a prompt template with engine='jinja'",
                distribution="agentlightning-core",
                extra="jinja",
            )
            return jinja2.Template(self.template).render(**kwargs)
        return self.template.format(**kwargs)

    @property
    def placeholders(self) -> list[str]:
        if self.engine != "f-string":
            return []
        return [name for _, name, _, _ in string.Formatter().parse(self.template) if name]


Resource = Annotated[LLM | PromptTemplate, Field(discriminator="resource_type")]


class ResourcesUpdate(BaseModel):
    """One published version of the named resources."""

    resources_id: Id = Field(default_factory=lambda: new_id("rs"))
    version: int = 0
    create_time: float = Field(default_factory=time.time)
    resources: dict[str, Resource] = Field(default_factory=dict)
