"""What every playground view shares: a message area, background actions, a refresh
loop, a plotly timeline, closing, and a readable output when the notebook is saved.

A view is a thin ipywidgets layer over a model from ``helpers.playgrounds``. Subclasses
call ``super().__init__(model)``, build their controls and panes, then call ``_build``;
they say how to draw the panes (``_render``), which trace events make the view stale
(``_wants``), whether background work is still going on (``_pending``) and what a saved
notebook shows (``_static_html``).
Buttons run their action in a background thread (``_start``) so that the notebook stays
responsive; ``wait()`` is for code cells. Introduced in notebook 01.
"""

from __future__ import annotations

import threading
import time

import ipywidgets as widgets

from ..playgrounds.base import PlaygroundTimeoutError
from . import html
from .timeline import TimelineFigure

REFRESH_S = 0.5  # how often a busy view redraws
TIMELINE_EVERY_S = 1.0  # the plotly chart is redrawn at most this often

__all__ = ["PlaygroundView"]


class PlaygroundView(widgets.VBox):
    """A model, a message line, panes that refresh themselves, and a timeline."""

    title = "Playground"
    thread_name = "lab-playground-refresh"

    def __init__(self, model):
        """The parts every view has; the subclass then builds its own and calls ``_build``."""
        self.model = model
        self.message = widgets.HTML()
        self.timeline_pane = widgets.Output(layout=widgets.Layout(min_height="60px"))
        self._buttons: list = []
        self._busy = threading.Event()
        self._closed = threading.Event()
        self._dirty = threading.Event()
        self._worker = None
        self._handle = None
        self._timeline_drawn = (None, 0.0)  # (what was drawn, when)
        self._timeline_stale = False

    def _build(self, children: list, buttons: list) -> None:
        """Lay out ``children``, start refreshing; ``buttons`` are disabled while busy."""
        self._buttons = buttons
        super().__init__(children)
        self._unsubscribe = self.model.lab.trace.subscribe(self._on_trace)
        threading.Thread(target=self._refresh_loop, daemon=True, name=self.thread_name).start()
        self.refresh()

    # -- what subclasses fill in -----------------------------------------------------------

    def _render(self) -> None:
        raise NotImplementedError

    def _static_html(self) -> str:
        return ""

    def _wants(self, event) -> bool:
        return True

    def _pending(self) -> bool:
        return False

    def _settle(self, timeout: float) -> None:
        """After the last action: wait for its background work (a queue, a retry)."""

    # -- actions ---------------------------------------------------------------------------

    def _start(self, action, busy_text: str, prepare=None) -> None:
        """Run ``action()`` in the background; it returns (message, level)."""
        if self._busy.is_set():
            self.show_message("Still working on the last request: press again when it "
                              "has answered.", "error")
            return
        try:
            if prepare is not None:
                prepare()
        except Exception as error:  # bad input shows in the widget, never as a traceback
            self.show_message(str(error), "error")
            return
        self._busy.set()
        for button in self._buttons:
            button.disabled = True
        self.show_message(busy_text, "info")
        self._worker = threading.Thread(target=self._run, args=(action,), daemon=True)
        self._worker.start()

    def _run(self, action) -> None:
        try:
            self.model.ensure_ready()  # the notebook's clean-up may have deleted them
            text, level = action()
            self.show_message(text, level)
        except Exception as error:  # Lambda's validation errors, for example
            response = getattr(error, "response", None) or {}
            detail = response.get("Error", {}).get("Message") or str(error)
            self.show_message(f"{type(error).__name__}: {detail}", "error")
        finally:
            self._busy.clear()
            for button in self._buttons:
                button.disabled = False
            self._dirty.set()
            self.refresh()

    def wait(self, timeout: float = 60.0) -> None:
        """For code cells: wait until the last click's request has answered and its
        background work has settled; PlaygroundTimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            if worker.is_alive():
                raise PlaygroundTimeoutError(
                    f"The {self.title.lower()} is still waiting for an answer after "
                    f"{timeout:g} s.")
        self._settle(max(deadline - time.monotonic(), 0.1))
        self.refresh()
        self._draw_timeline(force=True)
        self._update_saved_output()

    def show_message(self, text: str, level: str = "ok") -> None:
        mark = html.MARKS.get(level, "")
        self.message.value = html.span(f"{mark} {text}" if mark else text, level)

    # -- output ----------------------------------------------------------------------------

    def refresh(self) -> None:
        try:
            self._render()
            self._draw_timeline()
        except Exception as error:  # a broken view says so instead of going blank
            self.show_message(f"Could not refresh the view: {error}", "error")

    def timeline(self) -> TimelineFigure:
        """The timeline as a chart for a notebook cell (a table where plotly cannot run)."""
        return TimelineFigure(self.model.timeline(), f"{self.title}: execution environments")

    def _draw_timeline(self, force: bool = False) -> None:
        drawn, when = self._timeline_drawn
        timeline = self.model.timeline()
        key = [(s.lane, s.start, s.end, s.outcome) for s in timeline.spans]
        key += [(m.time,) for m in timeline.marks]
        if key == drawn:
            self._timeline_stale = False
            return
        if not force and time.monotonic() - when < TIMELINE_EVERY_S:
            self._timeline_stale = True  # the refresh loop comes back for it
            return
        bundle = TimelineFigure(timeline, f"{self.title}: execution environments").mimebundle()
        self.timeline_pane.outputs = (
            {"output_type": "display_data", "data": bundle, "metadata": {}},)
        self._timeline_drawn = (key, time.monotonic())
        self._timeline_stale = False

    def _on_trace(self, event) -> None:
        if self._wants(event):
            self._dirty.set()

    def _refresh_loop(self) -> None:
        was_pending = True
        while not self._closed.is_set():
            dirty = self._dirty.wait(REFRESH_S)
            if self._closed.is_set() or not self.model.lab.running:
                return
            self._dirty.clear()
            try:
                pending = self._pending()
            except Exception:  # the lab stopped under us
                return
            if dirty or pending or was_pending or self._timeline_stale:
                self.refresh()
            was_pending = pending

    # -- a saved notebook --------------------------------------------------------------------

    def _bundle(self) -> dict:
        bundle = dict(super()._repr_mimebundle_())
        bundle["text/plain"] = (f"{self.title} (interactive: run the notebook in JupyterLab "
                                "to use it)")
        note = html.muted("Interactive: run the notebook in JupyterLab to use it. "
                          "What it showed last:")
        bundle["text/html"] = (f"<div><b>{html.escape(self.title)}</b>{note}"
                               f"{self._static_html()}</div>")
        return bundle

    def _repr_mimebundle_(self, **kwargs):
        return self._bundle()

    def _ipython_display_(self):
        from IPython.display import display

        self._handle = display(self._bundle(), raw=True, display_id=True)

    def _update_saved_output(self) -> None:
        """Put the latest state into the output a saved notebook keeps (after ``wait``)."""
        if self._handle is not None:
            try:
                self._handle.update(self._bundle(), raw=True)
            except Exception:  # no frontend (a plain Python session): nothing to update
                pass

    def close(self) -> None:
        self._closed.set()
        self._dirty.set()
        self._unsubscribe()
        super().close()
