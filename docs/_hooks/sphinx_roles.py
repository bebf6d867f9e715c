"""MkDocs hook: the docstrings are written for Sphinx (``:class:`~pkg.Name```); mkdocstrings renders
the role's name as text. Keep the code and drop the role, and show ``~pkg.mod.Name`` as ``Name``
the way Sphinx does, so the API reference reads as the docstrings mean it."""

from __future__ import annotations

import re
from typing import Any

ROLES = "meth|class|func|mod|attr|data|exc|obj|const"
#: ``~a.b.Name`` (Sphinx shows the last part) or a plain target, right after the role's name
ROLE = re.compile(rf":(?:py:)?(?:{ROLES}):<code>(~(?:[\w.]*\.)?)?")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    return ROLE.sub("<code>", html)
