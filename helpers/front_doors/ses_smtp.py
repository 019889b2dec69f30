"""The SMTP endpoint of the lab's SES: aiosmtpd on 127.0.0.1, in a thread of its own.

aiosmtpd (https://aiosmtpd.aio-libs.org/) speaks SMTP; the lab decides, through a
``policy`` object, which recipients to take and what to do with each message:

- ``policy.check_recipient(address) -> (reply or None, reason)``: at RCPT TO. A reply
  (a 5xx) refuses the recipient, as SES refuses mail no active receipt rule covers;
- ``policy.accept(mail_from, recipients, content, peer, helo) -> reply``: at the end of
  DATA; the message is then processed after the SMTP conversation, as SES processes it;
- ``policy.refused(stage, reply, mail_from, recipients, reason)``: a message the server
  refused on its own (too big, a line too long, too many recipients or sessions).

Everything a client can send is bounded: a message over ``max_message`` bytes is
refused at DATA without being kept (552), at most ``max_recipients`` recipients per
message (452, RFC 5321 §4.5.3.1.8), ``max_sessions`` connections at once (421 to the
next), an idle connection is closed after ``idle_timeout`` seconds, and each command at
most ``command_limit`` times per connection. ``stop()`` closes every connection and the
thread. Introduced in notebook 09.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

from aiosmtpd.smtp import SMTP

__all__ = ["SmtpServer"]

TOO_BIG = "552 5.3.4 Message too big for system"  # RFC 3463: 5.3.4
# aiosmtpd's own refusals, and what the lab answers and records in their place
REWORDED = {
    "552 Error: Too much mail data": ("DATA", TOO_BIG, "the message is over the size limit"),
    "552 Error: message size exceeds fixed maximum message size": (
        "MAIL", TOO_BIG, "the SIZE the client announced is over the size limit"),
    "500 Line too long (see RFC5321 4.5.3.1.6)": (
        "DATA", "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6)",
        "a line of the message is over 1,000 characters"),
}
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TOO_MANY_SESSIONS = b"421 4.3.2 Too many connections, try again later\r\n"


class _Handler:
    """aiosmtpd's hooks, handing the decisions to the policy."""

    def __init__(self, policy, max_recipients: int):
        self.policy = policy
        self.max_recipients = max_recipients

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(envelope.rcpt_tos) >= self.max_recipients:
            self.policy.refused("RCPT", TOO_MANY_RECIPIENTS, envelope.mail_from, [address],
                                f"more than {self.max_recipients} recipients")
            return TOO_MANY_RECIPIENTS
        reply = self.policy.check_recipient(address, envelope.mail_from)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return self.policy.accept(envelope.mail_from, list(envelope.rcpt_tos),
                                  envelope.original_content, session.peer,
                                  session.host_name or "")


class _LabSMTP(SMTP):
    """aiosmtpd's SMTP, counting its sessions and answering in SES's words."""

    def __init__(self, owner, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._owner = owner
        self._refused = False

    def connection_made(self, transport):
        if not self._owner._admit(self):
            self._refused = True
            transport.write(TOO_MANY_SESSIONS)
            transport.close()
            self._owner.policy.refused("CONNECT", TOO_MANY_SESSIONS.decode().strip(), None,
                                       [], f"more than {self._owner.max_sessions} sessions")
            return
        super().connection_made(transport)

    def connection_lost(self, error):
        if self._refused:
            return
        self._owner._leave(self)
        super().connection_lost(error)

    async def push(self, status):
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        if text in REWORDED:
            stage, text, reason = REWORDED[text]
            envelope = self.envelope
            self._owner.policy.refused(stage, text, envelope.mail_from if envelope else None,
                                       list(envelope.rcpt_tos) if envelope else [], reason)
        await super().push(text)


class SmtpServer:
    """An SMTP server on 127.0.0.1 (a free port), until ``stop()``."""

    def __init__(self, policy, *, hostname: str, ident: str, max_message: int,
                 max_recipients: int = 100, max_sessions: int = 8, idle_timeout: float = 120,
                 command_limit: int = 1000, name: str = "lab-ses-smtp"):
        self.policy = policy
        self.max_sessions = max_sessions
        self._sessions: set = set()
        self._handler = _Handler(policy, max_recipients)
        self._options = {"hostname": hostname, "ident": ident, "data_size_limit": max_message,
                         "enable_SMTPUTF8": True, "timeout": idle_timeout,
                         "command_call_limit": command_limit}
        # aiosmtpd logs each session; its warnings must not reach a notebook's output
        logger = logging.getLogger("mail.log")
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
        logger.propagate = False
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.address = self._socket.getsockname()[:2]
        self._loop = asyncio.new_event_loop()
        self._server = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True, name=name)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("The lab's SMTP endpoint did not start within 10 s.")

    def _protocol(self):
        return _LabSMTP(self, self._handler, loop=self._loop, **self._options)

    def _admit(self, session) -> bool:
        if len(self._sessions) >= self.max_sessions:
            return False
        self._sessions.add(session)
        return True

    def _leave(self, session) -> None:
        self._sessions.discard(session)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            self._loop.create_server(self._protocol, sock=self._socket))
        ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    def stop(self) -> None:
        """Close the listener and every connection; the thread ends."""
        if self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(self._loop.stop)
        except RuntimeError:  # the loop closed meanwhile
            pass
        self._thread.join(timeout=5)
