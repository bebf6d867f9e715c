"""Agent Lightning algorithm plugin ``demoalgorithm`` (see ``plugin.py`` for what it registers)."""
