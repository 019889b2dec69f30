"""boto3 clients for the lab's own calls: deliveries, pollers, services calling services.

They use the lab's endpoint and its own credentials explicitly, so they work the same
whatever the kernel's environment says, and each is made once (making one costs tens
of milliseconds; a made client is safe to share between threads).
"""

from __future__ import annotations

import threading

__all__ = ["LabClients"]


class LabClients:
    def __init__(self, endpoint_url: str, access_key: str, secret_key: str,
                 session_token: str | None, region: str):
        self.endpoint_url = endpoint_url
        self._credentials = (access_key, secret_key, session_token)
        self.region = region
        self._clients: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def client(self, service: str, **config):
        """A client for ``service``; ``config``: botocore ``Config`` settings
        (``max_pool_connections=20``, ``read_timeout=60``, ``retries={...}``)."""
        key = (service, repr(sorted(config.items())))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                access_key, secret_key, token = self._credentials
                session = boto3.session.Session(
                    aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                    aws_session_token=token, region_name=self.region)
                client = session.client(service, endpoint_url=self.endpoint_url,
                                        config=Config(**config) if config else None)
                self._clients[key] = client
            return client
