import pytest

from catalog import settings
from catalog.app import create_app
from catalog.client_certificate import parse_dn

DATA_BUREAU = {
    "X-SSL-Client-Verify": "SUCCESS",
    "X-SSL-Client-S-DN": "CN=gateway,OU=数据资源科,O=淳安县大数据发展管理局,C=CN",
}
DATASET = {"name": "enterprise_licences", "title": "企业证照信息", "update_frequency": "daily"}


@pytest.fixture
def client(database_url):
    return create_app(settings.Settings(database_url=database_url)).test_client()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-SSL-Client-Verify": "NONE"},
        {
            "X-SSL-Client-Verify": "FAILED:certificate has expired",
            "X-SSL-Client-S-DN": DATA_BUREAU["X-SSL-Client-S-DN"],
        },
        {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": "CN=someone"},  # no organization
        {"X-SSL-Client-S-DN": DATA_BUREAU["X-SSL-Client-S-DN"]},
    ],
)
def test_refuses_without_a_verified_agency_certificate(client, headers):
    assert client.get("/datasets", headers=headers).status_code == 403
    assert client.post("/datasets", json=DATASET, headers=headers).status_code == 403


def test_registers_and_lists_datasets_for_the_certificate_agency(client):
    created = client.post(
        "/datasets", json={**DATASET, "organization": "冒充的机构"}, headers=DATA_BUREAU
    )
    assert created.status_code == 201
    assert created.get_json()["agency"] == "淳安县大数据发展管理局/数据资源科"
    assert client.post("/datasets", json=DATASET, headers=DATA_BUREAU).status_code == 409

    listed = client.get(
        "/datasets?organization=淳安县大数据发展管理局", headers=DATA_BUREAU
    ).get_json()
    assert [(d["organization"], d["unit"], d["title"]) for d in listed] == [
        ("淳安县大数据发展管理局", "数据资源科", "企业证照信息")
    ]


def test_register_requires_name_and_title(client):
    assert client.post("/datasets", json={}, headers=DATA_BUREAU).status_code == 400


def test_dn_with_escaped_comma():
    assert parse_dn(r"CN=a,O=Bureau\, Data,C=CN")["O"] == "Bureau, Data"


def test_missing_database_url_is_explained():
    with pytest.raises(settings.SettingsError, match="CATALOG_DATABASE_URL"):
        settings.from_environment({})
