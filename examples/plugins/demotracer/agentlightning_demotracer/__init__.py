"""Agent Lightning tracer plugin ``demotracer`` (see ``plugin.py`` for what it registers)."""
