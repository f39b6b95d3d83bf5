"""``fleet keys``: ground control's signing key."""

from __future__ import annotations

import click


@click.group("keys")
def keys() -> None:
    """Ground control's Ed25519 signing key (FLEET_SIGNING_KEY_FILE)."""


@keys.command("show")
def show() -> None:
    """Print ground control's public key (PEM) for agents to pin (--gc-public-key); creates the
    key pair on first use. The key id and file go to stderr."""
    from fleet_protocol.signing import key_id, public_pem
    from ground_control.settings import Settings
    from ground_control.signing.keys import load_gc_key

    settings = Settings()
    key = load_gc_key(settings)
    click.echo(f"# ground control key id {key_id(key)} ({settings.signing_key_path})", err=True)
    click.echo(public_pem(key), nl=False)


@keys.command("sign")
@click.argument("envelope_file", type=click.File("rb"))
@click.option("--ttl", "ttl_s", type=float, default=None, help="Seconds it stays valid (default FLEET_SIGNED_MESSAGE_TTL_S).")
def sign(envelope_file: click.utils.LazyFile, ttl_s: float | None) -> None:
    """Sign a hand-written mission or command envelope with ground control's key (for flying by
    hand): ``ts`` becomes now and ``valid_until`` now + TTL; prints the signed JSON."""
    import json
    import uuid
    from datetime import datetime, timedelta, timezone

    from fleet_protocol import ProtocolError, parse_message, topics
    from fleet_protocol.signing import sign_raw
    from ground_control.settings import Settings
    from ground_control.signing.keys import load_gc_key

    settings = Settings()
    raw = json.loads(envelope_file.read())
    if not isinstance(raw, dict) or raw.get("type") not in ("mission", "command"):
        raise click.ClickException("expected a mission or command envelope (a JSON object with type mission|command)")
    now = datetime.now(timezone.utc)
    raw.pop("sig", None)
    raw.update(id=str(uuid.uuid4()), ts=now.isoformat(),
               valid_until=(now + timedelta(seconds=ttl_s or settings.signed_message_ttl_s)).isoformat())
    try:
        parse_message(topics.vehicle_topic(str(raw.get("vehicle_id")), raw["type"]), json.dumps(raw))
    except ProtocolError as exc:
        raise click.ClickException(f"not a valid {raw['type']}: {exc.reason}") from None
    click.echo(json.dumps(sign_raw(raw, load_gc_key(settings)), separators=(",", ":"), ensure_ascii=False))
