"""Debian's Python Event Hubs SDK (azure-eventhub, pure-Python AMQP) against the local endpoint.

Run by test/dev/eventhubs/python.test.ts as a child process with Debian's /usr/bin/python3. It reads
a JSON plan on stdin, does what a Python user would do (properties, sends with and without partition
keys, a full batch, reads from several start positions, the blob checkpoint store), and prints one
JSON report of what it observed; the test asserts on it.

The SDK is used as shipped. One thing is set from outside: azure-eventhub before 5.12 always dials TLS
on port 5671, which a test may not take (tests run side by side on free ports), so the TLS transport's
default port is pointed at the listener's free port. Against `npm start` (port 5671) nothing is set.
"""

import datetime
import json
import sys
import threading
import time

from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.eventhub._pyamqp.sasl import SASLTransport
from azure.eventhub.extensions.checkpointstoreblob import BlobCheckpointStore

plan = json.load(sys.stdin)
if plan.get("tlsPort"):
    SASLTransport.__init__.__kwdefaults__["port"] = plan["tlsPort"]

CS = plan["connectionString"]
CERT = plan["certPath"]
HUB = plan["hub"]
EXCHANGE = plan["exchangeHub"]
report = {}


def producer(hub):
    return EventHubProducerClient.from_connection_string(CS, eventhub_name=hub, connection_verify=CERT)


def consumer(hub, group="$Default", checkpoint_store=None):
    return EventHubConsumerClient.from_connection_string(
        CS,
        consumer_group=group,
        eventhub_name=hub,
        connection_verify=CERT,
        checkpoint_store=checkpoint_store,
        # One consumer claims every partition at once instead of one per load-balancing interval.
        load_balancing_strategy="greedy",
        # Refusals are reported after one attempt, not after the default three with back-off.
        retry_total=0,
    )


def body_of(event):
    raw = b"".join(event.body) if not isinstance(event.body, bytes) else event.body
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


def observed(event, partition_id):
    return {
        "body": body_of(event),
        "partition": partition_id,
        "sequenceNumber": event.sequence_number,
        "offset": str(event.offset),
        "enqueuedTime": int(event.enqueued_time.timestamp() * 1000),
        "partitionKey": event.partition_key.decode() if isinstance(event.partition_key, bytes) else event.partition_key,
        "properties": {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in (event.properties or {}).items()
        },
        "contentType": event.content_type,
        "correlationId": event.correlation_id,
        "messageId": event.message_id,
    }


def receive(client, count, quiet=0.5, timeout=30, checkpoint=False, until_error=False, **kwargs):
    """Receives until `count` events arrived and nothing more came for `quiet` seconds (or, with
    `until_error`, until the first error), checkpointing each batch when asked."""
    events, errors, runtime = [], [], {}
    last = [time.monotonic()]

    def on_event_batch(context, batch):
        if not batch:
            return
        events.extend(observed(event, context.partition_id) for event in batch)
        last[0] = time.monotonic()
        if kwargs.get("track_last_enqueued_event_properties"):
            runtime.update(context.last_enqueued_event_properties or {})
        if checkpoint:
            context.update_checkpoint(batch[-1])

    def on_error(context, error):
        errors.append({"type": type(error).__name__, "message": str(error)})

    worker = threading.Thread(
        target=client.receive_batch,
        kwargs={"on_event_batch": on_event_batch, "on_error": on_error, "max_batch_size": 300,
                "max_wait_time": 0.2, **kwargs},
        daemon=True,
    )
    worker.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until_error:
            if errors:
                break
        elif len(events) >= count and time.monotonic() - last[0] >= quiet:
            break
        time.sleep(0.05)
    client.close()
    worker.join(10)
    if runtime:
        runtime = {
            "sequenceNumber": runtime.get("sequence_number"),
            "offset": str(runtime.get("offset")),
            "enqueuedTime": int(runtime["enqueued_time"].timestamp() * 1000) if runtime.get("enqueued_time") else None,
            "retrievalTime": int(runtime["retrieval_time"].timestamp() * 1000) if runtime.get("retrieval_time") else None,
        }
    return {"events": events, "errors": errors, "runtime": runtime or None}


def partition_properties(client, partition_id):
    p = client.get_partition_properties(partition_id)
    return {
        "beginningSequenceNumber": p["beginning_sequence_number"],
        "lastEnqueuedSequenceNumber": p["last_enqueued_sequence_number"],
        "lastEnqueuedOffset": str(p["last_enqueued_offset"]),
        "isEmpty": p["is_empty"],
    }


# Properties and sends ---------------------------------------------------------------------------
with producer(HUB) as p:
    props = p.get_eventhub_properties()
    report["hub"] = {"name": props["eventhub_name"], "partitionIds": props["partition_ids"]}
    report["emptyPartition"] = partition_properties(p, "0")
    # Without a key: one event per send, spread by the service.
    for i in range(8):
        p.send_batch([EventData(f"spread-{i}")])
    # With a partition key: all in one partition, in order.
    keyed = p.create_batch(partition_key="device-py")
    for i in range(10):
        e = EventData(f"keyed-{i}")
        e.properties = {"i": i, "source": "python"}
        keyed.add(e)
    p.send_batch(keyed)
    # To an explicit partition, as a list.
    p.send_batch([EventData(f"explicit-{i}") for i in range(5)], partition_id="1")
    # A batch filled to the link's 1 MiB limit.
    full = p.create_batch(partition_id="3")
    filler = "x" * 1024
    count = 0
    while True:
        try:
            full.add(EventData(f"full-{count:05d}-{filler}"))
        except ValueError:
            break
        count += 1
    p.send_batch(full)
    report["fullBatch"] = {"count": count, "maxSizeInBytes": full.max_size_in_bytes, "sizeInBytes": full.size_in_bytes}
    report["partitions"] = {pid: partition_properties(p, pid) for pid in props["partition_ids"]}

# Reads from every start position ----------------------------------------------------------------
earliest = {
    pid: receive(consumer(HUB), report["partitions"][pid]["lastEnqueuedSequenceNumber"] + 1,
                 partition_id=pid, starting_position="-1")
    for pid in report["hub"]["partitionIds"]
}
report["earliest"] = earliest
# The last keyed event: the keyed batch was enqueued at one instant, the explicit sends after it.
keyed_partition = next(pid for pid, r in earliest.items() if any(e["body"] == "keyed-9" for e in r["events"]))
in_partition = earliest[keyed_partition]["events"]
pivot = next(e for e in in_partition if e["body"] == "keyed-9")
after_pivot = len([e for e in in_partition if e["sequenceNumber"] > pivot["sequenceNumber"]])
report["pivot"] = pivot
report["fromEnqueuedTime"] = receive(
    consumer(HUB), after_pivot, partition_id=keyed_partition,
    starting_position=datetime.datetime.fromtimestamp(pivot["enqueuedTime"] / 1000, datetime.timezone.utc),
)
report["fromSequenceNumberInclusive"] = receive(
    consumer(HUB), after_pivot + 1, partition_id=keyed_partition,
    starting_position=pivot["sequenceNumber"], starting_position_inclusive=True,
)
report["fromOffset"] = receive(
    consumer(HUB), after_pivot, partition_id=keyed_partition, starting_position=pivot["offset"],
)
report["tracked"] = receive(
    consumer(HUB), 1, partition_id="1", starting_position="-1", track_last_enqueued_event_properties=True,
)
report["unknownGroup"] = receive(consumer(HUB, group="no-such-group"), 0, partition_id="0", timeout=15, until_error=True)

# The blob checkpoint store ----------------------------------------------------------------------
store = BlobCheckpointStore.from_connection_string(plan["blobConnectionString"], plan["checkpointContainer"])
total = sum(report["partitions"][pid]["lastEnqueuedSequenceNumber"] + 1 for pid in report["hub"]["partitionIds"])
report["checkpointFirstRun"] = len(
    receive(consumer(HUB, checkpoint_store=store), total, starting_position="-1", checkpoint=True)["events"]
)
with producer(HUB) as p:
    for pid in report["hub"]["partitionIds"]:
        p.send_batch([EventData(f"after-checkpoint-{pid}")], partition_id=pid)
resumed = receive(consumer(HUB, checkpoint_store=store), 4, starting_position="-1", checkpoint=True)
report["checkpointResumed"] = sorted(e["body"] for e in resumed["events"])
with consumer(HUB) as c:
    namespace = c._address.hostname
report["checkpoints"] = sorted(
    (c["partition_id"], c["sequence_number"])
    for c in store.list_checkpoints(namespace, HUB, "$Default")
)

# Events exchanged with the JS SDK ---------------------------------------------------------------
report["fromJs"] = {
    pid: receive(consumer(EXCHANGE), n, partition_id=pid, starting_position="-1")["events"]
    for pid, n in plan["exchangeCounts"].items()
}
with producer(EXCHANGE) as p:
    batch = p.create_batch(partition_id=plan["toJsPartition"])
    for i in range(3):
        e = EventData(json.dumps({"from": "python", "i": i}))
        e.properties = {"n": i, "lang": "python"}
        e.content_type = "application/json"
        e.correlation_id = f"py-corr-{i}"
        e.message_id = f"py-msg-{i}"
        batch.add(e)
    p.send_batch(batch)

json.dump(report, sys.stdout)
