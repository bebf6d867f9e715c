"""One rule for ``register`` in ``agl_register_algorithms``: a class or a factory, both called with
the user's options; anything that does not give an ``Algorithm`` is refused with the name."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from agentlightning_core import Algorithm, AlgorithmResult, Trainer, TrainerContext, hookimpl, rollout
from agentlightning_core.errors import PluginError
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.trainer.resolve import resolve_algorithm


class Counting(Algorithm):
    """Evaluates the training data once; remembers the option it was built with."""

    name = "counting"

    def __init__(self, label: str = "none") -> None:
        self.label = label

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        evaluation = await ctx.evaluate(ctx.train_data)
        return AlgorithmResult(best_score=evaluation.mean_reward)


def make_counting(**options: Any) -> Algorithm:
    return Counting(**options)


def manager_with(**registered: Any) -> AglPluginManager:
    @hookimpl
    def agl_register_algorithms(register: Any) -> None:
        for name, obj in registered.items():
            register(name, obj)

    plugin = SimpleNamespace(__name__="register_rule_plugin", agl_register_algorithms=agl_register_algorithms)
    return AglPluginManager(load_entry_points=False, plugins=[plugin], strict=True)


@rollout
def agent(task: float) -> float:
    return task


@pytest.mark.parametrize("registered", [Counting, make_counting], ids=["class", "factory"])
def test_a_class_and_a_factory_both_get_the_users_options(registered: Any) -> None:
    manager = manager_with(counting=registered)
    built = resolve_algorithm("counting", {"label": "x"}, manager)
    assert isinstance(built, Counting) and built.label == "x"


@pytest.mark.parametrize("registered", [Counting, make_counting], ids=["class", "factory"])
def test_a_class_and_a_factory_both_train_through_the_trainer(registered: Any, tmp_path: Any) -> None:
    trainer = Trainer(
        algorithm="counting",
        manager=manager_with(counting=registered),
        store="memory://",
        serve=False,
        progress=False,
        output_dir=tmp_path,
        label="y",
    )
    result = trainer.fit(agent, [0.0, 1.0])
    assert result.best_score == 0.5


def test_a_factory_that_returns_something_else_is_refused_by_name() -> None:
    manager = manager_with(broken=lambda **options: "not an algorithm")
    with pytest.raises(TypeError, match="algorithm 'broken' returned str, not an Algorithm"):
        resolve_algorithm("broken", {}, manager)


def test_something_not_callable_is_refused_at_registration() -> None:
    with pytest.raises(PluginError, match="non-callable"):
        manager_with(instance=Counting()).registry("agl_register_algorithms")
