"""Who is calling: set on ``request.state.principal`` for every authenticated request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ground_control.auth.roles import Role

Kind = Literal["user", "api_key"]


@dataclass(frozen=True)
class Principal:
    name: str
    kind: Kind
    role: Role
    hubs: tuple[str, ...] | None = None   # None: every hub; else only these hubs' parcels/vehicles

    @property
    def scoped(self) -> bool:
        return self.hubs is not None

    def may_touch_hub(self, hub_id: str | None) -> bool:
        return self.hubs is None or (hub_id is not None and hub_id in self.hubs)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "role": self.role.value,
                "hubs": list(self.hubs) if self.hubs is not None else None}
