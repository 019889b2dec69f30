"""What every service that pushes events to Lambda shares: a change becomes an Event invoke.

S3 (and the services that follow it: SNS, EventBridge) invoke functions
asynchronously: the request that caused the change has already returned when the
event enters Lambda's queue, and Lambda's retries, maximum event age, destinations and
dead-letter queue apply (``helpers.lambda_.async_queue``). A ``PushSource`` watches
the front for the requests that change something, builds the service's event, and
hands it on with ``invoke_async`` (a function) or ``send`` (a queue, topic or bus).
Each delivery is recorded in the trace under the source's ``record`` kind, with its
outcome: ``queued``, ``sent`` or ``not delivered`` (and why).
"""

from __future__ import annotations

import json
import uuid

from ..lambda_ import recursion
from ..send import DeliveryError

__all__ = ["PushSource"]


class PushSource:
    name = ""  # the invoke's source in the trace ("s3", ...)
    record = ""  # the trace kind of each delivery ("s3.notification", ...)

    def __init__(self, service, functions, sender):
        self.service = service
        self.functions = functions
        self.sender = sender
        self.trace = service.trace

    def register(self, front) -> None:
        raise NotImplementedError

    def invoke_async(self, function_arn: str, event: dict, account_id: str, region: str,
                     lineage: dict | None = None, **details) -> str | None:
        """Queue an Event invoke of ``function_arn``; its request id, or None if the
        function cannot be invoked (recorded as not delivered)."""
        try:
            spec = self.functions.find(function_arn, None, account_id, region)
        except Exception as error:  # the service cannot reach the function: the event is lost
            self.trace.record(self.record, outcome="not delivered",
                              reason=f"the function cannot be invoked: {error}", **details)
            return None
        request_id = str(uuid.uuid4())
        self.trace.record(self.record, request_id=request_id, function=spec.arn,
                          outcome="queued",
                          chain_count=recursion.count_for(lineage or {}, spec.arn) + 1,
                          event=event, **details)
        try:
            self.service.submit_event(spec, json.dumps(event).encode(), function_arn,
                                      request_id, function_arn, None, account_id, region,
                                      source=self.name, lineage=lineage)
        except Exception as error:  # the lab stopped meanwhile
            self.trace.record(self.record, request_id=request_id, outcome="not delivered",
                              reason=repr(error), **details)
            return None
        return request_id

    def send(self, target_arn: str, body: str, **details_and_options) -> bool:
        """Deliver to a queue, topic or bus (``helpers.send``); True if it was delivered."""
        options = {key: details_and_options.pop(key) for key in
                   ("attributes", "subject", "source", "detail_type", "resources")
                   if key in details_and_options}
        try:
            self.sender.send(target_arn, body, **options)
        except DeliveryError as error:
            self.trace.record(self.record, outcome="not delivered", reason=str(error),
                              **details_and_options)
            return False
        self.trace.record(self.record, outcome="sent", **details_and_options)
        return True
