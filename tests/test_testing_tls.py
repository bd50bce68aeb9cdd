"""STARTTLS with the throwaway certificates, and AUTH, on the scripted server."""

from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
from pathlib import Path

import aiosmtplib
import pytest

from smtpcodes.testing.server import ScriptedSMTPServer
from smtpcodes.testing.tls import make_test_certificates

MESSAGE = b"From: app@example.org\r\nTo: ann@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"


def client(server: ScriptedSMTPServer, host: str | None = None) -> smtplib.SMTP:
    return smtplib.SMTP(
        host or server.hostname, server.port, local_hostname="client.test", timeout=5
    )


def test_starttls_verifies_hostname_with_smtplib() -> None:
    """smtplib upgrades with STARTTLS and verifies the certificate for 127.0.0.1 and localhost."""
    with ScriptedSMTPServer(starttls=True) as server:
        for host in ("127.0.0.1", "localhost"):
            with client(server, host) as smtp:
                smtp.starttls(context=server.client_tls_context())
                smtp.sendmail("app@example.org", ["ann@example.com"], MESSAGE)
    assert len(server.messages) == 2
    assert [x.stage for x in server.sessions[0].exchanges][:4] == [
        "CONNECT",
        "EHLO",
        "STARTTLS",
        "EHLO",
    ]


async def test_starttls_with_aiosmtplib() -> None:
    """aiosmtplib's start_tls=True works against the server's certificate."""
    async with ScriptedSMTPServer(starttls=True) as server:
        await aiosmtplib.send(
            MESSAGE,
            sender="app@example.org",
            recipients=["ann@example.com"],
            hostname=server.hostname,
            port=server.port,
            start_tls=True,
            tls_context=server.client_tls_context(),
            timeout=5,
        )
    assert server.messages[0]["Subject"] == "hi"


def test_default_trust_store_rejects_the_certificate() -> None:
    """A client that does not trust the throwaway authority fails verification."""
    with (
        ScriptedSMTPServer(starttls=True) as server,
        client(server) as smtp,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        smtp.starttls(context=ssl.create_default_context())


def test_require_starttls_refuses_mail_in_clear() -> None:
    """With require_starttls, MAIL before STARTTLS gets 530."""
    with ScriptedSMTPServer(starttls=True, require_starttls=True) as server, client(server) as smtp:
        smtp.ehlo()
        code, _ = smtp.mail("app@example.org")
    assert code == 530
    assert server.messages == []


def test_server_without_tls_says_so() -> None:
    """A server without starttls=True does not advertise it and has no client context."""
    with ScriptedSMTPServer() as server, client(server) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        with pytest.raises(RuntimeError, match="create it with starttls=True"):
            server.client_tls_context()


def test_auth_accepts_the_right_password_only() -> None:
    """credentials= offers AUTH; the right password logs in, a wrong one gets 535."""
    with ScriptedSMTPServer(credentials={"app": "s3cret"}) as server:
        with client(server) as smtp:
            assert smtp.login("app", "s3cret")[0] == 235
            smtp.sendmail("app@example.org", ["ann@example.com"], MESSAGE)
        with client(server) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            smtp.login("app", "wrong")
    assert caught.value.smtp_code == 535
    assert len(server.messages) == 1


def test_require_auth_refuses_mail_before_login() -> None:
    """With require_auth, MAIL before AUTH is refused with 530."""
    with ScriptedSMTPServer(credentials={"app": "pw"}, require_auth=True) as server:
        with client(server) as smtp:
            smtp.ehlo()
            assert smtp.mail("app@example.org")[0] == 530
        with client(server) as smtp:
            smtp.login("app", "pw")
            smtp.sendmail("app@example.org", ["ann@example.com"], MESSAGE)
    assert len(server.messages) == 1


def test_scripted_auth_reply_reaches_the_client() -> None:
    """A scripted AUTH reply replaces the server's own check, word for word."""
    gmail_app_password = (
        "534-5.7.9 Application-specific password required. For more information, go to\r\n"
        "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor a1si - gsmtp"
    )
    with ScriptedSMTPServer(credentials={"app": "pw"}) as server:
        server.on("AUTH", gmail_app_password)
        with client(server) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            smtp.login("app", "pw")
    assert caught.value.smtp_code == 534
    assert b"Application-specific password required" in caught.value.smtp_error


def test_scripted_auth_is_advertised_without_credentials() -> None:
    """Scripting AUTH on a server without credentials still makes clients try it."""
    with ScriptedSMTPServer() as server:
        server.on("AUTH", "235 2.7.0 Accepted")
        with client(server) as smtp:
            assert smtp.login("anyone", "anything")[0] == 235


def test_server_refuses_inconsistent_options() -> None:
    """Options that cannot work together are refused with a sentence."""
    with pytest.raises(ValueError, match="require_starttls=True needs starttls=True"):
        ScriptedSMTPServer(require_starttls=True)
    with pytest.raises(ValueError, match="require_auth=True needs credentials"):
        ScriptedSMTPServer(require_auth=True)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_certificates_pass_openssl_strict_verification(tmp_path: Path) -> None:
    """openssl verify -x509_strict accepts the server certificate under the authority."""
    certificates = make_test_certificates()
    (tmp_path / "ca.pem").write_text(certificates.ca_pem)
    (tmp_path / "server.pem").write_text(certificates.server_cert_pem)
    result = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", "ca.pem", "server.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "server.pem: OK"
