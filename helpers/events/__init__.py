"""The events AWS services send to Lambda, built as pure functions (one module a source)."""

__all__: list[str] = []
