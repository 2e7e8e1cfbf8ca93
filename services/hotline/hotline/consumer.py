"""Applies status changes arriving on the `hotline.status` queue: `python3 -m hotline.consumer`.

A message is JSON {"service_request_id", "status", "note"} with an AMQP message id.
RabbitMQ delivers at least once, so each message id is applied at most once: the id is
stored with the change in the same transaction, and a redelivery is acknowledged unchanged.
"""

import json
import logging

import pika
import psycopg

from hotline import database, settings

log = logging.getLogger("hotline.consumer")
QUEUE = "hotline.status"


def apply_status_message(conn, message_id: str | None, body: bytes) -> str:
    """Apply one message inside the caller's transaction; returns what happened."""
    if not message_id:
        return "rejected: no message id, cannot deduplicate"
    if database.message_already_applied(conn, message_id):
        return "duplicate"
    try:
        change = json.loads(body)
        found = database.change_status(
            conn,
            change["service_request_id"],
            change["status"],
            change.get("note", ""),
            message_id=message_id,
        )
    except (ValueError, KeyError, TypeError) as error:
        # InvalidTransition is a ValueError: a stale or bad message, not worth a retry.
        return f"rejected: {error}"
    return "applied" if found else "rejected: unknown request"


def consume(config: settings.Settings, stop_when_idle: float | None = None) -> None:
    """Consume forever, or until the queue stays empty for `stop_when_idle` seconds."""
    connection = pika.BlockingConnection(pika.URLParameters(config.amqp_url))
    channel = connection.channel()
    channel.queue_declare(QUEUE, durable=True)
    channel.basic_qos(prefetch_count=10)
    try:
        with database.connect(config.database_url) as conn:
            for method, properties, body in channel.consume(
                QUEUE, inactivity_timeout=stop_when_idle
            ):
                if method is None:
                    break
                try:
                    with conn.transaction():
                        outcome = apply_status_message(conn, properties.message_id, body)
                except psycopg.errors.UniqueViolation:
                    outcome = "duplicate"  # another consumer applied it a moment ago
                log.info("status message %s: %s", properties.message_id, outcome)
                # Ack only after the commit; rejected messages go to the queue's
                # dead-letter exchange, if the deployment configured one, not back.
                if outcome.startswith("rejected"):
                    channel.basic_reject(method.delivery_tag, requeue=False)
                else:
                    channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = settings.from_environment()
    except settings.SettingsError as error:
        raise SystemExit(f"hotline.consumer: {error}") from None
    consume(config)


if __name__ == "__main__":
    main()
