"""OpenAPI: the app-wide ``authorize`` dependency declares both bearer schemes on every
operation; public operations (policy.PUBLIC_OPERATIONS) are marked as needing none, every other
one documents its 401 and 403 answers and the roles allowed."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ground_control.auth.policy import RULES, is_public

UNAUTHORIZED = {"description": "no credential, or an expired, forged or revoked one (WWW-Authenticate: Bearer)"}


def install_public_security(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path, operations in schema.get("paths", {}).items():
            for method, op in operations.items():
                if not isinstance(op, dict):
                    continue
                if is_public(method.upper(), path):
                    op["security"] = []
                    continue
                responses = op.setdefault("responses", {})
                responses.setdefault("401", UNAUTHORIZED)
                rule = RULES.get((method.upper(), path))
                roles = ", ".join(sorted(r.value for r in rule.roles)) if rule else "none"
                denied = f"the credential's role may not do this (allowed: {roles})"
                if "403" in responses:   # the operation's own 403 (e.g. a wrong handover code)
                    responses["403"] = {**responses["403"],
                                        "description": f"{responses['403'].get('description', '')}; or {denied}"}
                else:
                    responses["403"] = {"description": denied}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
