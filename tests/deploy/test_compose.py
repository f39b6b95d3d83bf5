"""docker-compose.yml is what an operator starts first, and nothing else runs it here (no Docker
in CI): read it and check it turns on every control (issue: "docker-compose uses all of it").
A merge once left two of ground control's settings inside its ``volumes:`` list, which made the
file invalid YAML; these tests would have caught it."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

from edge_agent.cli import agent as agent_command
from ground_control.settings import Settings
from sitl.cli import sim as sim_command

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
SUBST = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def resolved(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?error}, as with an .env that sets each required secret."""
    def one(m: re.Match[str]) -> str:
        return m["arg"] if m["op"] in (":-", "-") else "x" * 64
    return SUBST.sub(one, str(value))


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _settings_env_names() -> set[str]:
    names = {f"FLEET_{n.upper()}" for n in Settings.model_fields}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(getattr(alias, "choices", []) if alias is not None else [])
    return names


def test_ground_control_runs_with_every_control_on(services, monkeypatch):
    env = {k: resolved(v) for k, v in services["ground-control"]["environment"].items()}
    unknown = sorted(set(env) - _settings_env_names())
    assert not unknown, f"not settings of ground control (misspelt?): {unknown}"
    for k in [k for k in os.environ if k.startswith("FLEET_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    assert s.database_url.startswith("postgresql")
    assert all(e.tls for e in s.mqtt_endpoints) and s.mqtt_ca_file, "ground control must reach the broker over TLS"
    assert s.broker_admin == "dynsec", "vehicles must get their own broker accounts"
    assert s.auth_secret is not None and s.handover_secret is not None
    assert s.signing_key_file and s.signing_public_key_export
    assert not s.cors_origin_list


def test_the_plain_http_api_is_published_on_this_host_only_by_default(services):
    [port] = services["ground-control"]["ports"]
    assert resolved(port).startswith("127.0.0.1:"), port


@pytest.mark.parametrize("name", ["agent-drone-1", "agent-robot-1"])
def test_every_agent_uses_mutual_tls_pins_ground_control_and_passes_real_options(services, name):
    svc = services[name]
    args = svc["command"] if isinstance(svc["command"], list) else shlex.split(svc["command"])
    assert args[0] == "agent"
    known = {opt for p in agent_command.params for opt in (*p.opts, *p.secondary_opts)}
    flags = [a for a in args[1:] if a.startswith("--")]
    assert not set(flags) - known, f"{name}: options 'fleet agent' does not have: {set(flags) - known}"
    value = {flag: args[i + 2] for i, flag in enumerate(args[1:]) if flag.startswith("--") and i + 2 < len(args)}
    assert value["--mqtt"].startswith("mqtts://") and value["--mqtt"].endswith(":8884"), "mutual TLS listener"
    for flag in ("--mqtt-ca", "--mqtt-cert", "--mqtt-key", "--gc-public-key"):
        path = value[flag]
        assert any(str(v).split(":")[1] in (path, str(Path(path).parent)) for v in svc["volumes"]), \
            f"{name}: {flag} {path} is not mounted"
    assert "--allow-unsigned" not in flags and "--no-mavlink-signing" not in flags
    assert value["--vehicle-id"] in value["--mqtt-cert"], "the certificate is the vehicle's identity"


@pytest.mark.parametrize("name", ["sim-drone-1", "sim-robot-1"])
def test_every_simulator_passes_real_options(services, name):
    args = services[name]["command"]
    assert args[0] == "sim"
    known = {opt for p in sim_command.params for opt in (*p.opts, *p.secondary_opts)}
    assert not {a for a in args[1:] if a.startswith("--")} - known
