"""The algorithm, found through its installed entry point, trains through a real Trainer."""

from __future__ import annotations

from pathlib import Path

from agentlightning_core import PromptTemplate, Trainer, rollout
from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    registry = AglPluginManager().registry("agl_register_algorithms")
    assert "demoalgorithm" in registry, "pip install -e the plugin first: its entry point registers it"
    assert registry.entries["demoalgorithm"].provider.distribution == "agentlightning-demoalgorithm"


def test_picks_the_prompt_with_the_best_reward(tmp_path: Path) -> None:
    @rollout
    def agent(task: dict[str, str], prompt: PromptTemplate) -> float:
        # stands for an LLM call: the reward says whether the prompt asks for brevity
        return 1.0 if "briefly" in prompt.format(**task) else 0.0

    trainer = Trainer(
        algorithm="demoalgorithm",
        prompts=["Answer briefly: {question}"],
        initial_resources={"prompt": PromptTemplate(template="Q: {question}")},
        store="memory://",
        serve=False,
        progress=False,
        output_dir=tmp_path,
    )
    result = trainer.fit(agent, [{"question": "2+2?"}, {"question": "3+3?"}])
    assert result.best_score == 1.0
    assert trainer.best_resources().resources["prompt"].template == "Answer briefly: {question}"
