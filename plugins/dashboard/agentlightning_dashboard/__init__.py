"""The Agent Lightning dashboard: read-only pages at ``/dashboard`` of the server.

The server mounts it through the ``agl_server_app`` hook (:mod:`.plugin`); the core never imports
this package.
"""

from __future__ import annotations

from .mount import PREFIX, mount_dashboard

__all__ = ["PREFIX", "mount_dashboard"]
