import json
import re
import subprocess
import threading

import psycopg
import pytest
from werkzeug.serving import make_server

from hotline.app import create_app as create_hotline_app
from portal import settings
from portal.app import create_app

# The standard's portal sections, as `regionstack show chunan` renders them.
CHUNAN = {
    "region": {"code": "330127", "name": "淳安县"},
    "sections": [
        {"id": "administration", "title": "行政管理"},
        {"id": "regional_services", "title": "区域服务"},
        {"id": "citizen_interaction", "title": "政民互动"},
        {"id": "public_voice", "title": "民声收集"},
        {"id": "sme_services", "title": "小微企业网上办事服务专栏"},
        {"id": "service_evaluation", "title": "评价与信息反馈"},
    ],
}
HTTPS = {"base_url": "https://portal.test"}  # the session cookie is Secure


@pytest.fixture
def hotline_over_https(hotline_settings, work_order_queue, tmp_path):
    """A real hotline app on a loopback HTTPS port, with a self-signed certificate that the
    portal trusts only through its CA file setting."""
    cert, key = tmp_path / "hotline.crt", tmp_path / "hotline.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    server = make_server(
        "127.0.0.1",
        0,
        create_hotline_app(hotline_settings),
        threaded=True,
        ssl_context=(str(cert), str(key)),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", str(cert)
    server.shutdown()
    thread.join()


@pytest.fixture
def portal_config_file(tmp_path):
    path = tmp_path / "portal.json"
    path.write_text(json.dumps(CHUNAN, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def portal(hotline_over_https, portal_config_file):
    url, ca_file = hotline_over_https
    config = settings.from_environment(
        {
            "PORTAL_CONFIG": str(portal_config_file),
            "PORTAL_HOTLINE_URL": url,
            "PORTAL_HOTLINE_CA_FILE": ca_file,
            "PORTAL_SECRET_KEY": "test-secret",
        }
    )
    return create_app(config).test_client()


def csrf_token_from(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_home_lists_the_standard_sections_in_chinese(portal):
    page = portal.get("/", **HTTPS).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    for section in CHUNAN["sections"]:
        assert section["title"] in page
    assert "淳安县" in page
    assert "http://" not in page and "https://" not in page, "no external assets"


def test_submission_shows_ticket_and_status_lookup_shows_update(
    portal, hotline_over_https, hotline_settings
):
    form = portal.get("/submit", **HTTPS).get_data(as_text=True)
    assert "路灯故障" in form, "service list comes from the hotline"
    submitted = portal.post(
        "/submit",
        **HTTPS,
        data={
            "csrf_token": csrf_token_from(form),
            "service_code": "street_lighting",
            "description": "千岛湖镇新安大街路灯不亮",
            "address_string": "新安大街 12 号",
        },
    )
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    ticket = re.search(r'class="ticket">([^<]+)<', submitted.get_data(as_text=True)).group(1)
    assert ticket.startswith("330127-")

    assert "已受理" in portal.get(f"/status?ticket={ticket}", **HTTPS).get_data(as_text=True)
    hotline = create_hotline_app(hotline_settings).test_client()
    hotline.post(
        f"/open311/v2/requests/{ticket}/status",
        json={"status": "in_progress", "note": "已派单至城管局"},
        headers={"X-Hotline-Token": hotline_settings.api_token},
    )
    status_page = portal.get(f"/status?ticket={ticket}", **HTTPS).get_data(as_text=True)
    assert "办理中" in status_page and "已派单至城管局" in status_page


def test_refused_input_is_shown_to_the_citizen(portal):
    form = portal.get("/submit", **HTTPS).get_data(as_text=True)
    refused = portal.post(
        "/submit",
        **HTTPS,
        data={"csrf_token": csrf_token_from(form), "service_code": "noise", "description": " "},
    )
    assert refused.status_code == 400 and "description is required" in refused.get_data(
        as_text=True
    )


def test_status_lookup_of_unknown_ticket(portal):
    assert "未找到工单" in portal.get("/status?ticket=330127-nope", **HTTPS).get_data(as_text=True)


def test_forms_refuse_a_missing_or_wrong_csrf_token(portal):
    portal.get("/submit", **HTTPS)
    for token in ({}, {"csrf_token": "forged"}):
        refused = portal.post("/submit", **HTTPS, data={**token, "service_code": "noise"})
        assert refused.status_code == 400 and "表单已过期" in refused.get_data(as_text=True)
        assert portal.post("/evaluate", **HTTPS, data={**token, "rating": "5"}).status_code == 400


def test_evaluation_is_stored_by_the_hotline(portal, hotline_settings):
    token = csrf_token_from(portal.get("/evaluate", **HTTPS).get_data(as_text=True))
    thanked = portal.post(
        "/evaluate", **HTTPS, data={"csrf_token": token, "rating": "4", "comment": "窗口服务热情"}
    )
    assert "感谢您的评价" in thanked.get_data(as_text=True)
    assert (
        portal.post("/evaluate", **HTTPS, data={"csrf_token": token, "rating": "7"}).status_code
        == 400
    )
    with psycopg.connect(hotline_settings.database_url) as conn:
        assert conn.execute("SELECT rating, comment FROM evaluations").fetchall() == [
            (4, "窗口服务热情")
        ]


def test_untrusted_hotline_certificate_is_refused(hotline_over_https, portal_config_file):
    url, _ = hotline_over_https
    config = settings.from_environment(
        {
            "PORTAL_CONFIG": str(portal_config_file),
            "PORTAL_HOTLINE_URL": url,
            "PORTAL_SECRET_KEY": "s",
        }
    )
    response = create_app(config).test_client().get("/submit", **HTTPS)
    assert response.status_code == 502 and "无法连接" in response.get_data(as_text=True)


def test_missing_settings_and_bad_config_are_explained(tmp_path):
    with pytest.raises(settings.SettingsError, match="PORTAL_HOTLINE_URL"):
        settings.from_environment({"PORTAL_CONFIG": "x"})
    bad = tmp_path / "bad.json"
    bad.write_text('{"region": {}, "sections": []}')
    with pytest.raises(settings.SettingsError, match=r"region\.name.*sections"):
        settings.load_portal_config(str(bad))
