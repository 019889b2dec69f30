"""Services that push events to Lambda asynchronously (S3 notifications)."""

__all__: list[str] = []
