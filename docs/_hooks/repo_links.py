"""MkDocs hook: links from docs/ to files elsewhere in the repository (a distribution's README).

On GitHub such a link (``../backends/sql/README.md``) works as written; in the site the file is
not a page. The hook checks that the target exists (a missing one fails the build, as a broken
link between pages does) and renders the link as the repository path, linked to ``repo_url`` when
mkdocs.yml sets one.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

LINK = re.compile(r"\[([^\]]+)\]\((\.\./[^)#\s]+)(#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs = Path(config["docs_dir"]).resolve()
    root = docs.parent
    page_dir = posixpath.dirname(page.file.src_uri)

    def rewrite(match: re.Match[str]) -> str:
        text, target, anchor = match.group(1), match.group(2), match.group(3) or ""
        path = (docs / page_dir / target).resolve()
        if docs in path.parents:
            return match.group(0)  # a page of the site: mkdocs checks it
        if not path.exists() or root not in path.parents:
            raise PluginError(
                f"{page.file.src_uri}: link to {target!r}, which is not a file of the repository"
            )
        rel = path.relative_to(root).as_posix()
        repo_url = config.get("repo_url")
        if repo_url:
            return f"[{text}]({repo_url.rstrip('/')}/blob/main/{rel}{anchor})"
        return f"{text} (`{rel}`)"

    return LINK.sub(rewrite, markdown)
