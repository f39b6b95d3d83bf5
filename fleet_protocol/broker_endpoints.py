"""Where the broker is: one URL, or several nodes of a clustered broker separated by commas.

``mqtt://n1:1883,mqtt://n2:1883,mqtts://n3:8883`` names the nodes of one cluster (NATS with MQTT
and JetStream, RabbitMQ's MQTT plugin, EMQX, HiveMQ, VerneMQ). A client connects to the first
node; when that connection fails or drops it moves on to the next (:class:`EndpointRotation`), so
a node that dies costs one reconnect, not the link. The persistent session, retained messages and
queued QoS 1 messages live in the cluster, not in the node, which is what makes moving safe.

Pure: parsing and rotation only; both ground control and the edge agent use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True, "tls": True}


@dataclass(frozen=True)
class BrokerEndpoint:
    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_urls(spec: str, *, force_tls: bool = False) -> list[BrokerEndpoint]:
    """``spec`` as one URL or a comma-separated list; ``ValueError`` names the bad part."""
    endpoints: list[BrokerEndpoint] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            raise ValueError(f"empty broker URL in {spec!r}")
        url = urlparse(part if "://" in part else f"mqtt://{part}")
        if url.scheme not in SCHEMES:
            raise ValueError(f"broker URL {part!r}: scheme must be one of {sorted(SCHEMES)}")
        try:
            port = url.port
        except ValueError as exc:
            raise ValueError(f"broker URL {part!r}: {exc}") from None
        tls = force_tls or SCHEMES[url.scheme]
        endpoints.append(BrokerEndpoint(url.hostname or "127.0.0.1", port or (8883 if tls else 1883), tls))
    return endpoints


class EndpointRotation:
    """The node to try now; :meth:`failed` moves on to the next one, round robin.

    A link calls :meth:`failed` whenever a connection attempt fails or an established connection
    drops, so with one endpoint nothing changes and with several every node gets its turn."""

    def __init__(self, endpoints: list[BrokerEndpoint]) -> None:
        if not endpoints:
            raise ValueError("no broker endpoint")
        self.endpoints = list(endpoints)
        self._index = 0

    @property
    def current(self) -> BrokerEndpoint:
        return self.endpoints[self._index]

    def failed(self) -> BrokerEndpoint:
        self._index = (self._index + 1) % len(self.endpoints)
        return self.current
