"""Probe a running AWS peer for the behaviours the conformance suite cares about.

Usage (boto3 comes with both peers' venvs):
    url=$(scripts/peers/moto.sh start)
    "$(scripts/peers/moto.sh python)" scripts/peers/probe.py "$url"
    scripts/peers/moto.sh stop --port "${url##*:}"

Prints one line per check: the request, the HTTP status and the error code/message (or the
observed values). Only talks to the given endpoint; uses fixed test credentials.
"""

import json
import sys
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(service, url):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def outcome(fn):
    """(http_status, error_code, error_message_or_result) of a call."""
    try:
        r = fn()
        return r["ResponseMetadata"]["HTTPStatusCode"], None, r
    except ClientError as e:
        err = e.response.get("Error", {})
        return (
            e.response["ResponseMetadata"].get("HTTPStatusCode"),
            err.get("Code"),
            err.get("Message"),
        )


def show(name, request, res):
    status, code, detail = res
    if code is None:
        print(f"{name}: {request} -> HTTP {status} accepted")
    else:
        print(f"{name}: {request} -> HTTP {status} {code}: {detail}")


def receive(sqs, q, wait_until_s):
    """Poll (WaitTimeSeconds=0) until a message arrives or the deadline passes."""
    end = time.monotonic() + wait_until_s
    while True:
        r = sqs.receive_message(
            QueueUrl=q,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        msgs = r.get("Messages", [])
        if msgs or time.monotonic() >= end:
            return msgs[0] if msgs else None
        time.sleep(0.05)


def main(url):
    sqs = client("sqs", url)
    tag = uuid.uuid4().hex[:8]

    # (a) default 1 MiB limit
    q = sqs.create_queue(QueueName=f"probe-size-{tag}")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["MaximumMessageSize"])
    print(f"(a) default MaximumMessageSize attribute = {attrs['Attributes']['MaximumMessageSize']}")
    for n in (262_144, 262_145, 1_048_576, 1_048_577):
        show("(a)", f"SendMessage body={n} bytes", outcome(lambda: sqs.send_message(QueueUrl=q, MessageBody="a" * n)))

    # (b) queue-level MaximumMessageSize=1024
    q = sqs.create_queue(QueueName=f"probe-max1024-{tag}", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    for n in (1024, 1025):
        show("(b)", f"MaximumMessageSize=1024 SendMessage body={n} bytes",
             outcome(lambda: sqs.send_message(QueueUrl=q, MessageBody="b" * n)))
    show("(b)", "CreateQueue MaximumMessageSize=1023 (below AWS min 1024)",
         outcome(lambda: sqs.create_queue(QueueName=f"probe-max1023-{tag}", Attributes={"MaximumMessageSize": "1023"})))

    # (c) redrive: maxReceiveCount=2, VisibilityTimeout=1
    dlq = sqs.create_queue(QueueName=f"probe-dlq-{tag}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(
        QueueName=f"probe-src-{tag}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    sent = sqs.send_message(QueueUrl=src, MessageBody="redrive-me")["MessageId"]
    t0 = time.monotonic()
    counts = []
    for i in (1, 2):
        m = receive(sqs, src, 5.0)
        if m is None:
            print(f"(c) receive #{i} on source: nothing within 5 s")
            break
        counts.append((m["Attributes"].get("ApproximateReceiveCount"), round(time.monotonic() - t0, 2)))
    print(f"(c) source receives (ApproximateReceiveCount, seconds since send): {counts}")
    time.sleep(1.2)  # let the second visibility timeout expire
    m3 = receive(sqs, src, 3.0)
    print(f"(c) receive #3 on source after VT expiry: {'message ' + m3['Attributes']['ApproximateReceiveCount'] if m3 else 'empty'}")
    md = receive(sqs, dlq, 3.0)
    if md:
        a = md["Attributes"]
        print(
            f"(c) DLQ: got body={md['Body']!r} same MessageId={md['MessageId'] == sent} "
            f"ApproximateReceiveCount={a.get('ApproximateReceiveCount')} "
            f"DeadLetterQueueSourceArn={a.get('DeadLetterQueueSourceArn')}"
        )
    else:
        print("(c) DLQ: empty after 3 s")

    # (d) EventBridge invalid cron (6 fields but no '?')
    ev = client("events", url)
    for expr in ("cron(0 12 * * * *)", "cron(99 * * * ? *)", "cron(0 12 * * ? *)", "rate(0 minutes)"):
        show("(d)", f"PutRule ScheduleExpression={expr}",
             outcome(lambda: ev.put_rule(Name=f"probe-{tag}-{abs(hash(expr)) % 10000}", ScheduleExpression=expr)))

    # (e) Lambda Invoke of a function that does not exist
    lam = client("lambda", url)
    show("(e)", "Invoke FunctionName=probe-missing-fn",
         outcome(lambda: lam.invoke(FunctionName=f"probe-missing-{tag}", Payload=b"{}")))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: probe.py http://127.0.0.1:PORT")
    main(sys.argv[1])
