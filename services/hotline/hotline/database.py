"""Schema and queries. Every function takes an open psycopg connection; the caller owns
the transaction, so a request and its work order commit or fail together."""

from datetime import datetime

import psycopg
from psycopg.rows import dict_row

SCHEMA = """
CREATE TABLE IF NOT EXISTS service_requests (
    service_request_id text PRIMARY KEY,
    token              text NOT NULL UNIQUE,
    service_code       text NOT NULL,
    description        text NOT NULL,
    address            text,
    lat                double precision,
    long               double precision,
    contact_name       text,
    contact_phone      text,
    contact_email      text,
    source             text NOT NULL CHECK (source IN ('portal', 'call_centre', 'api')),
    status             text NOT NULL CHECK (status IN ('open', 'in_progress', 'closed')),
    requested_datetime timestamptz NOT NULL DEFAULT now(),
    updated_datetime   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS status_history (
    id                 bigserial PRIMARY KEY,
    service_request_id text NOT NULL REFERENCES service_requests,
    status             text NOT NULL,
    note               text NOT NULL DEFAULT '',
    -- set for changes that arrived as messages: a redelivery hits the unique index
    message_id         text UNIQUE,
    changed_at         timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS evaluations (
    id         bigserial PRIMARY KEY,
    rating     smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment    text NOT NULL DEFAULT '',
    service_request_id text REFERENCES service_requests,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

# A request only moves forward; a closed request is final.
STATUS_ORDER = {"open": 0, "in_progress": 1, "closed": 2}

# Contact details are personal information (MLPS 8.1.4.11): stored, never returned by GET.
PUBLIC_COLUMNS = (
    "service_request_id, service_code, description, address, lat, long, "
    "source, status, requested_datetime, updated_datetime"
)


class InvalidTransition(ValueError):
    pass


def connect(database_url: str) -> psycopg.Connection:
    return psycopg.connect(database_url, row_factory=dict_row)


def migrate(database_url: str) -> None:
    with connect(database_url) as conn:
        # Several gunicorn workers start at once; serialise their CREATE TABLEs.
        conn.execute("SELECT pg_advisory_xact_lock(12345)")
        conn.execute(SCHEMA)


def insert_request(conn, request: dict) -> None:
    conn.execute(
        """INSERT INTO service_requests (service_request_id, token, service_code, description,
               address, lat, long, contact_name, contact_phone, contact_email, source, status)
           VALUES (%(service_request_id)s, %(token)s, %(service_code)s, %(description)s,
               %(address)s, %(lat)s, %(long)s, %(contact_name)s, %(contact_phone)s,
               %(contact_email)s, %(source)s, 'open')""",
        request,
    )
    conn.execute(
        "INSERT INTO status_history (service_request_id, status, note) VALUES (%s, 'open', %s)",
        (request["service_request_id"], "受理"),
    )


def find_request(conn, service_request_id: str) -> dict | None:
    row = conn.execute(
        f"SELECT {PUBLIC_COLUMNS} FROM service_requests WHERE service_request_id = %s",
        (service_request_id,),
    ).fetchone()
    if row is None:
        return None
    row["status_history"] = conn.execute(
        "SELECT status, note, changed_at FROM status_history"
        " WHERE service_request_id = %s ORDER BY id",
        (service_request_id,),
    ).fetchall()
    return with_iso_times(row)


def with_iso_times(row: dict) -> dict:
    # GeoReport v2 dates are ISO 8601 (W3C), not Flask's default RFC 822.
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = value.isoformat()
        elif isinstance(value, list):
            row[key] = [with_iso_times(item) for item in value]
    return row


def change_status(
    conn, service_request_id: str, status: str, note: str, message_id: str | None = None
) -> bool:
    """Record a status change; False if the request does not exist.
    Raises InvalidTransition for a backward or unknown status."""
    if status not in STATUS_ORDER:
        raise InvalidTransition(f"unknown status {status!r}; use one of {', '.join(STATUS_ORDER)}")
    row = conn.execute(
        "SELECT status FROM service_requests WHERE service_request_id = %s FOR UPDATE",
        (service_request_id,),
    ).fetchone()
    if row is None:
        return False
    if STATUS_ORDER[status] <= STATUS_ORDER[row["status"]]:
        raise InvalidTransition(f"cannot move from {row['status']} to {status}")
    conn.execute(
        "UPDATE service_requests SET status = %s, updated_datetime = now()"
        " WHERE service_request_id = %s",
        (status, service_request_id),
    )
    conn.execute(
        "INSERT INTO status_history (service_request_id, status, note, message_id)"
        " VALUES (%s, %s, %s, %s)",
        (service_request_id, status, note, message_id),
    )
    return True


def message_already_applied(conn, message_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM status_history WHERE message_id = %s", (message_id,)).fetchone()
        is not None
    )


def insert_evaluation(conn, rating: int, comment: str, service_request_id: str | None) -> int:
    return conn.execute(
        "INSERT INTO evaluations (rating, comment, service_request_id) VALUES (%s, %s, %s)"
        " RETURNING id",
        (rating, comment, service_request_id),
    ).fetchone()["id"]
