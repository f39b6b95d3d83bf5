"""The four roles a principal can hold."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"            # everything: users, keys, vehicles, hubs, geofences, costs, dead letters
    dispatcher = "dispatcher"  # parcels, plans, operator commands; reads everything operational
    viewer = "viewer"          # read only
    integrator = "integrator"  # creates and reads parcels (an external shop or warehouse system)
