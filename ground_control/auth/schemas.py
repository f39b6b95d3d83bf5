"""Request and response models of the auth endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ground_control.api.types import Id
from ground_control.auth.roles import Role

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
Password = Annotated[str, Field(min_length=12, max_length=1024)]
Hubs = Annotated[list[Id], Field(max_length=1000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: Role
    hubs: list[str] | None


class MeOut(BaseModel):
    name: str
    kind: Literal["user", "api_key"]
    role: Role
    hubs: list[str] | None


class UserCreate(_In):
    name: Name
    role: Role
    password: Password | None = Field(default=None, description="omit to have one generated (returned once)")
    hubs: Hubs | None = Field(default=None, description="limit the user to these hubs; omit for every hub")


class UserUpdate(_In):
    role: Role | None = None
    enabled: bool | None = None
    password: Password | None = None
    hubs: Hubs | None = None
    all_hubs: bool = Field(default=False, description="true: lift the hub limit")


class UserOut(_Out):
    name: str
    role: Role
    hubs: list[str] | None
    enabled: bool
    created_at: datetime
    last_login_at: datetime | None


class UserCreated(UserOut):
    password: str | None = Field(default=None, description="the generated password, shown only now")


class ApiKeyCreate(_In):
    name: Name
    role: Role
    hubs: Hubs | None = None


class ApiKeyOut(_Out):
    id: str
    name: str
    prefix: str
    role: Role
    hubs: list[str] | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself, shown only now; only its hash is stored")
