"""Synchronous front doors: real endpoints on loopback that invoke Lambda (API Gateway)."""

__all__: list[str] = []
