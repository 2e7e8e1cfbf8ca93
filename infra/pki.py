"""The region PKI: one certificate authority per region, chained province → city → county.

Every region's exchange federates to its parent over mutual TLS, so each side must trust the
other's certificates. Chaining the region CAs along the administrative hierarchy gives the
whole tree of a province one trust anchor (the province CA): a county server certificate
verifies against the province root with the county and city CAs as intermediates, and a
certificate from another province's tree does not.

Algorithm: EC P-256 (ECDSA with SHA-256). Key generation takes microseconds instead of the
tens to hundreds of milliseconds of RSA-3072, which matters for a dynamic provider that
creates a key per host and for tests that build whole chains; certificates and handshakes
are smaller; and P-256 is supported by every TLS stack the standard uses (nginx/OpenSSL,
RabbitMQ/Erlang, PostgreSQL, Python) with the standard's modern ECDHE-ECDSA suites. Its
128-bit security equals RSA-3072's. (SM2, the national algorithm, is not available in
`cryptography`; it would be a change of this one module.)

Pure functions, PEM in and PEM out; nothing here touches the disk.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    PolicyBuilder,
    Store,
    VerificationError,
)

from infra.config.gbt2260 import Tier, analyse
from infra.names import internal_name

# Five years: long enough that a region CA outlives several rounds of host certificates,
# short enough that a compromised region key does not stay trusted for a decade.
DEFAULT_CA_VALIDITY_DAYS = 5 * 365
# One year for host certificates: renewal is a redeploy, and the monitor alerts on expiry.
DEFAULT_LEAF_VALIDITY_DAYS = 365
# Certificates start slightly in the past so a host whose clock lags the controller's by a
# few minutes (before chrony has synchronised) does not reject a fresh certificate.
BACKDATE = dt.timedelta(minutes=5)

CertificateKind = Literal["server", "client"]


class PkiError(ValueError):
    """An input the PKI cannot use: a wrong key type, a CA that may not sign, a bad chain."""


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its private key, both PEM."""

    cert_pem: str
    key_pem: str


# ---- PEM helpers ---------------------------------------------------------------------------


def generate_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_to_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def cert_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"expected an EC private key, got {type(key).__name__}")
    return key


def load_certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in order; an empty string is an empty bundle."""
    return x509.load_pem_x509_certificates(pem.encode()) if pem.strip() else []


def chain_to_pem(certs: Sequence[x509.Certificate]) -> str:
    return "".join(cert_to_pem(c) for c in certs)


# ---- certificate authorities ---------------------------------------------------------------


def path_length(code: str) -> int:
    """How many CA levels may sit below a region's CA: 2 for a province (city, county),
    1 for a city, 0 for a county (it signs only host certificates)."""
    tier = analyse(code).tier
    if tier is None:
        raise PkiError(f"{code!r} is not a region code: {analyse(code).error}")
    return Tier.county.rank - tier.rank


def ca_subject(code: str, name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"regionstack {code} {name} CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        ]
    )


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def _validity(
    now: dt.datetime, days: int, issuer: x509.Certificate | None
) -> tuple[dt.datetime, dt.datetime]:
    if days <= 0:
        raise PkiError(f"validity must be a positive number of days, got {days}")
    not_before = now - BACKDATE
    not_after = now + dt.timedelta(days=days)
    # A certificate must not outlive its issuer: past that date it could not verify anyway,
    # and the expiry monitor should report the issuer's date, not a later fictional one.
    if issuer is not None:
        not_after = min(not_after, issuer.not_valid_after_utc)
    return not_before, not_after


def create_region_ca(
    code: str,
    name: str,
    *,
    parent_cert_pem: str | None = None,
    parent_key_pem: str | None = None,
    validity_days: int = DEFAULT_CA_VALIDITY_DAYS,
    key_pem: str | None = None,
    now: dt.datetime | None = None,
) -> IssuedCertificate:
    """A region's CA: signed by the parent region's CA when given, else self-signed (a root).

    Pass `key_pem` to re-issue the certificate for an existing key (e.g. to extend its
    validity): certificates below stay valid because the key and subject do not change.
    """
    if (parent_cert_pem is None) != (parent_key_pem is None):
        raise PkiError("a parent CA needs both its certificate and its key, or neither")
    key = load_key(key_pem) if key_pem is not None else generate_key()
    subject = ca_subject(code, name)
    pathlen = path_length(code)
    parent_cert = load_certificate(parent_cert_pem) if parent_cert_pem is not None else None
    if parent_cert is not None:
        parent_bc = _basic_constraints(parent_cert)
        if not parent_bc.ca:
            raise PkiError(f"{parent_cert.subject.rfc4514_string()} is not a CA")
        if parent_bc.path_length is not None and parent_bc.path_length <= pathlen:
            raise PkiError(
                f"{parent_cert.subject.rfc4514_string()} allows {parent_bc.path_length} CA "
                f"level(s) below it; region {code} needs {pathlen + 1}: a region's parent CA "
                "must be of a higher tier"
            )
    signer = load_key(parent_key_pem) if parent_key_pem is not None else key
    if parent_cert is not None and parent_cert.public_key() != signer.public_key():
        raise PkiError("the parent key does not belong to the parent certificate")
    issuer_name = parent_cert.subject if parent_cert is not None else subject
    not_before, not_after = _validity(_now(now), validity_days, parent_cert)
    aki = (
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key())
        if parent_cert is None
        else _authority_key_id(parent_cert)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=pathlen), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(signer, hashes.SHA256())
    )
    return IssuedCertificate(cert_to_pem(cert), key_to_pem(key))


def ca_chain_pem(cert_pem: str, parent_chain_pem: str | None) -> str:
    """A CA's chain as served to peers: the CA itself, then its parents up to the root."""
    return chain_to_pem([load_certificate(cert_pem), *load_certificates(parent_chain_pem or "")])


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise PkiError(f"{cert.subject.rfc4514_string()} has no basicConstraints") from exc


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


# ---- host certificates ---------------------------------------------------------------------


def issue_host_certificate(
    ca_cert_pem: str,
    ca_key_pem: str,
    *,
    host: str,
    address: str | None,
    stack: str,
    kind: CertificateKind,
    organization: str | None = None,
    validity_days: int = DEFAULT_LEAF_VALIDITY_DAYS,
    key_pem: str | None = None,
    now: dt.datetime | None = None,
) -> IssuedCertificate:
    """A certificate for `host`, signed by a region CA.

    `server`: EKU serverAuth, for the TLS endpoints a host serves. `client`: EKU clientAuth,
    for the mutual-TLS client side of a service, e.g. a child exchange federating to its
    parent. Both carry the host's names (`<host>`, `<host>.<stack>.internal`) and address
    as SANs, so a peer can also check which host a client certificate belongs to. A host
    whose address is not known when it is certified (`address` None: the aws target's
    auto scaling hosts) is named by DNS only; its peers reach it by name.
    `organization` (O) names the agency or region; it defaults to the CA's.
    """
    if kind not in ("server", "client"):
        raise PkiError(f"kind must be 'server' or 'client', got {kind!r}")
    ca_cert = load_certificate(ca_cert_pem)
    ca_key = load_key(ca_key_pem)
    if ca_cert.public_key() != ca_key.public_key():
        raise PkiError("the CA key does not belong to the CA certificate")
    if not _basic_constraints(ca_cert).ca:
        raise PkiError(f"{ca_cert.subject.rfc4514_string()} is not a CA")
    names: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName(internal_name(host, stack))]
    if address is not None:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError as exc:
            raise PkiError(f"address {address!r} of host {host} is not an IP address") from exc
    if organization is None:
        orgs = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        organization = str(orgs[0].value) if orgs else stack
    key = load_key(key_pem) if key_pem is not None else generate_key()
    not_before, not_after = _validity(_now(now), validity_days, ca_cert)
    eku = ExtendedKeyUsageOID.SERVER_AUTH if kind == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, host),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(names),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return IssuedCertificate(cert_to_pem(cert), key_to_pem(key))


def issue_server_certificate(
    ca_cert_pem: str, ca_key_pem: str, *, host: str, address: str, stack: str
) -> IssuedCertificate:
    return issue_host_certificate(
        ca_cert_pem, ca_key_pem, host=host, address=address, stack=stack, kind="server"
    )


def issue_client_certificate(
    ca_cert_pem: str,
    ca_key_pem: str,
    *,
    host: str,
    address: str,
    stack: str,
    organization: str | None = None,
) -> IssuedCertificate:
    return issue_host_certificate(
        ca_cert_pem,
        ca_key_pem,
        host=host,
        address=address,
        stack=stack,
        kind="client",
        organization=organization,
    )


# ---- verification --------------------------------------------------------------------------


def verify_chain(
    leaf_pem: str,
    chain_pem: str | Sequence[str],
    root_pem: str,
    *,
    kind: CertificateKind = "server",
    name: str | None = None,
    at: dt.datetime | None = None,
) -> list[x509.Certificate]:
    """Verify `leaf_pem` up to the trust anchor `root_pem` through the intermediates in
    `chain_pem`, as a TLS peer would (RFC 5280 path building with the web PKI profile of
    `cryptography.x509.verification`: validity at `at`, CA constraints, path lengths, key
    usages and EKU serverAuth or clientAuth by `kind`). A server certificate must also
    match `name` (a DNS name or IP address; default: its first DNS SAN).

    Returns the verified path, leaf first; raises `PkiError` saying why it failed.
    """
    leaf = load_certificate(leaf_pem)
    bundle = chain_pem if isinstance(chain_pem, str) else "".join(chain_pem)
    intermediates = load_certificates(bundle)
    root = load_certificate(root_pem)
    builder = PolicyBuilder().store(Store([root])).time(_now(at))
    try:
        if kind == "server":
            verifier = builder.build_server_verifier(_subject(leaf, name))
            return verifier.verify(leaf, intermediates)
        verified = builder.build_client_verifier().verify(leaf, intermediates)
        return verified.chain
    except VerificationError as exc:
        raise PkiError(f"{leaf.subject.rfc4514_string()} does not verify: {exc}") from exc


def _subject(leaf: x509.Certificate, name: str | None) -> x509.DNSName | x509.IPAddress:
    if name is None:
        try:
            sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound as exc:
            raise PkiError(f"{leaf.subject.rfc4514_string()} has no SAN to verify") from exc
        dns = sans.get_values_for_type(x509.DNSName)
        if not dns:
            raise PkiError(f"{leaf.subject.rfc4514_string()} has no DNS SAN to verify")
        name = dns[0]
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
