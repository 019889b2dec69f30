"""The Lambda service: what happens between ``invoke`` and a handler (the data plane)."""

__all__: list[str] = []
