"""Every resources version, with each prompt template diffed against its parent.

A template's parent is the same-named template in the nearest older version that has it: that is
how APO's history reads (one template rewritten per round). LLM resources show endpoint, model
and weights version; secrets (``api_key``) are never sent.
"""

from __future__ import annotations

import difflib
from typing import Any

from agentlightning_core.store.base import LightningStore
from agentlightning_core.types import PromptTemplate

from .shaping import Shaper

MAX_VERSIONS = 500


async def resources_history(store: LightningStore, shaper: Shaper) -> dict[str, Any]:
    total = (await store.query_resources(limit=0)).total
    page = await store.query_resources(limit=MAX_VERSIONS, offset=max(0, total - MAX_VERSIONS))
    versions: list[dict[str, Any]] = []
    last_template: dict[str, tuple[int, str]] = {}
    for update in page.items:
        entries = []
        for name, res in sorted(update.resources.items()):
            entry: dict[str, Any] = {"name": name, "type": res.resource_type}
            if isinstance(res, PromptTemplate):
                entry["template"] = shaper.text(res.template)
                parent = last_template.get(name)
                entry["parent_version"] = parent[0] if parent else None
                entry["diff"] = (
                    None
                    if parent is None
                    else [
                        shaper.text(line)
                        for line in difflib.unified_diff(
                            parent[1].splitlines(), res.template.splitlines(), lineterm="", n=2
                        )
                    ][2:]
                )
                last_template[name] = (update.version, res.template)
            else:
                dumped = res.model_dump(mode="json", exclude={"api_key"})
                entry["fields"] = shaper.value(dumped)
            entries.append(entry)
        versions.append(
            {
                "resources_id": update.resources_id,
                "version": update.version,
                "create_time": update.create_time,
                "resources": entries,
            }
        )
    versions.reverse()  # newest first
    return {"total": page.total, "versions": versions}
