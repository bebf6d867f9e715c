"""``agl new-plugin KIND NAME``: a working plugin distribution to start from.

What it writes is a complete distribution of its own (``pyproject.toml`` with the entry point, the
plugin module, an implementation that works, tests that run the project's conformance suite
through :mod:`agentlightning_core.testing`, a README). Right after generation,
``pip install -e NAME && pytest NAME`` passes; the author then replaces the implementation.

Templates live in ``templates/<kind>/`` (``templates/common/`` for what every kind shares) with
``{{placeholders}}``; one folder per kind of :data:`~agentlightning_core.plugin_manager.REGISTRY_HOOKS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import InvalidRequestError

#: plugin names: a Python identifier in lowercase that is also a registry name and a URL scheme
#: part (no ``_`` for stores: a URL scheme may not hold one)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Kind:
    """One kind of plugin: the hook it implements and what the README tells the user to do."""

    hook: str
    label: str
    #: the implementation module the template writes next to ``plugin.py``
    module: str
    #: how a user selects it, with ``{{name}}`` placeholders
    usage: str


KINDS: dict[str, Kind] = {
    "store": Kind(
        "agl_register_stores", "store", "store.py", 'open_store("{{name}}://")` or `DATABASE_URL={{name}}://'
    ),
    "event-bus": Kind("agl_register_event_buses", "event bus", "bus.py", "EVENT_BUS_BACKEND={{name}}"),
    "tracer": Kind("agl_register_tracers", "tracer", "tracer.py", 'Trainer(tracer="{{name}}")'),
    "adapter": Kind("agl_register_adapters", "adapter", "adapter.py", 'get_adapter("{{name}}").wrap(agent)'),
    "algorithm": Kind(
        "agl_register_algorithms", "algorithm", "algorithm.py", 'Trainer(algorithm="{{name}}")'
    ),
    "llm-engine": Kind("agl_register_llm_engines", "LLM engine", "engine.py", 'Trainer(engine="{{name}}")'),
    "metric-sink": Kind(
        "agl_register_metric_sinks", "metric sink", "sink.py", 'Trainer(metric_sinks=["{{name}}"])'
    ),
    "launcher": Kind(
        "agl_register_launchers",
        "launcher",
        "launcher.py",
        'Trainer(launcher="{{name}}", n_runners=4)` or `agl runner --launcher {{name}} --replicas 4 --server URL',
    ),
}


def camel(name: str) -> str:
    """``my_store`` → ``MyStore``: the prefix of the generated class names."""
    return "".join(part.capitalize() for part in name.split("_"))


def check_name(kind: str, name: str) -> None:
    """Refuse a kind or a name the generated package could not use, naming the fix."""
    if kind not in KINDS:
        raise InvalidRequestError(f"KIND {kind!r} is not one of: {', '.join(KINDS)}")
    if not NAME_RE.match(name):
        raise InvalidRequestError(
            f"NAME {name!r} must be lowercase letters, digits and '_', starting with a letter "
            "(at most 40 characters): it becomes the import package agentlightning_NAME"
        )
    if kind == "store" and "_" in name:
        raise InvalidRequestError(
            f"NAME {name!r}: a store is chosen by URL scheme ({name}://), and a URL scheme cannot hold "
            f"'_'; use {name.replace('_', '')!r}"
        )


def render(kind: str, name: str) -> dict[str, str]:
    """Relative path → file content of the plugin distribution ``name`` of ``kind``."""
    check_name(kind, name)
    spec = KINDS[kind]
    package = f"agentlightning_{name}"
    values = {
        "name": name,
        "Name": camel(name),
        "package": package,
        "distribution": f"agentlightning-{name.replace('_', '-')}",
        "kind": kind,
        "label": spec.label,
        "hook": spec.hook,
        "module": spec.module.removesuffix(".py"),
    }
    values["usage"] = _fill(spec.usage, values)
    root = resources.files(__package__) / "templates"
    files = {
        "pyproject.toml": root / "common" / "pyproject.toml.tmpl",
        "README.md": root / "common" / "README.md.tmpl",
        f"{package}/__init__.py": root / "common" / "__init__.py.tmpl",
        f"{package}/py.typed": root / "common" / "py.typed",
        f"{package}/plugin.py": root / kind / "plugin.py.tmpl",
        f"{package}/{spec.module}": root / kind / f"{spec.module}.tmpl",
        f"tests/test_{name}.py": root / kind / "test.py.tmpl",
    }
    return {path: _fill(template.read_text(encoding="utf-8"), values) for path, template in files.items()}


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


def generate(kind: str, name: str, directory: Path, *, force: bool = False) -> list[Path]:
    """Write the distribution into ``directory`` (refused when it exists and holds files)."""
    files = render(kind, name)
    if directory.exists() and any(directory.iterdir()) and not force:
        raise InvalidRequestError(
            f"{directory} already exists and is not empty; pick another NAME or --directory, or pass --force"
        )
    written = []
    for rel, content in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
