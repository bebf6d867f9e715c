"""Which environment variables the shipped code reads, found by reading the source (AST).

Looks at every distribution's import package (the core, plugins/, adapters/, algorithms/,
backends/ and examples/; never their tests): ``os.environ.get("X")``, ``os.environ["X"]``,
``os.getenv("X")``, ``"X" in os.environ``, ``os.environ.setdefault("X", ...)``, the same with a
module-level string constant instead of the literal, and the fields of every pydantic-settings
class (``env_prefix`` + field name, or the field's ``alias``/``validation_alias``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KIND_FOLDERS = ("plugins", "adapters", "algorithms", "backends", "examples")


def source_files() -> Iterator[Path]:
    """The shipped modules: the core's and each distribution's, not tests or benchmarks."""
    yield from sorted((ROOT / "agentlightning_core").rglob("*.py"))
    for kind in KIND_FOLDERS:
        for project in sorted((ROOT / kind).glob("*/pyproject.toml")):
            for path in sorted(project.parent.rglob("*.py")):
                rel = path.relative_to(project.parent).parts
                if rel[0] in {"tests", "build"} or "tests" in rel or rel[0].startswith("."):
                    continue
                yield path


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _constants(tree: ast.Module) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in tree.body:
        target = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
            out[target.id] = value.value
    return out


def _string(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def settings_prefix(cls: ast.ClassDef, constants: dict[str, str], inherited: str = "") -> str:
    """The class's ``env_prefix``; a subclass that sets none keeps its parent's."""
    prefix = inherited
    for node in cls.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "model_config" for t in node.targets
        ):
            if isinstance(node.value, ast.Call):
                for kw in node.value.keywords:
                    if kw.arg == "env_prefix":
                        prefix = _string(kw.value, constants) or ""
    return prefix


def _settings_fields(cls: ast.ClassDef, constants: dict[str, str], prefix: str) -> Iterator[str]:
    for node in cls.body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        if node.target.id == "model_config" or node.target.id.startswith("_"):
            continue
        aliases: list[str] = []
        if isinstance(node.value, ast.Call):
            for kw in node.value.keywords:
                if kw.arg in {"alias", "validation_alias"}:
                    if isinstance(kw.value, ast.Call):  # AliasChoices("A", "B")
                        aliases += [s for a in kw.value.args if (s := _string(a, constants))]
                    elif alias := _string(kw.value, constants):
                        aliases.append(alias)
        yield from (a.upper() for a in aliases) if aliases else [(prefix + node.target.id).upper()]


def _read_name(node: ast.AST) -> ast.AST | None:
    """The expression naming the variable when ``node`` reads the environment, else ``None``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        func = node.func
        if func.attr in {"get", "setdefault", "pop"} and _is_environ(func.value):
            return node.args[0]
        if func.attr == "getenv":
            return node.args[0]
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return node.slice
    return None


def env_helpers(tree: ast.Module) -> set[str]:
    """Functions that read the variable named by one of their parameters (``_env_flag(name)``)."""
    helpers: set[str] = set()
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef):
            params = {a.arg for a in func.args.args}
            for node in ast.walk(func):
                named = _read_name(node)
                if isinstance(named, ast.Name) and named.id in params:
                    helpers.add(func.name)
    return helpers


def variables_in(path: Path, helpers: set[str] = frozenset()) -> set[str]:  # type: ignore[assignment]
    """The environment variables one module reads (``helpers``: see :func:`env_helpers`)."""
    tree = ast.parse(path.read_text(), str(path))
    constants = _constants(tree)
    helpers = set(helpers) | env_helpers(tree)
    settings_classes = {"BaseSettings": ""}  # class name → its env_prefix
    found: set[str] = set()
    for node in ast.walk(tree):
        named = _read_name(node)
        if named is not None and (name := _string(named, constants)):
            found.add(name)
        if isinstance(node, ast.Call) and node.args:
            callee = node.func
            callee_name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
            if callee_name in helpers and (name := _string(node.args[0], constants)):
                found.add(name)
        if (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In | ast.NotIn)
        ):
            if _is_environ(node.comparators[0]) and (name := _string(node.left, constants)):
                found.add(name)
        elif isinstance(node, ast.ClassDef):
            parents = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
            parent = next((b for b in parents if b in settings_classes), None)
            if parent is not None:  # a settings class, or a subclass of one of this module's
                prefix = settings_prefix(node, constants, settings_classes[parent])
                settings_classes[node.name] = prefix
                found.update(_settings_fields(node, constants, prefix))
    return found


def variables_read() -> dict[str, list[str]]:
    """Variable → the files (relative to the repository) that read it."""
    files = list(source_files())
    helpers: set[str] = set()
    for path in files:
        helpers |= env_helpers(ast.parse(path.read_text(), str(path)))
    out: dict[str, list[str]] = {}
    for path in files:
        for name in variables_in(path, helpers):
            out.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return out
