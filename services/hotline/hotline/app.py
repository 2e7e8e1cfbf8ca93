"""The HTTP API (Flask). Served by gunicorn: `gunicorn 'hotline.app:create_app()'`."""

import hmac
import logging
import secrets
from datetime import UTC, datetime

import psycopg
from flask import Flask, abort, jsonify, request

from hotline import catalogue, database, settings, work_orders

log = logging.getLogger(__name__)
API = "/open311/v2"


def create_app(config: settings.Settings | None = None) -> Flask:
    config = config or settings.from_environment()
    database.migrate(config.database_url)
    app = Flask(__name__)
    app.json.ensure_ascii = False  # Chinese stays readable in responses

    def require_token() -> None:
        # Constant-time comparison: the token must not leak through response timing.
        sent = request.headers.get("X-Hotline-Token", "")
        if not hmac.compare_digest(sent.encode(), config.api_token.encode()):
            abort(403, "missing or wrong X-Hotline-Token")

    def submitted_fields() -> dict:
        # GeoReport v2 clients post form fields; our own clients post JSON.
        return request.get_json(silent=True) or request.form.to_dict()

    def create_request(fields: dict, source: str):
        problems = validate_request(fields)
        if problems:
            return open311_error(400, "; ".join(problems))
        new = {
            "service_request_id": new_request_id(config.region_code),
            "token": secrets.token_urlsafe(16),
            "service_code": fields["service_code"],
            "description": fields["description"].strip(),
            "address": fields.get("address_string") or None,
            "lat": float(fields["lat"]) if fields.get("lat") else None,
            "long": float(fields["long"]) if fields.get("long") else None,
            "contact_name": fields.get("first_name") or fields.get("name") or None,
            "contact_phone": fields.get("phone") or None,
            "contact_email": fields.get("email") or None,
            "source": source,
        }
        # Commit only after the broker confirmed the work order: no request exists without
        # its work order. If the commit then fails, the work order may exist without the
        # request; consumers deduplicate by message id and tolerate that rare orphan.
        with database.connect(config.database_url) as conn:
            database.insert_request(conn, new)
            try:
                work_orders.publish(config.amqp_url, config.region_code, work_order(new))
            except work_orders.NotDelivered:
                log.exception(
                    "work order %s not confirmed by the exchange", new["service_request_id"]
                )
                conn.rollback()
                return open311_error(
                    503, "工单暂时无法派发，请稍后再试 (work order not accepted by the exchange)"
                )
        body = [
            {
                "service_request_id": new["service_request_id"],
                "token": new["token"],
                "service_notice": "已受理，可凭工单号查询办理进度",
                "account_id": None,
            }
        ]
        return jsonify(body), 201

    @app.get(f"{API}/services.json")
    def list_services():
        return jsonify(catalogue.as_open311())

    @app.post(f"{API}/requests.json")
    def post_request():
        fields = submitted_fields()
        # "call_centre" is reserved for the authenticated webhook.
        source = "portal" if fields.get("source") == "portal" else "api"
        return create_request(fields, source)

    @app.get(f"{API}/requests/<service_request_id>.json")
    def get_request(service_request_id):
        with database.connect(config.database_url) as conn:
            found = database.find_request(conn, service_request_id)
        if found is None:
            return open311_error(404, f"no request {service_request_id}")
        return jsonify([found])

    @app.post(f"{API}/requests/<service_request_id>/status")
    def post_status(service_request_id):
        require_token()
        fields = submitted_fields()
        try:
            with database.connect(config.database_url) as conn:
                found = database.change_status(
                    conn, service_request_id, fields.get("status", ""), fields.get("note", "")
                )
        except database.InvalidTransition as error:
            return open311_error(409, str(error))
        if not found:
            return open311_error(404, f"no request {service_request_id}")
        return get_request(service_request_id)

    @app.post(f"{API}/evaluations.json")
    def post_evaluation():
        fields = submitted_fields()
        try:
            rating = int(fields.get("rating", ""))
        except ValueError:
            rating = 0
        if not 1 <= rating <= 5:
            return open311_error(400, "rating must be an integer from 1 to 5")
        try:
            with database.connect(config.database_url) as conn:
                evaluation_id = database.insert_evaluation(
                    conn,
                    rating,
                    str(fields.get("comment", ""))[:2000],
                    fields.get("service_request_id") or None,
                )
        except psycopg.errors.ForeignKeyViolation:
            return open311_error(400, "未找到该工单号 (unknown service_request_id)")
        return jsonify({"evaluation_id": evaluation_id}), 201

    @app.post("/webhook/call-centre")
    def call_centre_webhook():
        require_token()
        return create_request(submitted_fields(), source="call_centre")

    @app.errorhandler(403)
    def forbidden(error):
        return open311_error(403, error.description)

    return app


def validate_request(fields: dict) -> list[str]:
    problems = []
    if fields.get("service_code") not in catalogue.SERVICE_CODES:
        problems.append("service_code must be one of " + ", ".join(sorted(catalogue.SERVICE_CODES)))
    if not str(fields.get("description", "")).strip():
        problems.append("description is required")
    # GeoReport v2 requires a location: an address or a coordinate pair.
    if not fields.get("address_string") and not (fields.get("lat") and fields.get("long")):
        problems.append("give address_string or lat and long")
    for name in ("lat", "long"):
        if fields.get(name):
            try:
                float(fields[name])
            except (TypeError, ValueError):
                problems.append(f"{name} must be a number")
    return problems


def new_request_id(region_code: str) -> str:
    # Region code first, so a ticket federated to the parent still says where it belongs.
    return f"{region_code}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4).upper()}"


def work_order(new: dict) -> dict:
    # No contact details on the wire: they stay in the region's own database.
    return {
        key: new[key]
        for key in (
            "service_request_id",
            "service_code",
            "description",
            "address",
            "lat",
            "long",
            "source",
        )
    }


def open311_error(code: int, description: str):
    return jsonify([{"code": code, "description": description}]), code
