"""The ray launcher's options, checked before anything connects: a typo fails naming the field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RayLauncherOptions(BaseModel):
    """``Trainer(launcher="ray", launcher_options={...})`` / ``agl runner --launcher-option KEY=VALUE``."""

    model_config = ConfigDict(extra="forbid")

    #: the cluster: ``host:port`` of a head (``ray start --head --port PORT``), ``ray://host:10001``,
    #: ``auto`` (the cluster this machine belongs to), or None: ``RAY_ADDRESS`` when set, else a
    #: Ray instance started in this process (one machine)
    address: str | None = None
    #: resources each runner actor holds; a runner is mostly waiting on HTTP and the LLM, so it
    #: needs little CPU of its own
    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    #: custom resources per runner, e.g. {"agent_node": 1} to keep runners on labelled nodes
    resources: dict[str, float] = Field(default_factory=dict)
    #: ``SPREAD`` places runners on as many nodes as it can (one node's loss then stops fewer);
    #: ``DEFAULT`` packs them where Ray finds room first
    scheduling_strategy: Literal["DEFAULT", "SPREAD"] = "DEFAULT"
    #: how often Ray restarts a runner whose process or node died (-1: always)
    max_restarts: int = Field(default=3, ge=-1)
    #: Ray runtime_env of the runners (working_dir, py_modules, pip, env_vars): how the agent's
    #: code reaches the workers
    runtime_env: dict[str, Any] | None = None
    #: grow and shrink the runners with the queue, between min_replicas and max_replicas
    autoscale: bool = False
    min_replicas: int | None = Field(default=None, ge=1)
    max_replicas: int | None = Field(default=None, ge=1)
    #: seconds between two looks at the queue when autoscaling
    scale_interval: float = Field(default=2.0, gt=0)
    #: a cluster that does not answer within this many seconds fails the launch
    connect_timeout: float = Field(default=30.0, gt=0, le=300)
    namespace: str = "agentlightning"

    @model_validator(mode="after")
    def _bounds(self) -> RayLauncherOptions:
        if not self.autoscale and (self.min_replicas is not None or self.max_replicas is not None):
            raise ValueError("min_replicas/max_replicas only apply with autoscale=true; add autoscale=true")
        if self.autoscale and self.max_replicas is None:
            raise ValueError(
                "autoscale=true needs max_replicas (the most runners to start), e.g. max_replicas=8"
            )
        if (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.min_replicas > self.max_replicas
        ):
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas}); swap them"
            )
        return self
