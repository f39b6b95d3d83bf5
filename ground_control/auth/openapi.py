"""OpenAPI: the app-wide ``authorize`` dependency declares both bearer schemes on every
operation; public operations (policy.PUBLIC_OPERATIONS) are marked as needing none."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ground_control.auth.policy import is_public


def install_public_security(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path, operations in schema.get("paths", {}).items():
            for method, op in operations.items():
                if isinstance(op, dict) and is_public(method.upper(), path):
                    op["security"] = []
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
