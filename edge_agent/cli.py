"""``fleet agent``: run the edge agent for one vehicle."""

from __future__ import annotations

import asyncio
import signal

import click

from fleet_protocol import VehicleType


@click.command("agent")
@click.option("--vehicle-id", required=True, help="This vehicle's id (MQTT topics lmf/v1/vehicle/<id>/...).")
@click.option("--mavlink", "mavlink_url", default="tcp:127.0.0.1:5760", show_default=True, help="Autopilot link, tcp:HOST:PORT.")
@click.option("--mqtt", "mqtt_url", default="mqtt://127.0.0.1:1883", show_default=True, help="Broker URL; mqtts:// implies TLS. The nodes of a clustered broker: comma-separated URLs, tried in turn.")
@click.option("--mqtt-username", default=None)
@click.option("--mqtt-password", default=None, envvar="FLEET_MQTT_PASSWORD", help="Or env FLEET_MQTT_PASSWORD.")
@click.option("--tls", is_flag=True, help="Use TLS (implied by mqtts://).")
@click.option("--mqtt-ca", "--ca-cert", "ca_cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CA that signed the broker's certificate; any other broker is refused.")
@click.option("--mqtt-cert", "--client-cert", "client_cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="This vehicle's client certificate (mutual TLS; its CN is the vehicle id).")
@click.option("--mqtt-key", "--client-key", "client_key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The client certificate's private key.")
@click.option("--vehicle-type", type=click.Choice(["drone", "robot"]), default="drone", show_default=True)
@click.option("--max-payload-kg", type=float, default=2.5, show_default=True)
@click.option("--battery-wh", type=float, default=None, help="Battery capacity; with --wh-per-km enables the energy check.")
@click.option("--wh-per-km", type=float, default=None)
@click.option("--telemetry-hz", type=float, default=2.0, show_default=True)
@click.option("--outbox", "outbox_path", default=None,
              help="SQLite file (default ~/.local/state/lastmile-fleet/<id>-outbox.db, else ./var/).")
@click.option("--handover-timeout", "handover_timeout_s", type=float, default=None,
              help="Seconds to wait for a robot handover (default: the mission's handover_timeout_s).")
@click.option("--release-servo", "release_servos", type=click.IntRange(1, 16), multiple=True,
              help="A servo output (SERVOn, FUNCTION 0) that releases one parcel; repeat per parcel. Default: "
                   "none, the ArduPilot gripper, which carries one parcel per trip (missions with more "
                   "release stops are rejected 'payload').")
@click.option("--servo-release-pwm", type=click.IntRange(800, 2200), default=1100, show_default=True)
@click.option("--servo-hold-pwm", type=click.IntRange(800, 2200), default=1900, show_default=True)
@click.option("--no-gripper-reboot", is_flag=True,
              help="Never reboot the autopilot when its gripper does not answer (reject the mission instead).")
@click.option("--mavlink-key", "mavlink_key_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="MAVLink 2 signing key file (32 bytes or 64 hex digits, mode 0600). Default: "
                   "<id>-mavlink.key beside the outbox, generated on first start.")
@click.option("--no-mavlink-signing", is_flag=True,
              help="Talk to the autopilot unsigned (for autopilots that cannot sign MAVLink 2).")
@click.option("--gc-public-key", "gc_public_keys", type=click.Path(exists=True, dir_okay=False), multiple=True,
              envvar="FLEET_GC_PUBLIC_KEYS", help="Ground control's public key file (PEM, from 'fleet keys show'; or env FLEET_GC_PUBLIC_KEYS); "
              "repeat to trust an old and a new key during a rotation. Missions and commands signed by "
              "no pinned key are refused.")
@click.option("--allow-unsigned", is_flag=True,
              help="Also act on UNSIGNED missions and commands (migration from unsigned ground control only).")
@click.option("--signing-key", "signing_key_path", default=None,
              help="This agent's private key file (created 0600 on first start; default beside the outbox: <outbox>.key).")
@click.option("--show-public-key", is_flag=True,
              help="Print this agent's public key (creating the key pair if needed) and exit; register it with "
                   "PUT /vehicles/{id}/public-key.")
def agent(vehicle_id: str, mavlink_url: str, mqtt_url: str, mqtt_username: str | None, mqtt_password: str | None,
          tls: bool, ca_cert: str | None, client_cert: str | None, client_key: str | None, vehicle_type: str,
          max_payload_kg: float, battery_wh: float | None, wh_per_km: float | None, telemetry_hz: float,
          outbox_path: str | None, handover_timeout_s: float | None, release_servos: tuple[int, ...],
          servo_release_pwm: int, servo_hold_pwm: int, no_gripper_reboot: bool, mavlink_key_path: str | None,
          no_mavlink_signing: bool, gc_public_keys: tuple[str, ...], allow_unsigned: bool,
          signing_key_path: str | None, show_public_key: bool) -> None:
    """Run the edge agent for one vehicle: MQTT <-> MAVLink."""
    if mavlink_key_path and no_mavlink_signing:
        raise click.UsageError("--mavlink-key and --no-mavlink-signing contradict each other")
    from edge_agent.agent import Agent, AgentConfig, default_key_path, default_outbox_path
    from edge_agent.mavlink_key import KeyFileError, read_key
    from edge_agent.mqtt_link import MqttConfig
    from fleet_keys.keyfile import load_or_create, read_public_keys
    from fleet_protocol.signing import key_id, public_pem

    if show_public_key:
        path = signing_key_path or default_key_path(outbox_path or default_outbox_path(vehicle_id))
        if path is None:
            raise click.ClickException("an in-memory outbox has no key file: give --signing-key")
        key, created = load_or_create(path)
        click.echo(f"# vehicle {vehicle_id} key id {key_id(key)} ({'new' if created else 'existing'} key in {path})",
                   err=True)
        click.echo(public_pem(key), nl=False)
        return

    if mavlink_key_path:
        try:
            read_key(mavlink_key_path)
        except KeyFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--mavlink-key") from exc

    cfg = AgentConfig(
        vehicle_id=vehicle_id, mavlink_url=mavlink_url,
        mqtt=MqttConfig(url=mqtt_url, username=mqtt_username, password=mqtt_password, tls=tls,
                        ca_cert=ca_cert, client_cert=client_cert, client_key=client_key),
        vehicle_type=VehicleType(vehicle_type), max_payload_kg=max_payload_kg, battery_wh=battery_wh,
        wh_per_km=wh_per_km, telemetry_hz=telemetry_hz, outbox_path=outbox_path, handover_timeout_s=handover_timeout_s,
        release_servos=tuple(release_servos), servo_release_pwm=servo_release_pwm, servo_hold_pwm=servo_hold_pwm,
        reboot_for_gripper=not no_gripper_reboot, mavlink_signing=not no_mavlink_signing,
        mavlink_key_path=mavlink_key_path,
        gc_public_keys=tuple(read_public_keys(gc_public_keys)), allow_unsigned=allow_unsigned,
        signing_key_path=signing_key_path,
    )

    async def main() -> None:
        a = Agent(cfg)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, a.stop)
        await a.run()

    asyncio.run(main())
