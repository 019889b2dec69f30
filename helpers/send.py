"""One way to send a message to an ARN, for every part of the lab that delivers one.

Asynchronous destinations and dead-letter queues (notebook 02), S3 notifications to
queues and topics (04), and the services that fan out later all deliver through
``Sender.send(arn, body, ...)``: an SQS queue gets a message, an SNS topic a
publish, a function an ``Event`` invoke, an EventBridge bus a ``PutEvents`` entry and
an S3 bucket an object. Each goes through the lab's own API endpoint with plain boto3,
as AWS's services call each other, so it lands in moto like any learner's call.
"""

from __future__ import annotations

import threading

from .aws import parse_arn

__all__ = ["DeliveryError", "Sender"]


class DeliveryError(RuntimeError):
    """A message could not be delivered (no such queue, an unsupported target, ...)."""


class Sender:
    """``clients.client(service)`` gives a boto3 client for the lab's own calls."""

    def __init__(self, clients):
        self.clients = clients
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def queue_url(self, queue_arn: str) -> str:
        with self._lock:
            url = self._queue_urls.get(queue_arn)
        if url is None:
            arn = parse_arn(queue_arn)
            url = self.clients.client("sqs").get_queue_url(
                QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account)["QueueUrl"]
            with self._lock:
                self._queue_urls[queue_arn] = url
        return url

    def send(self, target: str, body: str | bytes, *, attributes: dict | None = None,
             subject: str | None = None, source: str | None = None,
             detail_type: str | None = None, resources: list | None = None,
             key: str | None = None) -> None:
        """Deliver ``body`` to ``target``; raises DeliveryError saying why it could not.

        ``attributes``: SQS / SNS message attributes (``{"Name": {"DataType": ...,
        "StringValue": ...}}``); ``source``, ``detail_type`` and ``resources``: the
        EventBridge entry's; ``key``: the S3 object's key (an S3 object may be bytes).
        """
        arn = parse_arn(target)
        if arn is None:
            raise DeliveryError(f"{target!r} is not an ARN")
        try:
            if arn.service == "sqs":
                options = {"MessageAttributes": attributes} if attributes else {}
                self.clients.client("sqs").send_message(
                    QueueUrl=self.queue_url(target), MessageBody=body, **options)
            elif arn.service == "sns":
                options = {"MessageAttributes": attributes} if attributes else {}
                if subject:
                    options["Subject"] = subject
                self.clients.client("sns").publish(TopicArn=target, Message=body, **options)
            elif arn.service == "lambda":
                self.clients.client("lambda").invoke(FunctionName=target, InvocationType="Event",
                                                     Payload=body.encode())
            elif arn.service == "events":
                result = self.clients.client("events").put_events(Entries=[{
                    "Source": source or "lab", "DetailType": detail_type or "Lab event",
                    "Detail": body, "EventBusName": target, "Resources": resources or []}])
                if result.get("FailedEntryCount"):
                    raise DeliveryError(str(result["Entries"][0].get("ErrorMessage")))
            elif arn.service == "s3":
                if not key:
                    raise DeliveryError("an S3 destination needs an object key")
                data = body if isinstance(body, bytes) else body.encode()
                self.clients.client("s3").put_object(Bucket=arn.resource, Key=key, Body=data)
            else:
                raise DeliveryError(f"the lab cannot deliver to {arn.service} targets")
        except DeliveryError:
            raise
        except Exception as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from None
