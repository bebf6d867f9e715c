"""Agent Lightning adapter plugin ``demoadapter`` (see ``plugin.py`` for what it registers)."""
