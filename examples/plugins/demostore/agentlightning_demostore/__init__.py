"""Agent Lightning store plugin ``demostore`` (see ``plugin.py`` for what it registers)."""
