"""OpenAPI for routes that parse their own bodies (see :mod:`.codec`).

FastAPI documents a request body only when the handler declares it as a parameter; the fast
routes read raw bytes instead, so they declare the body here and the schema of each model is
added to ``components`` when the spec is built. The spec also declares the bearer scheme.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .auth import OPEN_PATHS

_BODY_MODELS: dict[str, type[BaseModel]] = {}

REF = "#/components/schemas/{model}"


def body_spec(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``model``."""
    _BODY_MODELS[model.__name__] = model
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
    }


def install_openapi(app: FastAPI, *, secured: bool) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        _, defs = models_json_schema([(m, "validation") for m in _BODY_MODELS.values()], ref_template=REF)
        for name, schema in defs.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        if secured:
            spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            for path, operations in spec.get("paths", {}).items():
                if path in OPEN_PATHS:
                    continue
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}]
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
