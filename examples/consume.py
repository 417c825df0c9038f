"""A downstream service's consumer in Python, with the CloudEvents SDK.

It joins a consumer group, reads hookbridge's CloudEvents in either binding mode
(the SDK tells them apart), skips copies it has already handled (same source + id),
handles each event once (here: prints it), and commits only after handling it.

    python3 -m pip install cloudevents==2.2.0 confluent-kafka==2.16.2
    python3 examples/consume.py --brokers 127.0.0.1:9092 --group my-service \
        --topic everbright.production.milestone-status-change
"""

import argparse
import collections
import sys
import time

from cloudevents.core.bindings import kafka
from confluent_kafka import Consumer


class Seen:
    """The event ids handled. A real service keeps them with its own state (a unique
    (source, id) key), for longer than senders retry; here, the last 100,000."""

    def __init__(self, capacity=100_000):
        self.ids = collections.OrderedDict()
        self.capacity = capacity

    def first(self, source, event_id):
        key = (source, event_id)
        if key in self.ids:
            return False
        self.ids[key] = None
        if len(self.ids) > self.capacity:
            self.ids.popitem(last=False)
        return True


def handle(event):
    """What the service does with an event: here, one line."""
    redriven = event.get_extension("redriven")
    print(
        f"event {event.get_type()} site={event.get_subject()} "
        f"status={event.get_extension('status') or '-'} id={event.get_id()} "
        f"time={event.get_time().isoformat()}" + (f" redriven={redriven}" if redriven else ""),
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--group", required=True, help="one per downstream service")
    parser.add_argument("--topic", required=True, action="append")
    parser.add_argument("--idle-exit", type=float, help="stop after this many seconds without a record")
    args = parser.parse_args()

    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    consumer.subscribe(args.topic)
    seen = Seen()
    last = time.monotonic()
    try:
        while args.idle_exit is None or time.monotonic() - last < args.idle_exit:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                sys.exit(f"kafka: {message.error()}")
            last = time.monotonic()
            event = kafka.from_kafka_event(kafka.KafkaMessage(
                headers=dict(message.headers() or []),
                key=message.key(),
                value=message.value(),
            ))
            if seen.first(event.get_source(), event.get_id()):
                handle(event)
            else:
                print(f"duplicate {event.get_source()} {event.get_id()}: skipped", flush=True)
            # At least once: the offset moves on only after the event was handled.
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
