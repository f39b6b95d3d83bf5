"""A clustered broker is configured as its nodes' URLs; a link moves to the next node when one fails."""

from __future__ import annotations

import asyncio

import pytest

from edge_agent.mqtt_link import MqttConfig
from fleet_protocol.broker_endpoints import BrokerEndpoint, EndpointRotation, parse_broker_urls
from ground_control.embedded.broker import free_port
from ground_control.settings import Settings


def test_one_url_or_a_cluster_of_nodes():
    assert parse_broker_urls("mqtt://127.0.0.1:1883") == [BrokerEndpoint("127.0.0.1", 1883, False)]
    nodes = parse_broker_urls("mqtt://a:1884, mqtts://b ,c:1999")
    assert nodes == [BrokerEndpoint("a", 1884, False), BrokerEndpoint("b", 8883, True), BrokerEndpoint("c", 1999, False)]
    assert all(n.tls for n in parse_broker_urls("mqtt://a,mqtt://b", force_tls=True))


@pytest.mark.parametrize("bad", ["", "mqtt://a,,mqtt://b", "http://a:80", "mqtt://a:99999"])
def test_bad_broker_urls_are_refused_with_the_part_named(bad):
    with pytest.raises(ValueError):
        parse_broker_urls(bad)
    with pytest.raises(ValueError):
        Settings(mqtt_url=bad)


def test_rotation_gives_every_node_its_turn():
    r = EndpointRotation(parse_broker_urls("a:1,b:2,c:3"))
    assert [r.current.host, r.failed().host, r.failed().host, r.failed().host] == ["a", "b", "c", "a"]
    single = EndpointRotation(parse_broker_urls("a:1"))
    assert single.failed() == single.current


def test_both_sides_read_the_node_list():
    s = Settings(mqtt_url="mqtt://n1:1884,mqtt://n2:1885")
    assert (s.mqtt_host, s.mqtt_port, len(s.mqtt_endpoints)) == ("n1", 1884, 2)
    cfg = MqttConfig(url="mqtts://n1,mqtt://n2:1885")
    assert (cfg.host, cfg.port, cfg.use_tls, len(cfg.endpoints)) == ("n1", 8883, True, 2)


async def test_ground_control_link_moves_past_a_dead_node(mqtt_broker, unique_id):
    from ground_control.mqtt.link import MqttLink

    dead = free_port()     # nothing listens here: the first node of the list is down
    settings = Settings(mqtt_url=f"mqtt://127.0.0.1:{dead},{mqtt_broker.url}", mqtt_client_id=f"gc-rot-{unique_id}")

    async def handler(_message) -> None:
        return None

    link = MqttLink(settings, handler, [], persistent=False)
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 30)
        assert link.endpoints.current.port == mqtt_broker.port
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
