"""TLS material for the broker with the ``cryptography`` package: a private CA, the broker's
server certificate, and client certificates whose common name is the account they stand for
(a vehicle id, or ``ground-control``), for ``use_identity_as_username``. Keys are EC P-256."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT, CA_KEY = "ca.crt", "ca.key"


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lastmile-fleet"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pair:
    folder.mkdir(parents=True, exist_ok=True)
    crt, kf = folder / f"{stem}.crt", folder / f"{stem}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kf.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    os.chmod(kf, 0o600)
    return Pair(crt, kf)


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days)))


def make_ca(folder: Path, name: str = "lastmile-fleet broker CA", days: int = 3650) -> Pair:
    """A self-signed CA that signs only the broker's and the clients' certificates."""
    key = _key()
    cert = (_builder(_name(name), _name(name), key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return _write(folder, "ca", cert, key)


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
    key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
    return cert, key  # type: ignore[return-value]


def _leaf(ca_folder: Path, out: Path, stem: str, common_name: str, usage, sans: list[x509.GeneralName], days: int) -> Pair:
    ca_cert, ca_key = _load_ca(ca_folder)
    key = _key()
    b = (_builder(_name(common_name), ca_cert.subject, key.public_key(), days)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _write(out, stem, b.sign(ca_key, hashes.SHA256()), key)


def make_server_cert(ca_folder: Path, out: Path, hostnames: list[str], days: int = 825) -> Pair:
    """The broker's certificate, valid for each of ``hostnames`` (DNS names or IP addresses)."""
    sans: list[x509.GeneralName] = []
    for h in hostnames:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    return _leaf(ca_folder, out, "broker", hostnames[0], ExtendedKeyUsageOID.SERVER_AUTH, sans, days)


def make_client_cert(ca_folder: Path, out: Path, username: str, days: int = 365) -> Pair:
    """A client certificate whose common name is the broker username it stands for."""
    return _leaf(ca_folder, out, username, username, ExtendedKeyUsageOID.CLIENT_AUTH, [], days)
