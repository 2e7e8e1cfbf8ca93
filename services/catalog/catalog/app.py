"""The HTTP API (Flask). Served by gunicorn on loopback behind nginx:
`gunicorn --bind 127.0.0.1:8001 'catalog.app:create_app()'`."""

import psycopg
from flask import Flask, abort, g, jsonify, request
from psycopg.rows import dict_row

from catalog import settings
from catalog.client_certificate import verified_agency

SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id              bigserial PRIMARY KEY,
    organization    text NOT NULL,
    unit            text NOT NULL DEFAULT '',
    name            text NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL DEFAULT '',
    update_frequency text NOT NULL DEFAULT '',
    registered_by   text NOT NULL,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization, unit, name)
);
"""
PUBLIC_COLUMNS = "id, organization, unit, name, title, description, update_frequency, registered_at"


def create_app(config: settings.Settings | None = None) -> Flask:
    config = config or settings.from_environment()
    with psycopg.connect(config.database_url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(8443)")  # workers start together
        conn.execute(SCHEMA)
    app = Flask(__name__)
    app.json.ensure_ascii = False

    def connect():
        return psycopg.connect(config.database_url, row_factory=dict_row)

    @app.before_request
    def require_client_certificate():
        g.agency = verified_agency(request.headers)
        if g.agency is None:
            abort(403, "a verified client certificate with an organization (O) is required")

    @app.get("/datasets")
    def list_datasets():
        query, params = f"SELECT {PUBLIC_COLUMNS} FROM datasets", []
        if request.args.get("organization"):
            query += " WHERE organization = %s"
            params.append(request.args["organization"])
        with connect() as conn:
            rows = conn.execute(query + " ORDER BY organization, unit, name", params).fetchall()
        return jsonify([{**row, "registered_at": row["registered_at"].isoformat()} for row in rows])

    @app.post("/datasets")
    def register_dataset():
        fields = request.get_json(silent=True) or {}
        missing = [name for name in ("name", "title") if not str(fields.get(name, "")).strip()]
        if missing:
            return jsonify({"error": "required: " + ", ".join(missing)}), 400
        # The owner comes from the certificate only; a body cannot register for another agency.
        try:
            with connect() as conn:
                row = conn.execute(
                    "INSERT INTO datasets (organization, unit, name, title, description,"
                    " update_frequency, registered_by) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " RETURNING id",
                    (
                        g.agency.organization,
                        g.agency.unit,
                        fields["name"],
                        fields["title"],
                        fields.get("description", ""),
                        fields.get("update_frequency", ""),
                        request.headers["X-SSL-Client-S-DN"],
                    ),
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            return jsonify({"error": f"{g.agency} already registered {fields['name']}"}), 409
        return jsonify({"id": row["id"], "agency": str(g.agency)}), 201

    @app.errorhandler(403)
    def forbidden(error):
        return jsonify({"error": error.description}), 403

    return app
