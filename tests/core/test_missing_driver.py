"""The core's own optional imports fail with one line naming the extra (see agentlightning_core.optional)."""

from __future__ import annotations

from agentlightning_core.testing.missing_module import error_without


def test_a_jinja_prompt_template_without_jinja2_names_the_core_extra() -> None:
    printed = error_without(
        ["jinja2"],
        "from agentlightning_core.types import PromptTemplate\n"
        "PromptTemplate(template='{{ q }}', engine='jinja').format(q=1)",
    )
    assert printed == (
        "MissingDependencyError: a prompt template with engine='jinja' needs the 'jinja2' package, which is"
        ' not installed; install it with: pip install "agentlightning-core[jinja]"'
    )
