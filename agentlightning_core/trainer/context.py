"""The ``TrainerContext`` the Trainer hands to algorithms, with what only the Trainer knows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from ..algorithm import Evaluation, TrainerContext
from ..types import LLM, RolloutMode


class TrainerRunContext(TrainerContext):
    """Adds the server token to proxy LLM resources (so agents pass the proxy's auth) and keeps
    every evaluation, which ``Trainer.dev`` reports rollout by rollout."""

    def __init__(self, *args: Any, api_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_key = api_key
        self.evaluations: list[Evaluation] = []

    def default_llm(self, **sampling: Any) -> LLM:
        llm = super().default_llm(**sampling)
        if self.api_key and llm.api_key is None:
            llm = llm.model_copy(update={"api_key": SecretStr(self.api_key)})
        return llm

    async def evaluate(
        self,
        data: Sequence[Any],
        *,
        resources_id: str | None = None,
        mode: RolloutMode = "val",
        description: str | None = None,
    ) -> Evaluation:
        evaluation = await super().evaluate(
            data, resources_id=resources_id, mode=mode, description=description
        )
        self.evaluations.append(evaluation)
        return evaluation
