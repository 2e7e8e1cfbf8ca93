"""The region PKI: chains along province → city → county, and what they let through."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra import pki

PROVINCE = ("330000", "浙江省")
CITY = ("330100", "杭州市")
COUNTY = ("330127", "淳安县")

E = TypeVar("E", bound=x509.ExtensionType)


@pytest.fixture(scope="module")
def province() -> pki.IssuedCertificate:
    return pki.create_region_ca(*PROVINCE)


@pytest.fixture(scope="module")
def city(province: pki.IssuedCertificate) -> pki.IssuedCertificate:
    return pki.create_region_ca(
        *CITY, parent_cert_pem=province.cert_pem, parent_key_pem=province.key_pem
    )


@pytest.fixture(scope="module")
def county(city: pki.IssuedCertificate) -> pki.IssuedCertificate:
    return pki.create_region_ca(*COUNTY, parent_cert_pem=city.cert_pem, parent_key_pem=city.key_pem)


@pytest.fixture(scope="module")
def county_chain(county: pki.IssuedCertificate, city: pki.IssuedCertificate) -> str:
    return pki.ca_chain_pem(county.cert_pem, city.cert_pem)


@pytest.fixture(scope="module")
def county_server(county: pki.IssuedCertificate) -> pki.IssuedCertificate:
    return pki.issue_server_certificate(
        county.cert_pem,
        county.key_pem,
        host="data-exchange-1",
        address="10.33.127.11",
        stack="330127",
    )


@pytest.fixture(scope="module")
def county_client(county: pki.IssuedCertificate) -> pki.IssuedCertificate:
    return pki.issue_client_certificate(
        county.cert_pem,
        county.key_pem,
        host="data-exchange-1",
        address="10.33.127.11",
        stack="330127",
        organization="淳安县数据资源管理局",
    )


def _cert(pem: str) -> x509.Certificate:
    return pki.load_certificate(pem)


def _ext(pem: str, kind: type[E]) -> x509.Extension[E]:
    return _cert(pem).extensions.get_extension_for_class(kind)


# ---- CAs -----------------------------------------------------------------------------------


def test_root_ca_is_self_signed_with_region_name(province: pki.IssuedCertificate) -> None:
    cert = _cert(province.cert_pem)
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "regionstack 330000 浙江省 CA"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "浙江省"
    cert.verify_directly_issued_by(cert)


@pytest.mark.parametrize(("which", "pathlen"), [("province", 2), ("city", 1), ("county", 0)])
def test_ca_path_length_leaves_room_for_the_tiers_below(
    which: str, pathlen: int, request: pytest.FixtureRequest
) -> None:
    ca: pki.IssuedCertificate = request.getfixturevalue(which)
    bc = _ext(ca.cert_pem, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == pathlen


def test_ca_key_usage_is_cert_and_crl_signing_only(county: pki.IssuedCertificate) -> None:
    ku = _ext(county.cert_pem, x509.KeyUsage)
    assert ku.critical
    assert ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature


def test_child_ca_aki_is_parent_ski(
    city: pki.IssuedCertificate, county: pki.IssuedCertificate
) -> None:
    parent_ski = _ext(city.cert_pem, x509.SubjectKeyIdentifier).value.digest
    assert _ext(county.cert_pem, x509.AuthorityKeyIdentifier).value.key_identifier == parent_ski
    assert _cert(county.cert_pem).issuer == _cert(city.cert_pem).subject


def test_ca_validity_defaults_to_five_years() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = _cert(pki.create_region_ca(*PROVINCE, now=now).cert_pem)
    assert cert.not_valid_after_utc - now == dt.timedelta(days=5 * 365)
    assert cert.not_valid_before_utc < now


def test_child_ca_does_not_outlive_its_parent() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    root = pki.create_region_ca(*PROVINCE, validity_days=30, now=now)
    child = pki.create_region_ca(
        *CITY, parent_cert_pem=root.cert_pem, parent_key_pem=root.key_pem, now=now
    )
    assert _cert(child.cert_pem).not_valid_after_utc == _cert(root.cert_pem).not_valid_after_utc


def test_a_county_ca_cannot_sign_a_ca(county: pki.IssuedCertificate) -> None:
    with pytest.raises(pki.PkiError, match="CA level"):
        pki.create_region_ca(
            "330122", "桐庐县", parent_cert_pem=county.cert_pem, parent_key_pem=county.key_pem
        )


def test_parent_key_must_match_parent_cert(
    province: pki.IssuedCertificate, city: pki.IssuedCertificate
) -> None:
    with pytest.raises(pki.PkiError, match="does not belong"):
        pki.create_region_ca(
            *COUNTY, parent_cert_pem=city.cert_pem, parent_key_pem=province.key_pem
        )


def test_parent_needs_cert_and_key(province: pki.IssuedCertificate) -> None:
    with pytest.raises(pki.PkiError, match="both"):
        pki.create_region_ca(*CITY, parent_cert_pem=province.cert_pem)


def test_reissue_keeps_the_key_and_certificates_below_stay_valid(
    province: pki.IssuedCertificate,
    city: pki.IssuedCertificate,
    county: pki.IssuedCertificate,
    county_server: pki.IssuedCertificate,
) -> None:
    renewed = pki.create_region_ca(
        *CITY,
        parent_cert_pem=province.cert_pem,
        parent_key_pem=province.key_pem,
        key_pem=city.key_pem,
        validity_days=10 * 365,
    )
    assert renewed.key_pem == city.key_pem
    chain = pki.ca_chain_pem(county.cert_pem, renewed.cert_pem)
    pki.verify_chain(county_server.cert_pem, chain, province.cert_pem)


def test_ca_chain_lists_the_ca_then_its_parents(
    province: pki.IssuedCertificate, city: pki.IssuedCertificate, county: pki.IssuedCertificate
) -> None:
    city_chain = pki.ca_chain_pem(city.cert_pem, province.cert_pem)
    chain = pki.load_certificates(pki.ca_chain_pem(county.cert_pem, city_chain))
    assert [c.subject for c in chain] == [
        _cert(p).subject for p in (county.cert_pem, city.cert_pem, province.cert_pem)
    ]


def test_keys_are_ec_p256(province: pki.IssuedCertificate) -> None:
    assert pki.load_key(province.key_pem).curve.name == "secp256r1"


# ---- host certificates ---------------------------------------------------------------------


def test_server_certificate_sans(county_server: pki.IssuedCertificate) -> None:
    san = _ext(county_server.cert_pem, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "data-exchange-1",
        "data-exchange-1.330127.internal",
    ]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.33.127.11")]


def test_server_certificate_is_a_one_year_server_auth_leaf(
    county_server: pki.IssuedCertificate,
) -> None:
    cert = _cert(county_server.cert_pem)
    assert _ext(county_server.cert_pem, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert not _ext(county_server.cert_pem, x509.BasicConstraints).value.ca
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == dt.timedelta(days=365) + pki.BACKDATE


def test_client_certificate_names_the_agency(county_client: pki.IssuedCertificate) -> None:
    cert = _cert(county_client.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "淳安县数据资源管理局"
    )
    assert _ext(county_client.cert_pem, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )


def test_organization_defaults_to_the_region(county_server: pki.IssuedCertificate) -> None:
    subject = _cert(county_server.cert_pem).subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "淳安县"


def test_a_host_without_a_known_address_is_certified_by_its_names_only(
    province: pki.IssuedCertificate, county: pki.IssuedCertificate, county_chain: str
) -> None:
    """The aws target's auto scaling hosts: DNS SANs only, verified by name, not by IP."""
    issued = pki.issue_host_certificate(
        county.cert_pem,
        county.key_pem,
        host="portal-1",
        address=None,
        stack="xingqing",
        kind="server",
    )
    san = _ext(issued.cert_pem, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["portal-1", "portal-1.xingqing.internal"]
    assert san.get_values_for_type(x509.IPAddress) == []
    pki.verify_chain(
        issued.cert_pem, county_chain, province.cert_pem, name="portal-1.xingqing.internal"
    )
    with pytest.raises(pki.PkiError, match="does not verify"):
        pki.verify_chain(issued.cert_pem, county_chain, province.cert_pem, name="10.0.0.5")


def test_host_address_must_be_an_ip(county: pki.IssuedCertificate) -> None:
    with pytest.raises(pki.PkiError, match="not an IP"):
        pki.issue_server_certificate(
            county.cert_pem, county.key_pem, host="h", address="h.example", stack="330127"
        )


def test_a_leaf_cannot_issue(county_server: pki.IssuedCertificate) -> None:
    with pytest.raises(pki.PkiError, match="not a CA"):
        pki.issue_server_certificate(
            county_server.cert_pem,
            county_server.key_pem,
            host="h",
            address="10.0.0.1",
            stack="330127",
        )


# ---- verification --------------------------------------------------------------------------


def test_chain_province_city_county_verifies(
    province: pki.IssuedCertificate,
    city: pki.IssuedCertificate,
    county: pki.IssuedCertificate,
    county_chain: str,
    county_server: pki.IssuedCertificate,
) -> None:
    path = pki.verify_chain(county_server.cert_pem, county_chain, province.cert_pem)
    assert [c.subject for c in path] == [
        _cert(p).subject
        for p in (county_server.cert_pem, county.cert_pem, city.cert_pem, province.cert_pem)
    ]


@pytest.mark.parametrize(
    "name", ["data-exchange-1", "data-exchange-1.330127.internal", "10.33.127.11"]
)
def test_server_certificate_matches_each_of_its_names(
    province: pki.IssuedCertificate,
    county_chain: str,
    county_server: pki.IssuedCertificate,
    name: str,
) -> None:
    pki.verify_chain(county_server.cert_pem, county_chain, province.cert_pem, name=name)


def test_server_certificate_does_not_match_another_host(
    province: pki.IssuedCertificate, county_chain: str, county_server: pki.IssuedCertificate
) -> None:
    with pytest.raises(pki.PkiError, match="does not verify"):
        pki.verify_chain(
            county_server.cert_pem, county_chain, province.cert_pem, name="portal-1.330127.internal"
        )


def test_missing_intermediate_does_not_verify(
    province: pki.IssuedCertificate,
    county: pki.IssuedCertificate,
    county_server: pki.IssuedCertificate,
) -> None:
    with pytest.raises(pki.PkiError):
        pki.verify_chain(county_server.cert_pem, county.cert_pem, province.cert_pem)


def test_certificate_of_another_province_does_not_verify(
    province: pki.IssuedCertificate,
) -> None:
    other_root = pki.create_region_ca("320000", "江苏省")
    other_city = pki.create_region_ca(
        "320100", "南京市", parent_cert_pem=other_root.cert_pem, parent_key_pem=other_root.key_pem
    )
    leaf = pki.issue_server_certificate(
        other_city.cert_pem,
        other_city.key_pem,
        host="portal-1",
        address="10.32.1.5",
        stack="320100",
    )
    chain = pki.ca_chain_pem(other_city.cert_pem, other_root.cert_pem)
    pki.verify_chain(leaf.cert_pem, chain, other_root.cert_pem)
    with pytest.raises(pki.PkiError, match="does not verify"):
        pki.verify_chain(leaf.cert_pem, chain, province.cert_pem)


def test_a_look_alike_root_does_not_verify(province: pki.IssuedCertificate) -> None:
    # A rogue root with the real province's name but its own key: names alone must not chain.
    rogue_root = pki.create_region_ca(*PROVINCE)
    rogue_city = pki.create_region_ca(
        *CITY, parent_cert_pem=rogue_root.cert_pem, parent_key_pem=rogue_root.key_pem
    )
    forged = pki.issue_server_certificate(
        rogue_city.cert_pem,
        rogue_city.key_pem,
        host="portal-1",
        address="10.33.1.5",
        stack="330100",
    )
    assert _cert(rogue_root.cert_pem).subject == _cert(province.cert_pem).subject
    with pytest.raises(pki.PkiError, match="does not verify"):
        pki.verify_chain(forged.cert_pem, rogue_city.cert_pem, province.cert_pem)


def test_client_certificate_verifies_as_client_not_server(
    province: pki.IssuedCertificate, county_chain: str, county_client: pki.IssuedCertificate
) -> None:
    pki.verify_chain(county_client.cert_pem, county_chain, province.cert_pem, kind="client")
    with pytest.raises(pki.PkiError, match="EKU"):
        pki.verify_chain(county_client.cert_pem, county_chain, province.cert_pem, kind="server")


def test_server_certificate_does_not_verify_as_client(
    province: pki.IssuedCertificate, county_chain: str, county_server: pki.IssuedCertificate
) -> None:
    with pytest.raises(pki.PkiError, match="EKU"):
        pki.verify_chain(county_server.cert_pem, county_chain, province.cert_pem, kind="client")


def test_federation_client_of_child_verifies_at_parent(
    province: pki.IssuedCertificate, city: pki.IssuedCertificate
) -> None:
    # The city exchange federates to the province: the province trusts its own root and
    # the city presents its client certificate with the city CA as intermediate.
    client = pki.issue_client_certificate(
        city.cert_pem, city.key_pem, host="data-exchange-1", address="10.33.1.11", stack="330100"
    )
    pki.verify_chain(client.cert_pem, city.cert_pem, province.cert_pem, kind="client")


def test_chain_accepts_a_list_of_pems(
    province: pki.IssuedCertificate,
    city: pki.IssuedCertificate,
    county: pki.IssuedCertificate,
    county_server: pki.IssuedCertificate,
) -> None:
    pki.verify_chain(county_server.cert_pem, [county.cert_pem, city.cert_pem], province.cert_pem)


def test_expired_certificate_does_not_verify(
    province: pki.IssuedCertificate, county_chain: str, county_server: pki.IssuedCertificate
) -> None:
    later = _cert(county_server.cert_pem).not_valid_after_utc + dt.timedelta(seconds=1)
    with pytest.raises(pki.PkiError, match="not valid at validation time"):
        pki.verify_chain(county_server.cert_pem, county_chain, province.cert_pem, at=later)


def test_not_yet_valid_certificate_does_not_verify(
    province: pki.IssuedCertificate, county_chain: str, county_server: pki.IssuedCertificate
) -> None:
    earlier = _cert(county_server.cert_pem).not_valid_before_utc - dt.timedelta(seconds=1)
    with pytest.raises(pki.PkiError, match="not valid at validation time"):
        pki.verify_chain(county_server.cert_pem, county_chain, province.cert_pem, at=earlier)


def test_fresh_certificate_tolerates_a_lagging_clock(
    province: pki.IssuedCertificate, county_chain: str, county_server: pki.IssuedCertificate
) -> None:
    lagging = _cert(county_server.cert_pem).not_valid_before_utc + dt.timedelta(seconds=1)
    pki.verify_chain(county_server.cert_pem, county_chain, province.cert_pem, at=lagging)


def test_expired_intermediate_fails_the_chain() -> None:
    now = dt.datetime.now(dt.UTC)
    root = pki.create_region_ca(*PROVINCE)
    short_city = pki.create_region_ca(
        *CITY, parent_cert_pem=root.cert_pem, parent_key_pem=root.key_pem, validity_days=2
    )
    leaf = pki.issue_server_certificate(
        short_city.cert_pem,
        short_city.key_pem,
        host="portal-1",
        address="10.33.1.5",
        stack="330100",
    )
    # The leaf was clamped to its issuer's lifetime, so check the day after both expire too.
    assert (
        _cert(leaf.cert_pem).not_valid_after_utc == _cert(short_city.cert_pem).not_valid_after_utc
    )
    pki.verify_chain(leaf.cert_pem, short_city.cert_pem, root.cert_pem, at=now)
    with pytest.raises(pki.PkiError, match="not valid at validation time"):
        pki.verify_chain(
            leaf.cert_pem, short_city.cert_pem, root.cert_pem, at=now + dt.timedelta(days=3)
        )
