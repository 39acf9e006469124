"""A real SMTP server on loopback (aiosmtpd) for tests that send email.

``MailServer`` runs aiosmtpd's threaded Controller on 127.0.0.1 with a port the OS picks and
records every message it accepts::

    from mailserver import MailServer, TestCA

    ca = TestCA()                                  # a trustme CA and a cert for 127.0.0.1
    with MailServer(security="starttls", ca=ca, users={"rw": "pw"},
                    reject={"nobody@example.com": "550 no such user"}) as mx:
        ...  # send with host 127.0.0.1, port mx.port, tls_context=ca.client_context()
        mail = mx.wait_for(1)[0]
        mail.message["Subject"]                    # parsed with email.policy.default

``security`` is "starttls" (STARTTLS offered and required before MAIL and AUTH), "tls"
(implicit TLS from the first byte) or "none" (plain; AUTH allowed in clear). With
``users`` the server offers AUTH PLAIN/LOGIN (and requires it with STARTTLS). ``reject``
maps a recipient to the reply its RCPT gets.

``tests/`` is on ``sys.path`` (it has a conftest.py and no ``__init__.py``), so any test
imports this module as ``mailserver``.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["Mail", "MailServer", "TestCA"]

Security = Literal["starttls", "tls", "none"]


class TestCA:
    """A throwaway certificate authority and a server certificate for 127.0.0.1/localhost."""

    __test__ = False  # not a test class, whatever its name says

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting this CA only (not the system's)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@dataclass(frozen=True)
class Mail:
    """One accepted message: the envelope and the bytes, parsed."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    authenticated_as: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.server.reject:
            return self.server.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if session.auth_data else None
        mail = Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, login)
        with self.server._changed:
            self.server._mails.append(mail)
            self.server._changed.notify_all()
        return "250 Message accepted for delivery"


class _LoopbackController(Controller):
    # aiosmtpd pokes its own server after starting it, at self.port: with port 0 that
    # must first become the port the OS actually bound.
    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailServer:
    """An aiosmtpd server on ``127.0.0.1:<port 0>``; use it as a context manager."""

    def __init__(
        self,
        *,
        security: Security = "none",
        ca: TestCA | None = None,
        users: Mapping[str, str] | None = None,
        reject: Mapping[str, str] | None = None,
    ) -> None:
        if security != "none" and ca is None:
            raise ValueError("a TLS mail server needs a TestCA")
        self.security = security
        self.users = dict(users or {})
        self.reject = dict(reject or {})
        self._mails: list[Mail] = []
        self._changed = threading.Condition()
        kwargs: dict[str, Any] = {}
        if security == "starttls":
            assert ca is not None
            kwargs |= {"tls_context": ca.server_context(), "require_starttls": True}
        elif security == "tls":
            assert ca is not None
            kwargs["ssl_context"] = ca.server_context()
        if self.users:
            # Over implicit TLS aiosmtpd does not count the session as TLS, and in "none"
            # the test deliberately allows AUTH in clear; requiring AUTH there would only
            # make aiosmtpd warn, so it is required with STARTTLS alone.
            kwargs |= {
                "authenticator": self._authenticate,
                "auth_required": security == "starttls",
                "auth_require_tls": security == "starttls",
            }
        self._controller = _LoopbackController(
            _Handler(self), hostname="127.0.0.1", port=0, **kwargs
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        if user in self.users and self.users[user] == password:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd answers "535 ... credentials invalid" itself.
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> MailServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def mails(self) -> list[Mail]:
        with self._changed:
            return list(self._mails)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Mail]:
        """The first ``count`` messages, waiting up to ``timeout`` seconds; AssertionError
        when fewer arrive."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._mails) >= count, timeout):
                raise AssertionError(f"the mail server got {len(self._mails)}, expected {count}")
            return self._mails[:count]
