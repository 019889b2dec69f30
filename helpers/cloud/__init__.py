"""The local cloud: moto holds the state of every AWS resource in the lab."""

__all__: list[str] = []
