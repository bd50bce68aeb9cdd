"""A real SMTP server on 127.0.0.1 that answers as a test scripts it.

I/O edge: :class:`ScriptedSMTPServer` runs aiosmtpd's SMTP protocol on an asyncio loop
in a background thread, so blocking ``smtplib`` code and ``aiosmtplib`` coroutines in
the test's own loop can both talk to it. The server is created with
``loop.create_server(..., port=0)`` (aiosmtpd's ``Controller`` does not honour port 0)
and binds an ephemeral port, so parallel tests never share one.

Without a script the server accepts everything with 250. Scripted replies go out
byte for byte (the server adds only the final CRLF); a reply starting with 421 closes
the connection after it is sent, as RFC 5321 §3.8 expects of a server that says it is
closing the channel (aiosmtpd alone would keep it open).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import ssl
import threading
import warnings
from collections.abc import Mapping
from email.parser import BytesParser
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .records import ReceivedMessage, SessionRecord
from .script import AddressFilter, Event, Rule, Script

try:
    with warnings.catch_warnings():
        # aiosmtpd imports deprecated asyncio names on recent Pythons; that is its
        # business, and must not fail test suites that turn warnings into errors.
        warnings.simplefilter("ignore", DeprecationWarning)
        from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
except ImportError as error:  # pragma: no cover - depends on what is installed
    msg = (
        "The smtpcodes test server needs aiosmtpd, which is not installed;"
        ' install it with: pip install "smtpcodes[test]"'
    )
    raise ImportError(msg) from error

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ScriptedSMTPServer"]

# How long start() waits for the server thread to bind, and stop() for it to finish.
_THREAD_TIMEOUT_SECONDS = 10.0

# The script stage each SMTP verb belongs to; other verbs are recorded under their own name.
_STAGE_OF_VERB = {"EHLO": "EHLO", "HELO": "EHLO", "AUTH": "AUTH", "MAIL": "MAIL"}
_STAGE_OF_VERB |= {"RCPT": "RCPT", "DATA": "DATA"}

_DEFAULT_MAIL_REPLY = "250 2.1.0 OK"
_DEFAULT_RCPT_REPLY = "250 2.1.5 OK"
_DEFAULT_EOM_REPLY = "250 2.0.0 OK: queued"


class _ServerState:
    """What the protocol instances of one server share: script, records, live connections."""

    def __init__(self, *, enhanced_status_codes: bool, credentials: Mapping[str, str] | None):
        self.script = Script()
        self.enhanced_status_codes = enhanced_status_codes
        self.credentials = dict(credentials) if credentials is not None else None
        self.lock = threading.Lock()
        self.sessions: list[SessionRecord] = []
        self.messages: list[ReceivedMessage] = []
        self.errors: list[BaseException] = []
        self.connections: set[_ScriptedSMTP] = set()

    def new_session(self) -> SessionRecord:
        with self.lock:
            record = SessionRecord(len(self.sessions))
            self.sessions.append(record)
            return record

    def add_message(self, envelope: Envelope) -> None:
        raw = bytes(envelope.original_content or b"")
        parser = BytesParser(ReceivedMessage, policy=email.policy.default)
        # Parse with LF line ends, as Python's own strings have them, so get_content()
        # compares equal to the text the application put in; ``raw`` keeps the CRLFs.
        message = parser.parsebytes(raw.replace(b"\r\n", b"\n"))
        assert isinstance(message, ReceivedMessage)
        message.envelope_sender = _reverse_path(envelope.mail_from)
        message.envelope_recipients = tuple(envelope.rcpt_tos)
        message.raw = raw
        with self.lock:
            self.messages.append(message)


def _reverse_path(address: str | None) -> str | None:
    """The envelope sender as tests name it: ``""`` for the null sender (aiosmtpd keeps ``<>``)."""
    return "" if address == "<>" else address


def _accepts(rule: Rule | None) -> bool:
    """Tell whether the scripted answer (or the default, when no rule fires) is a success."""
    return rule is None or (rule.reply is not None and rule.reply.startswith("2"))


class _Handler:
    """aiosmtpd hooks: the default (accept everything) and the scripted MAIL/RCPT/EOM replies."""

    def __init__(self, state: _ServerState) -> None:
        self._state = state

    async def handle_EHLO(  # noqa: N802 - aiosmtpd looks hooks up by this name
        self,
        server: _ScriptedSMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Advertise ENHANCEDSTATUSCODES (aiosmtpd does not by default)."""
        session.host_name = hostname
        if self._state.credentials is None:
            # AUTH is offered only with credentials to check, or when a test scripts it.
            responses = [line for line in responses if not line.startswith("250-AUTH")]
            if any(rule.stage == "AUTH" for rule in self._state.script.rules):
                responses.insert(len(responses) - 1, "250-AUTH LOGIN PLAIN")
        if self._state.enhanced_status_codes:
            responses.insert(len(responses) - 1, "250-ENHANCEDSTATUSCODES")
        return responses

    async def handle_MAIL(  # noqa: N802
        self,
        server: _ScriptedSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Answer MAIL FROM as scripted; set the envelope sender only on success."""
        rule = self._state.script.decide(Event("MAIL", sender=_reverse_path(address)))
        if not await server.carry_out(rule):
            return ""
        if _accepts(rule):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        return rule.reply if rule is not None and rule.reply else _DEFAULT_MAIL_REPLY

    async def handle_RCPT(  # noqa: N802
        self,
        server: _ScriptedSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Answer RCPT TO as scripted; add the recipient to the envelope only on success."""
        event = Event("RCPT", sender=_reverse_path(envelope.mail_from), recipients=(address,))
        rule = self._state.script.decide(event)
        if not await server.carry_out(rule):
            return ""
        if _accepts(rule):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return rule.reply if rule is not None and rule.reply else _DEFAULT_RCPT_REPLY

    async def handle_DATA(  # noqa: N802
        self, server: _ScriptedSMTP, session: Session, envelope: Envelope
    ) -> str:
        """Answer the end of data as scripted; keep the message only on success."""
        server.record.open_exchange("EOM", ".")
        sender = _reverse_path(envelope.mail_from)
        event = Event("EOM", sender=sender, recipients=tuple(envelope.rcpt_tos))
        rule = self._state.script.decide(event)
        if not await server.carry_out(rule):
            return ""
        if _accepts(rule):
            self._state.add_message(envelope)
        return rule.reply if rule is not None and rule.reply else _DEFAULT_EOM_REPLY


class _ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP protocol, plus the scripted CONNECT/EHLO/AUTH/DATA stages and recording."""

    def __init__(self, state: _ServerState, **options: Any) -> None:
        self._state = state
        self.record = state.new_session()
        self._greeting: str | None = None
        self._data_reply: str | None = None
        self._dropped = False
        super().__init__(_Handler(state), **options)
        # Record every command line before aiosmtpd handles it.
        self._smtp_methods = {
            verb: self._recording(verb, method) for verb, method in self._smtp_methods.items()
        }

    def _recording(self, verb: str, method: Any) -> Any:
        async def recorded(arg: str | None) -> None:
            line = verb if arg is None else f"{verb} {arg}"
            self.record.open_exchange(_STAGE_OF_VERB.get(verb, verb), line)
            await method(arg)

        return recorded

    # -- connection life cycle -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # STARTTLS calls this again with the TLS transport
        super().connection_made(transport)
        if first:
            self.record.peer = transport.get_extra_info("peername")
            self._state.connections.add(self)
            if self._handler_coroutine is not None:
                self._handler_coroutine.add_done_callback(self._collect_outcome)

    def connection_lost(self, error: Exception | None) -> None:
        self.record.mark_closed()
        self._state.connections.discard(self)
        super().connection_lost(error)

    def _collect_outcome(self, task: asyncio.Task[None]) -> None:
        # A client that vanishes mid-reply ends the task with ConnectionResetError; fetch
        # it here so asyncio does not log "exception was never retrieved".
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            if not isinstance(error, ConnectionError):
                self._state.errors.append(error)  # type: ignore[arg-type]

    async def handle_exception(self, error: Exception) -> str:
        self._state.errors.append(error)
        said = " ".join(str(error).split())  # one line, whatever the message held
        return f"451 4.3.0 Test server error: {type(error).__name__}: {said}"[:500]

    def drop(self) -> None:
        """Close the connection at once, without a reply (as a crashed server would)."""
        self._dropped = True
        self.record.mark_dropped()
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()

    async def carry_out(self, rule: Rule | None) -> bool:
        """Wait out the rule's delay; drop the connection if it says so. False once dropped."""
        if rule is None:
            return True
        if rule.delay:
            await asyncio.sleep(rule.delay)
        if rule.drop:
            self.drop()
            return False
        return True

    # -- replies ---------------------------------------------------------------------

    async def push(self, status: str | bytes) -> None:
        text = status if isinstance(status, str) else status.decode("utf-8", "surrogateescape")
        if self._greeting is not None:
            text, self._greeting = self._greeting, None
        elif self._data_reply is not None and text.startswith("354"):
            text, self._data_reply = self._data_reply, None
        if self._dropped or self.transport is None or self.transport.is_closing():
            return  # nothing goes out on a dropped or closing connection
        self.record.add_reply(text)
        await super().push(text.encode("utf-8", "surrogateescape"))
        if text.startswith("421") and self.transport is not None:
            self.transport.close()  # 421 means "closing the channel": do close it

    # -- scripted stages that aiosmtpd has no handler hook for ---------------------------

    async def _handle_client(self) -> None:
        self.record.open_exchange("CONNECT", "")
        rule = self._state.script.decide(Event("CONNECT"))
        if not await self.carry_out(rule):
            return
        if rule is not None and rule.reply is not None:
            if not rule.reply.startswith("2"):
                # A refused greeting ends the session (421 closes in push(); a 554 greeting
                # would let the client say QUIT, which clients do by disconnecting).
                await self.push(rule.reply)
                if self.transport is not None:
                    self.transport.close()
                return
            self._greeting = rule.reply
        await super()._handle_client()

    async def _scripted_hello(self, hostname: str | None, *, extended: bool) -> bool:
        rule = self._state.script.decide(Event("EHLO"))
        if rule is None:
            return False
        if await self.carry_out(rule) and rule.reply is not None:
            if rule.reply.startswith("2") and self.session is not None:
                self.envelope = self._create_envelope()  # as aiosmtpd does on EHLO/HELO
                self.session.host_name = hostname or "unknown"
                self.session.extended_smtp = extended
            await self.push(rule.reply)
        return True

    async def smtp_EHLO(self, hostname: str | None) -> None:  # noqa: N802
        if not await self._scripted_hello(hostname, extended=True):
            await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname: str | None) -> None:  # noqa: N802
        if not await self._scripted_hello(hostname, extended=False):
            await super().smtp_HELO(hostname)

    async def smtp_AUTH(self, arg: str | None) -> None:  # noqa: N802
        rule = self._state.script.decide(Event("AUTH"))
        if rule is None:
            await super().smtp_AUTH(arg)
            return
        if await self.carry_out(rule) and rule.reply is not None:
            if rule.reply.startswith("2") and self.session is not None:
                self.session.authenticated = True
            await self.push(rule.reply)

    async def smtp_DATA(self, arg: str | None) -> None:  # noqa: N802
        envelope = self.envelope or Envelope()
        sender = _reverse_path(envelope.mail_from)
        event = Event("DATA", sender=sender, recipients=tuple(envelope.rcpt_tos))
        rule = self._state.script.decide(event)
        if rule is None:
            await super().smtp_DATA(arg)
            return
        if not await self.carry_out(rule) or rule.reply is None:
            return
        if rule.reply.startswith("3"):
            # A scripted intermediate reply replaces aiosmtpd's 354; the data still flows.
            self._data_reply = rule.reply
            try:
                await super().smtp_DATA(arg)
            finally:
                self._data_reply = None
            return
        await self.push(rule.reply)


class ScriptedSMTPServer:
    """A real SMTP server on ``127.0.0.1`` and an ephemeral port, answering as scripted.

    Use it as a context manager (``with``) or an async context manager (``async with``);
    either way it runs in a background thread, so ``smtplib`` and ``aiosmtplib`` clients
    both work. Script replies with :meth:`on` and dropped connections with :meth:`drop`;
    without a script it accepts everything with 250. Every session, command, reply and
    accepted message is recorded (:attr:`sessions`, :attr:`commands`, :attr:`messages`).

    ``starttls=True`` offers STARTTLS with a throwaway self-signed certificate made at
    start (trust it with :meth:`client_tls_context`); ``require_starttls`` refuses mail
    before it. ``credentials={"user": "password"}`` offers AUTH PLAIN/LOGIN and checks
    them; ``require_auth`` refuses mail before AUTH. ``enhanced_status_codes=False``
    stops advertising ENHANCEDSTATUSCODES.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        server_name: str = "smtp.example.test",
        starttls: bool = False,
        require_starttls: bool = False,
        credentials: Mapping[str, str] | None = None,
        require_auth: bool = False,
        enhanced_status_codes: bool = True,
        data_size_limit: int | None = 33_554_432,
        timeout: float = 300.0,
    ) -> None:
        if require_starttls and not starttls:
            msg = "require_starttls=True needs starttls=True: there is no TLS to require."
            raise ValueError(msg)
        if require_auth and credentials is None:
            msg = "require_auth=True needs credentials={...}: nobody could authenticate."
            raise ValueError(msg)
        self._host = host
        self._server_name = server_name
        self._starttls = starttls
        self._require_starttls = require_starttls
        self._require_auth = require_auth
        self._data_size_limit = data_size_limit
        self._timeout = timeout
        self._state = _ServerState(
            enhanced_status_codes=enhanced_status_codes, credentials=credentials
        )
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._ca_pem: str | None = None

    def __repr__(self) -> str:
        where = f"{self._host}:{self._port}" if self._port else "not started"
        return f"<ScriptedSMTPServer {where}>"

    # -- where to connect ------------------------------------------------------------

    @property
    def hostname(self) -> str:
        """The address clients connect to (``127.0.0.1`` unless ``host=`` said otherwise)."""
        return self._host

    @property
    def port(self) -> int:
        """The port the server listens on; raises :class:`RuntimeError` before start()."""
        if self._port is None:
            msg = "The server has no port yet: start it first (start() or a with block)."
            raise RuntimeError(msg)
        return self._port

    @property
    def server_name(self) -> str:
        """The name the server gives in its greeting and EHLO reply."""
        return self._server_name

    # -- scripting ---------------------------------------------------------------------

    def on(
        self,
        stage: str,
        reply: str,
        *,
        recipient: AddressFilter | None = None,
        sender: AddressFilter | None = None,
        times: int | None = None,
        after: int | None = None,
        delay: float | None = None,
    ) -> Self:
        """Script ``reply`` (exact text, CRLF or LF between lines) as the answer at ``stage``.

        ``stage`` is one of CONNECT, EHLO, AUTH, MAIL, RCPT, DATA, EOM. ``recipient`` and
        ``sender`` narrow the rule to matching addresses (exact, ``re.compile(...)`` or a
        predicate); ``times=N`` answers the first N matching events only; ``after=N`` lets
        N matching events pass first (greylisting: ``on("RCPT", "451 4.7.1 ...", times=1)``);
        ``delay`` waits that many seconds before answering. Rules are consulted in the
        order they were added; the first that applies wins. Returns the server, so calls
        chain.
        """
        rule = Rule.build(
            stage, reply, recipient=recipient, sender=sender, times=times, after=after, delay=delay
        )
        self._state.script.add(rule)
        return self

    def drop(
        self,
        stage: str,
        *,
        recipient: AddressFilter | None = None,
        sender: AddressFilter | None = None,
        times: int | None = None,
        after: int | None = None,
        delay: float | None = None,
    ) -> Self:
        """Script closing the connection, without a reply, at ``stage`` (filters as in on())."""
        rule = Rule.build(
            stage,
            None,
            drop=True,
            recipient=recipient,
            sender=sender,
            times=times,
            after=after,
            delay=delay,
        )
        self._state.script.add(rule)
        return self

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The scripted rules, in the order they are consulted."""
        return self._state.script.rules

    def reset(self) -> None:
        """Forget the script and everything recorded; the server keeps running."""
        self._state.script.clear()
        with self._state.lock:
            self._state.sessions.clear()
            self._state.messages.clear()
            self._state.errors.clear()

    # -- what happened -----------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """The messages accepted so far, parsed, each with its envelope (a fresh list)."""
        with self._state.lock:
            return list(self._state.messages)

    @property
    def sessions(self) -> list[SessionRecord]:
        """One record per client connection so far, in order (a fresh list)."""
        with self._state.lock:
            return list(self._state.sessions)

    @property
    def commands(self) -> list[str]:
        """Every command line received, over all sessions, in order."""
        return [line for session in self.sessions for line in session.commands]

    @property
    def replies(self) -> list[str]:
        """Every reply sent (greetings included), over all sessions, in order."""
        return [reply for session in self.sessions for reply in session.replies]

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised inside the server while it handled commands (a bug if any)."""
        with self._state.lock:
            return list(self._state.errors)

    # -- TLS ---------------------------------------------------------------------------

    def client_tls_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this server's throwaway certificate (for STARTTLS)."""
        if self._ca_pem is None:
            msg = "This server has no certificate: create it with starttls=True."
            raise RuntimeError(msg)
        return ssl.create_default_context(cadata=self._ca_pem)

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> Self:
        """Bind an ephemeral port and start serving in a background thread; returns self."""
        if self._thread is not None:
            msg = "The server is already running; stop() it before starting it again."
            raise RuntimeError(msg)
        if self._starttls and self._tls_context is None:
            from .tls import make_test_certificates, shared_server_context  # only TLS pays

            self._tls_context = shared_server_context()
            self._ca_pem = make_test_certificates().ca_pem
        loop = asyncio.new_event_loop()
        bound = threading.Event()
        failures: list[BaseException] = []
        thread = threading.Thread(
            target=self._serve, args=(loop, bound, failures), name="ScriptedSMTPServer", daemon=True
        )
        thread.start()
        if not bound.wait(_THREAD_TIMEOUT_SECONDS):
            msg = "The test SMTP server did not start within 10 seconds."
            raise RuntimeError(msg)
        if failures:
            thread.join(_THREAD_TIMEOUT_SECONDS)
            raise failures[0]
        self._loop = loop
        self._thread = thread
        return self

    def stop(self) -> None:
        """Close every connection, stop serving and join the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        with contextlib.suppress(RuntimeError):  # the loop may already have stopped
            loop.call_soon_threadsafe(loop.stop)
        thread.join(_THREAD_TIMEOUT_SECONDS)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        # Starting takes a few milliseconds: not worth a worker thread of the caller's loop.
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the server thread -------------------------------------------------------------

    def _make_protocol(self) -> _ScriptedSMTP:
        protocol = _ScriptedSMTP(
            self._state,
            hostname=self._server_name,
            ident="ESMTP smtpcodes test server",
            data_size_limit=self._data_size_limit,
            enable_SMTPUTF8=True,
            tls_context=self._tls_context,
            require_starttls=self._require_starttls,
            timeout=self._timeout,
            # Loopback test traffic: AUTH is offered without TLS unless TLS is required.
            auth_require_tls=self._require_starttls,
            authenticator=self._authenticate,
            loop=asyncio.get_running_loop(),
        )
        # Set after construction: aiosmtpd warns when AUTH is required without TLS.
        protocol._auth_required = self._require_auth
        return protocol

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        credentials = self._state.credentials or {}
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if login in credentials and credentials[login] == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        bound: threading.Event,
        failures: list[BaseException],
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(
                loop.create_server(self._make_protocol, host=self._host, port=0)
            )
        except BaseException as error:  # handed to start() to raise
            failures.append(error)
            loop.close()
            bound.set()
            return
        self._port = server.sockets[0].getsockname()[1]
        bound.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown(server))
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()

    async def _shutdown(self, server: asyncio.Server) -> None:
        server.close()
        for connection in list(self._state.connections):
            if isinstance(connection.transport, asyncio.Transport):
                connection.transport.abort()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await server.wait_closed()
