"""Agent Lightning metric sink plugin ``demosink`` (see ``plugin.py`` for what it registers)."""
