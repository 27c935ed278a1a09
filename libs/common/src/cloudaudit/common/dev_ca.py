"""A development certificate authority for NATS: a CA and the server/route certificates it signs.

For the embedded NATS with TLS on and the multi-host cluster test, never for production (there
the certificates come from the organisation's own CA or cert-manager). ECDSA P-256, SHA-256,
one year; leaf certificates carry serverAuth and clientAuth, since a cluster route is both the
server one node dials and the client of the node that dials it. Private keys are written 0600
in a 0700 directory and never printed or logged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cloudaudit.common.clock import wall_now
from cloudaudit.common.private_files import private_dir, write_private
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365
# Re-issued when this close to expiry, so a long-lived state directory never starts with a
# certificate that dies next week.
RENEW_BEFORE = timedelta(days=30)
# Clocks of the hosts in a cluster disagree a little; a certificate valid from "now" on the
# host that issued it would be "not yet valid" on a host a few seconds behind.
BACKDATE = timedelta(minutes=5)
# Validity is checked by OpenSSL and Go against the real clock, so certificates use the wall
# clock, never the product's settable one (the demo may run "in" another month).
CA_NAME = "CloudAudit development CA"


class DevCaError(Exception):
    """A certificate could not be issued; the message says what to change."""


@dataclass(frozen=True)
class IssuedCertificate:
    """Where a certificate and its private key were written."""

    cert_file: Path
    key_file: Path
    hosts: tuple[str, ...]
    not_after: datetime


def _subject_alternative_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        text = host.strip().strip("[]")
        if not text:
            raise DevCaError("--host must not be empty: give a DNS name or an IP address")
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            if any(c in text for c in "/: @") or text.startswith("."):
                raise DevCaError(
                    f"--host {host!r} is neither a DNS name nor an IP address "
                    "(give the name or address clients put in NATS_URL, without scheme or port)"
                ) from None
            names.append(x509.DNSName(text.lower()))
    return names


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),  # nats-server reads unencrypted keys only; 0600 guards it
    )


class DevCA:
    """A CA in `directory` (`ca.pem`, `ca-key.pem`) and the certificates it issues there."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_file = directory / "ca.pem"
        self.ca_key_file = directory / "ca-key.pem"

    def _prepare(self) -> None:
        private_dir(self.directory)

    def ensure(self, valid_days: int = VALID_DAYS) -> bool:
        """Create the CA unless a usable one exists. Returns True when it created one (every
        certificate issued by the previous CA must then be issued again)."""
        self._prepare()
        if self.ca_file.exists() and self.ca_key_file.exists():
            cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
            if cert.not_valid_after_utc - wall_now() > RENEW_BEFORE:
                return False
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
        now = wall_now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        write_private(self.ca_key_file, _key_pem(key))
        write_private(self.ca_file, cert.public_bytes(serialization.Encoding.PEM))
        return True

    def _load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if not (self.ca_file.exists() and self.ca_key_file.exists()):
            raise DevCaError(f"no development CA in {self.directory}: create it first (ensure())")
        cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = serialization.load_pem_private_key(self.ca_key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise DevCaError(f"{self.ca_key_file} is not an ECDSA key: delete the CA to recreate")
        return cert, key

    def issue(
        self, name: str, hosts: Sequence[str], valid_days: int = VALID_DAYS
    ) -> IssuedCertificate:
        """A leaf certificate for `hosts` (DNS names or IP addresses, each a SAN), usable as a
        server and as a client (a cluster route is both): `<name>.pem`, `<name>-key.pem`."""
        if not hosts:
            raise DevCaError("give at least one --host: the name or address clients connect to")
        if not name.replace("-", "").replace("_", "").isalnum():
            raise DevCaError(f"certificate name {name!r}: use letters, digits, '-' and '_'")
        sans = _subject_alternative_names(hosts)  # refuses a bad host before anything is made
        self._prepare()
        ca_cert, ca_key = self._load()
        key = ec.generate_private_key(ec.SECP256R1())
        common_name = hosts[0] if len(hosts[0]) <= 64 else name  # X.509 caps a CN at 64
        now = wall_now()
        not_after = min(now + timedelta(days=valid_days), ca_cert.not_valid_after_utc)
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_key_usage(), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(sans), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        issued = IssuedCertificate(
            self.directory / f"{name}.pem",
            self.directory / f"{name}-key.pem",
            tuple(hosts),
            not_after,
        )
        write_private(issued.key_file, _key_pem(key))
        write_private(issued.cert_file, cert.public_bytes(serialization.Encoding.PEM))
        return issued

    def needs_issue(self, name: str, hosts: Sequence[str]) -> bool:
        """Whether `<name>.pem` is missing, near expiry, for other hosts, or from another CA."""
        cert_file = self.directory / f"{name}.pem"
        if not (cert_file.exists() and (self.directory / f"{name}-key.pem").exists()):
            return True
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return (
            cert.issuer != ca_cert.subject
            or cert.not_valid_after_utc - wall_now() < RENEW_BEFORE
            or list(sans) != _subject_alternative_names(hosts)
            or _issued_by_other_key(cert, ca_cert)
        )


def _issued_by_other_key(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """A CA re-created under the same name signs with a new key: its old leaves are strangers."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):  # another key, or not its issuer at all
        return True
    return False


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
