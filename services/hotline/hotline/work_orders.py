"""Publishing work orders to the region's exchange."""

import json

import pika

EXCHANGE = "regionstack.work_orders"


class NotDelivered(RuntimeError):
    """The exchange did not confirm the work order (down, refused, or nothing bound)."""


def declare_exchange(channel) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)


def publish(amqp_url: str, region_code: str, work_order: dict) -> None:
    """Publish and wait for the broker's confirm. Raises NotDelivered if it is not
    confirmed or no queue is bound for it (mandatory), so the caller can roll back.

    One connection per work order: work orders are rare next to page views, and a
    short-lived connection needs no reconnect logic in the gunicorn workers."""
    try:
        _publish(amqp_url, region_code, work_order)
    except (pika.exceptions.AMQPError, OSError) as error:
        raise NotDelivered(f"{type(error).__name__}: {error}") from error


def _publish(amqp_url: str, region_code: str, work_order: dict) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        declare_exchange(channel)
        channel.basic_publish(
            exchange=EXCHANGE,
            routing_key=f"{region_code}.{work_order['service_code']}",
            body=json.dumps(work_order, ensure_ascii=False).encode(),
            properties=pika.BasicProperties(
                message_id=work_order["service_request_id"],
                delivery_mode=2,  # persistent: survives a broker restart
                content_type="application/json",
                content_encoding="utf-8",
            ),
            mandatory=True,
        )
    finally:
        connection.close()
