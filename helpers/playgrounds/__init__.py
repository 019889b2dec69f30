"""The playgrounds' logic: plain models over the lab and its trace, with no widgets."""

__all__: list[str] = []
