"""Agent Lightning LLM engine plugin ``demoengine`` (see ``plugin.py`` for what it registers)."""
