"""Agent Lightning event bus plugin ``demobus`` (see ``plugin.py`` for what it registers)."""
