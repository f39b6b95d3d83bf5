"""A real Mosquitto of the test's own with the dynamic security plugin, optionally with a TLS
listener and a mutual-TLS listener, in a temp folder; plus a throwaway CA (``TlsFiles``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from ground_control.broker_admin.certs import Pair, make_ca, make_client_cert, make_server_cert
from ground_control.broker_admin.dynsec import AdminConnection
from ground_control.broker_admin.provisioner import DynsecBrokerAdmin
from ground_control.embedded.broker import free_port, launch_mosquitto, mosquitto_binary

PLUGIN_PATHS = ("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so", "/usr/lib/mosquitto_dynamic_security.so",
                "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so")
ADMIN_USER, ADMIN_PASSWORD = "fleet-admin", "admin-pw-for-tests"


def dynsec_plugin() -> str | None:
    return next((p for p in PLUGIN_PATHS if Path(p).exists()), None)


def _give_to_mosquitto(folder: Path) -> None:
    """Mosquitto started as root drops to the ``mosquitto`` user before it reads plugin files
    and certificates, and the plugin rewrites its JSON on every change."""
    if os.geteuid() != 0:
        return
    import pwd
    with contextlib.suppress(KeyError):
        u = pwd.getpwnam("mosquitto")
        for p in [folder, *folder.rglob("*")]:
            os.chown(p, u.pw_uid, u.pw_gid)


@dataclass
class TlsFiles:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost, and client certificates."""
    folder: Path
    ca: Pair
    server: Pair

    @classmethod
    def make(cls, folder: Path, hostnames: tuple[str, ...] = ("localhost", "127.0.0.1")) -> "TlsFiles":
        ca = make_ca(folder / "ca")
        return cls(folder, ca, make_server_cert(folder / "ca", folder / "server", list(hostnames)))

    def client(self, username: str) -> Pair:
        return make_client_cert(self.folder / "ca", self.folder / "clients", username)


@dataclass
class DynsecBroker:
    port: int                   # password logins (plain, or TLS when tls was given)
    mtls_port: int | None       # client certificate required, its CN is the username
    folder: Path
    _broker: object

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._broker.stop()


def start_dynsec_broker(tls: TlsFiles | None = None, mtls: bool = False) -> DynsecBroker:
    plugin = dynsec_plugin()
    if mosquitto_binary() is None or plugin is None or not shutil.which("mosquitto_ctrl"):
        pytest.skip("mosquitto with its dynamic security plugin and mosquitto_ctrl are needed")
    folder = Path(tempfile.mkdtemp(prefix="lmf-dynsec-"))
    config = folder / "dynamic-security.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(config), ADMIN_USER, ADMIN_PASSWORD],
                   check=True, capture_output=True)
    port = free_port()
    # listener-scoped options follow their listener (before any listener they would open 1883)
    lines = ["per_listener_settings false", f"plugin {plugin}", f"plugin_opt_config_file {config}",
             "allow_anonymous false", "log_dest none", f"listener {port} 127.0.0.1", "use_username_as_clientid true"]
    if tls is not None:
        lines += [f"cafile {tls.ca.cert}", f"certfile {tls.server.cert}", f"keyfile {tls.server.key}"]
    mtls_port = None
    if mtls:
        assert tls is not None
        mtls_port = free_port()
        lines += [f"listener {mtls_port} 127.0.0.1", f"cafile {tls.ca.cert}", f"certfile {tls.server.cert}",
                  f"keyfile {tls.server.key}", "require_certificate true", "use_identity_as_username true", "use_username_as_clientid true"]
    _give_to_mosquitto(folder)
    if tls is not None:
        _give_to_mosquitto(tls.folder)
    broker = launch_mosquitto("\n".join(lines) + "\n", port, cleanup=folder)
    return DynsecBroker(port, mtls_port, folder, broker)


def admin_for(broker: DynsecBroker, tls: TlsFiles | None = None) -> DynsecBrokerAdmin:
    scheme = "mqtts" if tls else "mqtt"
    return DynsecBrokerAdmin(AdminConnection(f"{scheme}://127.0.0.1:{broker.port}", ADMIN_USER, ADMIN_PASSWORD,
                                             ca_file=str(tls.ca.cert) if tls else None, timeout_s=10))
