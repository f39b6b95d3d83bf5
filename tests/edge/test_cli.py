import importlib

from click.testing import CliRunner


def test_agent_command_is_wired_and_documents_its_options():
    import fleet_cli

    cmd = fleet_cli.main.get_command(None, "agent")
    assert cmd is importlib.import_module("edge_agent.cli").agent
    out = CliRunner().invoke(fleet_cli.main, ["agent", "--help"]).output
    for opt in ("--vehicle-id", "--mavlink", "--mqtt", "--mqtt-username", "--mqtt-password", "--tls", "--ca-cert",
                "--client-cert", "--client-key", "--vehicle-type", "--max-payload-kg", "--battery-wh", "--wh-per-km",
                "--telemetry-hz", "--outbox", "--handover-timeout", "FLEET_MQTT_PASSWORD", "--release-servo",
                "--servo-release-pwm", "--servo-hold-pwm", "--no-gripper-reboot", "--mavlink-key",
                "--no-mavlink-signing", "--gc-public-key", "--allow-unsigned",
                "--signing-key", "--show-public-key", "FLEET_GC_PUBLIC_KEYS"):
        assert opt in out


def test_mqtt_config_from_urls():
    from edge_agent.mqtt_link import MqttConfig

    c = MqttConfig(url="mqtts://broker.example:8884")
    assert c.use_tls and c.port == 8884 and c.host == "broker.example"
    assert MqttConfig(url="mqtts://b").port == 8883
    assert not MqttConfig(url="mqtt://b").use_tls and MqttConfig(url="mqtt://b").port == 1883


def test_agent_constructor_kwargs(tmp_path):
    import asyncio

    from edge_agent.agent import Agent

    async def make():
        return Agent(vehicle_id="v-1", mavlink_url="tcp:127.0.0.1:5760", mqtt_url="mqtt://127.0.0.1:1883",
                     mqtt_username="u", mqtt_password="p", vehicle_type="robot", outbox_path=str(tmp_path / "o.db"))

    a = asyncio.run(make())
    assert a.kind == "rover" and a.cfg.mqtt.username == "u" and a.mav.port == 5760
    a.outbox.close()


def agent_config(monkeypatch) -> dict:
    """Replace the agent with a stand-in; the returned dict gets the AgentConfig the CLI built."""
    import edge_agent.agent as agent_mod

    seen: dict = {}

    class FakeAgent:
        def __init__(self, cfg):
            seen["cfg"] = cfg

        def stop(self):
            pass

        async def run(self):
            return None

    monkeypatch.setattr(agent_mod, "Agent", FakeAgent)
    return seen


def test_release_servos_from_the_command_line(monkeypatch):
    """--release-servo is repeatable: one parcel per servo; none = the gripper, one parcel."""
    import fleet_cli

    seen = agent_config(monkeypatch)
    out = CliRunner().invoke(fleet_cli.main, ["agent", "--vehicle-id", "d1", "--release-servo", "10",
                                              "--release-servo", "11", "--no-gripper-reboot"])
    assert out.exit_code == 0, out.output
    cfg = seen["cfg"]
    assert cfg.release_servos == (10, 11) and cfg.release_channels == 2 and cfg.reboot_for_gripper is False
    CliRunner().invoke(fleet_cli.main, ["agent", "--vehicle-id", "d1"])
    assert seen["cfg"].release_servos == () and seen["cfg"].release_channels == 1


def test_broker_tls_files_from_the_command_line(monkeypatch, tmp_path):
    """--mqtt-ca pins the broker's CA; --mqtt-cert/--mqtt-key are the vehicle's identity (mTLS)."""
    import fleet_cli

    seen = agent_config(monkeypatch)
    files = {name: tmp_path / name for name in ("ca.crt", "d1.crt", "d1.key")}
    for f in files.values():
        f.write_text("-")
    out = CliRunner().invoke(fleet_cli.main, [
        "agent", "--vehicle-id", "d1", "--mqtt", "mqtts://broker.example:8884", "--mqtt-ca", str(files["ca.crt"]),
        "--mqtt-cert", str(files["d1.crt"]), "--mqtt-key", str(files["d1.key"])])
    assert out.exit_code == 0, out.output
    m = seen["cfg"].mqtt
    assert m.use_tls and (m.ca_cert, m.client_cert, m.client_key) == tuple(str(f) for f in files.values())
