import json

import pika

from hotline import consumer
from hotline.app import create_app


def test_status_message_is_applied_once_even_if_delivered_twice(
    hotline_settings, work_order_queue, amqp_channel
):
    client = create_app(hotline_settings).test_client()
    request_id = client.post(
        "/open311/v2/requests.json",
        json={"service_code": "noise", "description": "夜间施工噪声", "address_string": "排岭南路"},
    ).get_json()[0]["service_request_id"]

    amqp_channel.queue_declare(consumer.QUEUE, durable=True)
    change = json.dumps(
        {"service_request_id": request_id, "status": "in_progress", "note": "已派单"}
    )
    for _ in range(2):  # a redelivery carries the same message id
        amqp_channel.basic_publish(
            "",
            consumer.QUEUE,
            change.encode(),
            pika.BasicProperties(message_id="status-1", delivery_mode=2),
        )
    amqp_channel.basic_publish(
        "", consumer.QUEUE, b"not json", pika.BasicProperties(message_id="status-2")
    )

    consumer.consume(hotline_settings, stop_when_idle=1)

    history = client.get(f"/open311/v2/requests/{request_id}.json").get_json()[0]["status_history"]
    assert [entry["status"] for entry in history] == ["open", "in_progress"]
    assert amqp_channel.queue_declare(consumer.QUEUE, passive=True).method.message_count == 0


def test_message_without_id_is_rejected(hotline_settings):
    from hotline import database

    database.migrate(hotline_settings.database_url)
    with database.connect(hotline_settings.database_url) as conn:
        assert consumer.apply_status_message(conn, None, b"{}").startswith("rejected")
