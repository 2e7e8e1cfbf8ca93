"""The PKI dynamic providers, called directly (no engine), and their secret outputs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pulumi
import pytest

from infra import pki
from modules.pki import (
    HostCertificate,
    HostCertificateInputs,
    HostCertificateProvider,
    RegionCa,
    RegionCaInputs,
    RegionCaProvider,
)


def _ca_props(**overrides: Any) -> dict[str, Any]:
    return {**asdict(RegionCaInputs(code="330000", name="浙江省")), **overrides}


@pytest.fixture(scope="module")
def root() -> dict[str, Any]:
    return RegionCaProvider().create(_ca_props()).outs


@pytest.fixture(scope="module")
def child(root: dict[str, Any]) -> dict[str, Any]:
    """The city CA as its parent's stack issues it (design option 3 in modules/pki/__init__.py)."""
    props = _ca_props(
        code="330100",
        name="杭州市",
        parent_ca_cert_pem=root["cert_pem"],
        parent_ca_key_pem=root["key_pem"],
        parent_chain_pem=root["chain_pem"],
    )
    return RegionCaProvider().create(props).outs


def _host_props(ca: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    inputs = HostCertificateInputs(
        ca_cert_pem=ca["cert_pem"],
        ca_key_pem=ca["key_pem"],
        ca_chain_pem=ca["chain_pem"],
        host="data-exchange-1",
        address="10.33.1.11",
        stack="330100",
    )
    return {**asdict(inputs), **overrides}


# ---- RegionCa ------------------------------------------------------------------------------


def test_create_root_ca(root: dict[str, Any]) -> None:
    result = RegionCaProvider().create(_ca_props())
    assert result.id == "330000-ca"
    cert = pki.load_certificate(root["cert_pem"])
    assert cert.subject == cert.issuer
    assert root["chain_pem"] == root["cert_pem"]
    pki.load_key(root["key_pem"])
    assert root["not_after"] == cert.not_valid_after_utc.isoformat()


def test_create_child_ca_chains_to_parent(root: dict[str, Any], child: dict[str, Any]) -> None:
    chain = pki.load_certificates(child["chain_pem"])
    assert [c.subject for c in chain] == [
        pki.load_certificate(child["cert_pem"]).subject,
        pki.load_certificate(root["cert_pem"]).subject,
    ]
    leaf = HostCertificateProvider().create(_host_props(child)).outs
    pki.verify_chain(leaf["cert_pem"], child["chain_pem"], root["cert_pem"])


def test_read_returns_state_and_inputs(child: dict[str, Any]) -> None:
    result = RegionCaProvider().read("330100-ca", child)
    assert result.outs == child
    assert result.inputs is not None
    assert set(result.inputs) == set(asdict(RegionCaInputs(code="", name="")))
    assert "key_pem" not in result.inputs


def test_diff_without_change(child: dict[str, Any]) -> None:
    result = RegionCaProvider().diff("330100-ca", child, dict(child))
    assert not result.changes
    assert result.replaces == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("code", "330200"), ("name", "宁波市"), ("parent_ca_cert_pem", "OTHER PARENT")],
)
def test_identity_or_issuer_change_replaces(child: dict[str, Any], key: str, value: str) -> None:
    result = RegionCaProvider().diff("330100-ca", child, {**child, key: value})
    assert result.changes
    assert result.replaces == [key]


def test_validity_change_updates_in_place_keeping_the_key(
    root: dict[str, Any], child: dict[str, Any]
) -> None:
    news = {**child, "validity_days": 30}
    provider = RegionCaProvider()
    diff = provider.diff("330100-ca", child, news)
    assert diff.changes and diff.replaces == []
    outs = provider.update("330100-ca", child, news).outs
    assert outs is not None
    assert outs["key_pem"] == child["key_pem"]
    assert outs["cert_pem"] != child["cert_pem"]
    # A host certificate issued under the old CA certificate still verifies under the new one.
    leaf = HostCertificateProvider().create(_host_props(child)).outs
    pki.verify_chain(leaf["cert_pem"], outs["chain_pem"], root["cert_pem"])


def test_delete_touches_nothing(root: dict[str, Any]) -> None:
    assert RegionCaProvider().delete("330000-ca", root) is None


# ---- HostCertificate -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["server", "client"])
def test_create_host_certificate(
    root: dict[str, Any], child: dict[str, Any], kind: pki.CertificateKind
) -> None:
    result = HostCertificateProvider().create(_host_props(child, kind=kind))
    assert result.id == f"330100-data-exchange-1-{kind}"
    outs = result.outs
    pki.verify_chain(outs["cert_pem"], child["chain_pem"], root["cert_pem"], kind=kind)
    served = pki.load_certificates(outs["chain_pem"])
    assert served[0] == pki.load_certificate(outs["cert_pem"])
    assert len(served) == 3


def test_host_read_returns_state_and_inputs(child: dict[str, Any]) -> None:
    outs = HostCertificateProvider().create(_host_props(child)).outs
    result = HostCertificateProvider().read("id", outs)
    assert result.outs == outs
    assert result.inputs is not None and "key_pem" not in result.inputs
    assert result.inputs["host"] == "data-exchange-1"


@pytest.mark.parametrize(
    ("key", "value"), [("host", "portal-1"), ("stack", "330200"), ("kind", "client")]
)
def test_host_identity_change_replaces(child: dict[str, Any], key: str, value: str) -> None:
    olds = _host_props(child)
    result = HostCertificateProvider().diff("id", olds, {**olds, key: value})
    assert result.changes and result.replaces == [key]


def test_host_address_change_resigns_the_same_key(child: dict[str, Any]) -> None:
    provider = HostCertificateProvider()
    olds = provider.create(_host_props(child)).outs
    news = {**_host_props(child), "address": "10.33.1.12"}
    diff = provider.diff("id", olds, news)
    assert diff.changes and diff.replaces == []
    outs = provider.update("id", olds, news).outs
    assert outs is not None and outs["key_pem"] == olds["key_pem"]
    assert "10.33.1.12" in str(pki.load_certificate(outs["cert_pem"]).extensions)


# ---- secret outputs ------------------------------------------------------------------------


@pytest.fixture
def captured_opts(monkeypatch: pytest.MonkeyPatch) -> list[pulumi.ResourceOptions]:
    """The options each dynamic resource registers with, captured before the engine."""
    seen: list[pulumi.ResourceOptions] = []

    def fake_init(
        self: Any, provider: Any, name: str, props: Any, opts: pulumi.ResourceOptions
    ) -> None:
        seen.append(opts)

    monkeypatch.setattr(pulumi.dynamic.Resource, "__init__", fake_init)
    return seen


def test_region_ca_key_is_a_secret_output(captured_opts: list[pulumi.ResourceOptions]) -> None:
    RegionCa("ca", RegionCaInputs(code="330000", name="浙江省"))
    (opts,) = captured_opts
    assert opts.additional_secret_outputs is not None
    assert {"key_pem", "parent_ca_key_pem"} <= set(opts.additional_secret_outputs)


def test_host_certificate_key_is_a_secret_output(
    captured_opts: list[pulumi.ResourceOptions],
) -> None:
    HostCertificate(
        "cert",
        HostCertificateInputs(
            ca_cert_pem="C", ca_key_pem="K", host="h", address="10.0.0.1", stack="s"
        ),
        pulumi.ResourceOptions(protect=True),
    )
    (opts,) = captured_opts
    assert opts.additional_secret_outputs is not None
    assert {"key_pem", "ca_key_pem"} <= set(opts.additional_secret_outputs)
    assert opts.protect  # the caller's options survive the merge


class _EchoMocks(pulumi.runtime.Mocks):
    """Echo inputs, with placeholder outputs; the mock monitor does not apply secrets."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", {**args.inputs, "cert_pem": "CERT", "key_pem": "KEY"}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> dict[str, Any] | tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}


@pytest.fixture
def mocks() -> None:
    pulumi.runtime.set_mocks(_EchoMocks(), project="regionstack", stack="hangzhou", preview=False)


@pulumi.runtime.test
def test_resources_register_with_their_inputs(mocks: None) -> Any:
    # Registration serializes each provider for the engine; this proves both serialize.
    ca = RegionCa("hangzhou-ca", RegionCaInputs(code="330100", name="杭州市"))
    cert = HostCertificate(
        "hangzhou-portal-1",
        HostCertificateInputs(
            ca_cert_pem=ca.cert_pem,
            ca_key_pem=ca.key_pem,
            host="portal-1",
            address="10.33.1.5",
            stack="330100",
        ),
    )

    def check(values: list[Any]) -> None:
        urn, ca_cert, host = values
        assert ca_cert == "CERT", urn
        assert host == "portal-1", urn

    return pulumi.Output.all(cert.urn, cert.ca_cert_pem, cert.host).apply(check)  # type: ignore[attr-defined]
