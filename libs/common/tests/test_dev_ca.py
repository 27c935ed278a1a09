"""The development CA: a CA that can sign only leaves, leaves that serve and route for exactly
the hosts asked for, and private keys nobody else can read."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from datetime import timedelta

import pytest
from cloudaudit.common.clock import wall_now
from cloudaudit.common.dev_ca import DevCA, DevCaError
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID


def _load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_ca_is_p256_for_a_year_and_signs_only_leaves(tmp_path):
    ca = DevCA(tmp_path / "ca")
    assert ca.ensure() is True
    assert ca.ensure() is False  # kept while it has time left
    cert = _load(ca.ca_file)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    lifetime = cert.not_valid_after_utc - wall_now()
    assert timedelta(days=364) < lifetime <= timedelta(days=365)


def test_a_leaf_serves_and_routes_for_exactly_its_hosts(tmp_path):
    ca = DevCA(tmp_path)
    ca.ensure()
    issued = ca.issue("node-1", ["10.99.0.1", "nats-1.cluster.test", "::1"])
    cert = _load(issued.cert_file)
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.99.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert sans.get_values_for_type(x509.DNSName) == ["nats-1.cluster.test"]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(_load(ca.ca_file))
    # Python's own TLS stack takes the pair as a server certificate for that CA
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.cert_file, issued.key_file)


def test_private_keys_are_readable_by_their_owner_only(tmp_path):
    ca = DevCA(tmp_path / "tls")
    ca.ensure()
    issued = ca.issue("server", ["127.0.0.1"])
    assert stat.S_IMODE(ca.directory.stat().st_mode) == 0o700
    for path in (ca.ca_key_file, issued.key_file, issued.cert_file, ca.ca_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(ca.directory.glob(".*.tmp"))  # written by rename, nothing left half-done


def test_a_certificate_is_issued_again_when_it_no_longer_fits(tmp_path):
    ca = DevCA(tmp_path)
    ca.ensure()
    assert ca.needs_issue("server", ["127.0.0.1"])  # none yet
    ca.issue("server", ["127.0.0.1", "localhost"])
    assert not ca.needs_issue("server", ["127.0.0.1", "localhost"])
    assert ca.needs_issue("server", ["127.0.0.1"])  # other hosts
    ca.ca_file.unlink()
    ca.ca_key_file.unlink()
    ca.ensure()  # a new CA under the same name: its old leaves are strangers to it
    assert ca.needs_issue("server", ["127.0.0.1", "localhost"])


@pytest.mark.parametrize("host", ["", "nats://host", "host:4222", "a b"])
def test_a_host_that_is_not_a_name_or_address_is_refused_with_the_fix(tmp_path, host):
    ca = DevCA(tmp_path)
    ca.ensure()
    with pytest.raises(DevCaError, match="--host"):
        ca.issue("server", [host])


def test_issuing_without_a_ca_says_so(tmp_path):
    with pytest.raises(DevCaError, match="no development CA"):
        DevCA(tmp_path).issue("server", ["127.0.0.1"])
