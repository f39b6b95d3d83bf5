"""`fleet certs`: the files a deployment needs, certificates that chain to the new CA and name
what they stand for, and no silent overwrite of an existing CA."""

from __future__ import annotations

from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import NameOID

import fleet_cli


def _cn(path) -> str:
    return x509.load_pem_x509_certificate(path.read_bytes()).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_init_then_a_vehicle(tmp_path):
    d = tmp_path / "certs"
    out = CliRunner().invoke(fleet_cli.main, ["certs", "init", str(d), "--host", "broker.example"])
    assert out.exit_code == 0, out.output
    for name in ("ca.crt", "ca.key", "broker.crt", "broker.key", "clients/ground-control.crt", "clients/ground-control.key"):
        assert (d / name).is_file(), name
    assert (d / "ca.key").stat().st_mode & 0o077 == 0, "the CA key is readable by others"
    sans = x509.load_pem_x509_certificate((d / "broker.crt").read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sans == ["broker.example", "localhost"]
    assert _cn(d / "clients/ground-control.crt") == "ground-control"

    out = CliRunner().invoke(fleet_cli.main, ["certs", "vehicle", "drone-7", "--dir", str(d)])
    assert out.exit_code == 0, out.output
    cert = x509.load_pem_x509_certificate((d / "clients/drone-7.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert _cn(d / "clients/drone-7.crt") == "drone-7"


def test_refuses_to_replace_a_ca_or_take_a_bad_vehicle_id(tmp_path):
    d = tmp_path / "certs"
    assert CliRunner().invoke(fleet_cli.main, ["certs", "init", str(d)]).exit_code == 0
    before = (d / "ca.crt").read_bytes()
    out = CliRunner().invoke(fleet_cli.main, ["certs", "init", str(d)])
    assert out.exit_code != 0 and "orphan" in out.output and (d / "ca.crt").read_bytes() == before
    out = CliRunner().invoke(fleet_cli.main, ["certs", "vehicle", "a/b+#", "--dir", str(d)])
    assert out.exit_code == 2 and "not a vehicle id" in out.output
    out = CliRunner().invoke(fleet_cli.main, ["certs", "vehicle", "d1", "--dir", str(tmp_path)])
    assert out.exit_code != 0 and "fleet certs init" in out.output
