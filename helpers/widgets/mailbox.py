"""The mailbox playground widget: a view over ``MailboxModel``.

    mailbox = helpers.mailbox_view(lab)          # shows the widget
    mailbox.content.value = "spam (the GTUBE test string)"   # drive it from code
    mailbox.send_button.click()
    mailbox.wait()                               # until the rules and functions ended
    mailbox.timeline()                           # the invocations, as a chart

Controls on the left (recipient, subject, body, whether it is spam, how the filter rule
invokes its function) and, for every message: SMTP's answer, the rules it matched,
each action's outcome, the filter's disposition and how the processing ended; the
latest event as a function received it; and a timeline of the invocations. Introduced
in notebook 09.
"""

from __future__ import annotations

import json
import time

import ipywidgets as widgets

from ..playgrounds.base import PlaygroundTimeoutError
from ..playgrounds.mailbox import CONTENTS, DOMAIN, MODES, RECIPIENTS, MailboxModel
from . import html
from .base import PlaygroundView

COLUMNS = [("time", "Time"), ("message", "Message"), ("smtp", "SMTP answered"),
           ("mode", "Filter"), ("rules", "Rules"), ("actions", "Actions"),
           ("disposition", "Disposition"), ("outcome", "Outcome")]

__all__ = ["MailboxView", "mailbox_view"]


def mailbox_view(lab, name: str = "mailbox-demo") -> MailboxView:
    """Create the playground for ``lab`` (domain, bucket, functions, rule set)."""
    return MailboxView(MailboxModel(lab, name))


class MailboxView(PlaygroundView):
    """Controls bound to a MailboxModel, and a live view of what each message caused."""

    title = "Mailbox playground"

    def __init__(self, model: MailboxModel):
        super().__init__(model)
        wide = widgets.Layout(width="360px")
        self.recipient = widgets.Dropdown(options=RECIPIENTS, value=model.recipient,
                                          description="To", layout=wide)
        self.subject = widgets.Text(value=model.subject, description="Subject", layout=wide)
        self.body = widgets.Textarea(value=model.body, description="Body",
                                     layout=widgets.Layout(width="360px", height="70px"))
        self.content = widgets.Dropdown(options=CONTENTS, value=model.content,
                                        description="Content", layout=wide)
        self.mode = widgets.ToggleButtons(options=MODES, value=model.mode,
                                          description="Filter")
        self.send_button = widgets.Button(description="Send", button_style="primary",
                                          icon="envelope")
        self.messages = widgets.HTML()
        self.latest_event = widgets.HTML()
        self.send_button.on_click(lambda _: self._start(self._send, "Sending …",
                                                        self._read_controls))
        intro = widgets.HTML(
            f"Mail for <code>{html.escape(DOMAIN)}</code> goes through the rule set "
            f"<b>{html.escape(model.rule_set)}</b>: <b>filter</b> invokes "
            f"<code>{html.escape(model.name)}-filter</code>, <b>deliver</b> stores the "
            f"message in S3 and invokes <code>{html.escape(model.name)}-reader</code>. "
            "Sending makes this rule set the active one.")
        controls = widgets.VBox([intro, self.recipient, self.subject, self.body, self.content,
                                 self.mode, self.send_button, self.message])
        self.views = widgets.Tab(children=[self.messages, self.latest_event,
                                           self.timeline_pane])
        for index, title in enumerate(("Messages", "Latest event", "Timeline")):
            self.views.set_title(index, title)
        self._build([controls, self.views], [self.send_button])

    def _read_controls(self):
        model = self.model
        model.recipient, model.subject, model.body = (self.recipient.value, self.subject.value,
                                                      self.body.value)
        model.content, model.mode = self.content.value, self.mode.value
        model.compose()  # a MailboxError if a setting is not right

    def _send(self):
        sent = self.model.send()
        level = "ok" if sent.accepted else "error"
        return f"{sent.subject} → {sent.recipient}: SMTP answered {sent.reply}", level

    def _settle(self, timeout: float) -> None:
        if not self.model.wait(timeout):
            raise PlaygroundTimeoutError(
                f"A message was still in the rules, or its function still running, after "
                f"{timeout:.0f} s; look at lab.trace to see where it is.")

    # -- output ----------------------------------------------------------------------------

    def _wants(self, event) -> bool:
        return event.kind.startswith("ses.") or event.kind in ("event.completed",
                                                               "attempt.end")

    def _pending(self) -> bool:
        return self.model.pending() > 0

    def _render(self):
        rows = self.model.rows()
        for row in rows:
            row["time"] = time.strftime("%H:%M:%S", time.localtime(row["when"]))
            row["level"] = ("error" if row["outcome"].startswith(("refused", "dropped"))
                            else "warn" if row["outcome"].startswith("stopped")
                            else "ok" if row["outcome"] else "info")
            row["smtp_level"] = "ok" if row["smtp"].startswith("250") else "error"
        self.messages.value = html.table(
            rows, COLUMNS, "No messages yet: write one, then press Send.",
            levels={"outcome": "level", "smtp": "smtp_level"})
        event = self.model.latest_event()
        self.latest_event.value = (
            html.muted("No event yet.") if event is None else
            "<b>The latest event, as the function received it</b>"
            + html.pre(json.dumps(event, indent=2), 420))

    def _static_html(self) -> str:
        return self.messages.value
