"""A real SMTP relay for tests: aiosmtpd with STARTTLS required and AUTH LOGIN (PLAIN off),
with the usual `Username:`/`Password:` challenges (Alertmanager refuses aiosmtpd's default
`User Name\\x00`), and a trustme certificate."""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.ports import allocate


class _Relay(SMTP):
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 OK"


class Relay(Controller):
    def __init__(
        self,
        inbox: Inbox,
        tls: ssl.SSLContext,
        user: str,
        password: str,
        host: str = "127.0.0.1",
    ) -> None:
        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            ) == (user, password)
            if ok:
                inbox.logins.append(f"{mechanism}:{user}")
            return AuthResult(success=ok)

        super().__init__(
            inbox,
            hostname=host,
            port=allocate(host),
            tls_context=tls,
            require_starttls=True,
            auth_require_tls=True,
            auth_required=True,
            auth_exclude_mechanism=["PLAIN"],
            authenticator=authenticate,
        )

    def factory(self):
        return _Relay(self.handler, **self.SMTP_kwargs)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part else ""
