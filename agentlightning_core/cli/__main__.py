"""``python -m agentlightning_core.cli``: the ``agl`` command (used to start runner processes)."""

from . import main

main()
