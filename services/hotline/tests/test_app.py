import json

import psycopg
import pytest

from hotline import settings
from hotline.app import create_app

CITIZEN_REQUEST = {
    "service_code": "street_lighting",
    "description": "千岛湖镇新安大街路灯不亮",
    "address_string": "淳安县千岛湖镇新安大街 12 号",
    "phone": "13800000000",
}


@pytest.fixture
def client(hotline_settings, work_order_queue):
    return create_app(hotline_settings).test_client()


def token_header(hotline_settings):
    return {"X-Hotline-Token": hotline_settings.api_token}


def test_missing_settings_are_all_named():
    with pytest.raises(settings.SettingsError) as error:
        settings.from_environment({"HOTLINE_REGION_CODE": "330127"})
    for name in ("HOTLINE_DATABASE_URL", "HOTLINE_AMQP_URL", "HOTLINE_API_TOKEN"):
        assert name in str(error.value)


def test_services_list_has_chinese_names(client):
    services = client.get("/open311/v2/services.json").get_json()
    assert {"service_code": "street_lighting", "service_name": "路灯故障"}.items() <= services[
        1
    ].items()


def test_request_create_get_and_status_flow(client, hotline_settings):
    created = client.post("/open311/v2/requests.json", json=CITIZEN_REQUEST)
    assert created.status_code == 201, created.get_json()
    request_id = created.get_json()[0]["service_request_id"]
    assert request_id.startswith("330127-")

    found = client.get(f"/open311/v2/requests/{request_id}.json").get_json()[0]
    assert found["status"] == "open" and found["description"] == CITIZEN_REQUEST["description"]
    assert "contact_phone" not in found, "GET must not disclose personal information"

    url = f"/open311/v2/requests/{request_id}/status"
    assert client.post(url, json={"status": "in_progress"}).status_code == 403
    for status in ("in_progress", "closed"):
        moved = client.post(
            url, json={"status": status, "note": "处理中"}, headers=token_header(hotline_settings)
        )
        assert moved.status_code == 200, moved.get_json()
    backwards = client.post(url, json={"status": "open"}, headers=token_header(hotline_settings))
    assert backwards.status_code == 409

    history = client.get(f"/open311/v2/requests/{request_id}.json").get_json()[0]["status_history"]
    assert [entry["status"] for entry in history] == ["open", "in_progress", "closed"]


def test_invalid_request_is_refused_with_reasons(client):
    refused = client.post("/open311/v2/requests.json", json={"service_code": "ufo"})
    assert refused.status_code == 400
    description = refused.get_json()[0]["description"]
    assert (
        "service_code" in description
        and "description" in description
        and "address_string" in description
    )


def test_unknown_request_is_404(client):
    assert client.get("/open311/v2/requests/330127-none.json").status_code == 404


def test_work_order_lands_in_a_durable_queue(client, amqp_channel, work_order_queue):
    request_id = client.post("/open311/v2/requests.json", json=CITIZEN_REQUEST).get_json()[0][
        "service_request_id"
    ]

    method, properties, body = amqp_channel.basic_get(work_order_queue, auto_ack=True)
    assert method is not None, "no work order in the bound queue"
    assert method.exchange == "regionstack.work_orders"
    assert method.routing_key == "330127.street_lighting"
    assert properties.message_id == request_id
    assert properties.delivery_mode == 2
    order = json.loads(body)
    assert order["service_request_id"] == request_id and "phone" not in order
    # Durable and topic: a passive redeclare with other properties would fail.
    amqp_channel.exchange_declare(
        "regionstack.work_orders", exchange_type="topic", durable=True, passive=True
    )


def test_no_request_without_a_routable_work_order(hotline_settings):
    # No queue bound for this region's routing keys: mandatory publish fails, nothing is stored.
    unbound = settings.Settings(**{**hotline_settings.__dict__, "region_code": "330199"})
    client = create_app(unbound).test_client()
    refused = client.post("/open311/v2/requests.json", json=CITIZEN_REQUEST)
    assert refused.status_code == 503
    with psycopg.connect(hotline_settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM service_requests").fetchone() == (0,)


def test_webhook_refuses_a_wrong_token(client):
    for headers in ({}, {"X-Hotline-Token": "wrong"}):
        assert (
            client.post("/webhook/call-centre", json=CITIZEN_REQUEST, headers=headers).status_code
            == 403
        )


def test_webhook_creates_a_call_centre_request(client, hotline_settings):
    created = client.post(
        "/webhook/call-centre", json=CITIZEN_REQUEST, headers=token_header(hotline_settings)
    )
    assert created.status_code == 201
    request_id = created.get_json()[0]["service_request_id"]
    assert (
        client.get(f"/open311/v2/requests/{request_id}.json").get_json()[0]["source"]
        == "call_centre"
    )


def test_evaluation_is_stored_and_validated(client):
    assert (
        client.post(
            "/open311/v2/evaluations.json", json={"rating": 5, "comment": "办事很快"}
        ).status_code
        == 201
    )
    assert client.post("/open311/v2/evaluations.json", json={"rating": 9}).status_code == 400
