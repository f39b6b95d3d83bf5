"""``fleet verify-proof FILE_OR_URL``: check a proof of delivery with public data only.

The document is what ``GET /parcels/{id}/proof`` returns. The check: the signature verifies over
``statement`` (the exact bytes the vehicle signed) with the vehicle's public key, the key id is
that key's fingerprint, and the statement is a ``delivered`` event for this parcel. Ground
control is not trusted for any of it; to not trust the key it serves either, pass the vehicle's
key you obtained yourself with ``--public-key``.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from fleet_protocol.signing import KeyFormatError, key_id, load_public, verify_statement


@dataclass(frozen=True)
class ProofCheck:
    ok: bool
    reason: str
    statement: dict[str, Any] | None = None


def check_document(doc: dict[str, Any], public_key: str | None = None) -> ProofCheck:
    """Pure: is ``doc`` (a ``GET /parcels/{id}/proof`` answer) a proof whose statement the
    vehicle's key signed, about this parcel, vehicle and event?"""
    signed = doc.get("signed")
    if not isinstance(signed, dict) or not signed.get("signature") or not signed.get("statement"):
        return ProofCheck(False, "the proof is not signed (the vehicle had no registered key)")
    key_text = public_key or signed.get("public_key")
    if not key_text:
        return ProofCheck(False, "no public key to verify with")
    try:
        key = load_public(key_text)
    except KeyFormatError as exc:
        return ProofCheck(False, f"public key: {exc}")
    statement_bytes = str(signed["statement"]).encode("utf-8")
    v = verify_statement(statement_bytes, str(signed["signature"]), key)
    if not v.ok:
        return ProofCheck(False, f"signature does not verify: {v.detail}")
    if signed.get("key_id") not in (None, key_id(key)):
        return ProofCheck(False, f"key id {signed.get('key_id')} is not the key's fingerprint {key_id(key)}")
    statement = json.loads(statement_bytes)
    body = statement.get("body", {})
    if statement.get("type") != "event" or body.get("kind") != "delivered":
        return ProofCheck(False, "the signed statement is not a delivered event", statement)
    for name, theirs, ours in (("parcel", doc.get("parcel_id"), body.get("parcel_id")),
                               ("vehicle", doc.get("vehicle_id"), statement.get("vehicle_id")),
                               ("mission", doc.get("mission_id"), body.get("mission_id")),
                               ("event", doc.get("event_id"), statement.get("id"))):
        if theirs is not None and theirs != ours:
            return ProofCheck(False, f"the document names {name} {theirs}, the signed statement {ours}", statement)
    return ProofCheck(True, f"parcel {body.get('parcel_id')} delivered by {statement.get('vehicle_id')} "
                            f"(key {key_id(key)}), signature valid", statement)


def _load(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as r:   # noqa: S310 - the user's own URL
            return json.loads(r.read())
    return json.loads(Path(source).read_text())


@click.command("verify-proof")
@click.argument("source")
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The vehicle's public key from your own records (default: the one in the document).")
def verify_proof(source: str, public_key_file: str | None) -> None:
    """Verify a signed proof of delivery (a file, or a GET /parcels/{id}/proof URL)."""
    try:
        doc = _load(source)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {source}: {exc}") from None
    result = check_document(doc, Path(public_key_file).read_text() if public_key_file else None)
    if result.statement is not None and result.ok:
        proof = result.statement["body"]["proof"]
        click.echo(json.dumps({"parcel_id": result.statement["body"]["parcel_id"],
                               "vehicle_id": result.statement["vehicle_id"], "signed_at": result.statement["ts"],
                               "position": proof.get("position"), "delivered_at": proof.get("delivered_at"),
                               "confirmed": proof.get("confirmed")}, indent=2))
    click.echo(("OK: " if result.ok else "FAILED: ") + result.reason, err=not result.ok)
    sys.exit(0 if result.ok else 1)
