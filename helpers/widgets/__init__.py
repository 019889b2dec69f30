"""The playgrounds' widgets: thin ipywidgets views over the models in helpers.playgrounds."""

__all__: list[str] = []
