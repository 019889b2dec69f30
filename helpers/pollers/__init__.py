"""Event source mappings: Lambda polls a queue or a stream and invokes a function per batch."""

__all__: list[str] = []
