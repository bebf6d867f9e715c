"""Agent Lightning launcher plugin ``demolauncher`` (see ``plugin.py`` for what it registers)."""
