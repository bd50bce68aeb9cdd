"""Throwaway TLS certificates for the test server, made in memory with no dependency.

The test server offers STARTTLS with a certificate that exists only for this process:
a small certificate authority and a server certificate for ``localhost``, ``127.0.0.1``
and ``::1`` that it signs. Clients trust the authority (``ca_pem``) and then verify the
server as they would a real one, hostname included.

Nothing here is meant to protect anything. Making the certificates needs ECDSA on the
P-256 curve (FIPS 186-4, SEC 1) and DER (X.690) encoding of X.509 (RFC 5280); both are
written out below so the kit needs neither the ``cryptography`` package nor an
``openssl`` binary. The private keys are random and never leave the process except in
the temporary files ``ssl`` insists on loading from, which are deleted at once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import secrets
import ssl
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs

__all__ = ["TestCertificates", "make_test_certificates", "shared_server_context"]

# -- the P-256 curve (SEC 2 §2.4.2 "secp256r1"): y^2 = x^3 - 3x + b over GF(p) -----------
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)

_Point = tuple[int, int] | None  # None is the point at infinity


def _add(one: _Point, two: _Point) -> _Point:
    if one is None:
        return two
    if two is None:
        return one
    (x1, y1), (x2, y2) = one, two
    if x1 == x2:
        if (y1 + y2) % _P == 0:
            return None
        slope = (3 * x1 * x1 - 3) * pow(2 * y1, -1, _P) % _P  # tangent: a = -3
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _multiply(scalar: int, point: _Point) -> _Point:
    result: _Point = None
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


@attrs.frozen
class _KeyPair:
    secret: int
    public: tuple[int, int]

    @classmethod
    def generate(cls) -> _KeyPair:
        secret = secrets.randbelow(_N - 1) + 1
        public = _multiply(secret, _G)
        assert public is not None  # a scalar below the group order never gives infinity
        return cls(secret, public)

    @property
    def public_bytes(self) -> bytes:
        """The public key as an uncompressed SEC 1 point: 04 || X || Y."""
        x, y = self.public
        return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")

    def sign(self, data: bytes) -> bytes:
        """An ECDSA-with-SHA256 signature of ``data``, DER-encoded as X.509 wants it."""
        digest = int.from_bytes(hashlib.sha256(data).digest(), "big")
        while True:
            nonce = secrets.randbelow(_N - 1) + 1
            point = _multiply(nonce, _G)
            assert point is not None
            r = point[0] % _N
            s = pow(nonce, -1, _N) * (digest + r * self.secret) % _N
            if r and s:
                return _sequence(_integer(r), _integer(s))


# -- DER (X.690) ----------------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


def _sequence(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        # base 128, most significant group first, bit 8 set on all groups but the last
        chunk = [arc & 0x7F]
        remaining = arc >> 7
        while remaining:
            chunk.append(0x80 | (remaining & 0x7F))
            remaining >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _bit_string(data: bytes, unused_bits: int = 0) -> bytes:
    return _tlv(0x03, bytes([unused_bits]) + data)


def _octet_string(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _utc_time(moment: datetime) -> bytes:
    return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))


def _name(common_name: str) -> bytes:
    attribute = _sequence(_oid("2.5.4.3"), _tlv(0x0C, common_name.encode("utf-8")))
    return _sequence(_tlv(0x31, attribute))


def _extension(oid: str, value: bytes, *, critical: bool = False) -> bytes:
    flag = _tlv(0x01, b"\xff") if critical else b""
    return _sequence(_oid(oid), flag, _octet_string(value))


_ECDSA_WITH_SHA256 = _sequence(_oid("1.2.840.10045.4.3.2"))
_P256 = _oid("1.2.840.10045.3.1.7")


def _public_key_info(key: _KeyPair) -> bytes:
    algorithm = _sequence(_oid("1.2.840.10045.2.1"), _P256)
    return _sequence(algorithm, _bit_string(key.public_bytes))


def _key_id(key: _KeyPair) -> bytes:
    return hashlib.sha256(key.public_bytes).digest()[:20]


def _certificate(
    *,
    subject: str,
    issuer: str,
    key: _KeyPair,
    signer: _KeyPair,
    is_authority: bool,
    now: datetime,
) -> bytes:
    if is_authority:
        constraints = _sequence(_tlv(0x01, b"\xff"))  # cA TRUE
        key_usage = _bit_string(b"\x06", 1)  # keyCertSign (5), cRLSign (6)
        usage_extensions = [_extension("2.5.29.15", key_usage, critical=True)]
    else:
        constraints = _sequence()  # cA FALSE (the default, so omitted in DER)
        key_usage = _bit_string(b"\x80", 7)  # digitalSignature (0)
        names = _sequence(
            _tlv(0x82, b"localhost"),
            _tlv(0x87, ipaddress.ip_address("127.0.0.1").packed),
            _tlv(0x87, ipaddress.ip_address("::1").packed),
        )
        usage_extensions = [
            _extension("2.5.29.15", key_usage, critical=True),
            _extension("2.5.29.37", _sequence(_oid("1.3.6.1.5.5.7.3.1"))),  # serverAuth
            _extension("2.5.29.17", names),
        ]
    extensions = [
        _extension("2.5.29.19", constraints, critical=True),
        *usage_extensions,
        _extension("2.5.29.14", _octet_string(_key_id(key))),
        _extension("2.5.29.35", _sequence(_tlv(0x80, _key_id(signer)))),
    ]
    to_be_signed = _sequence(
        _tlv(0xA0, _integer(2)),  # version 3
        _integer(secrets.randbits(63) | 1),
        _ECDSA_WITH_SHA256,
        _name(issuer),
        _sequence(_utc_time(now - timedelta(days=1)), _utc_time(now + timedelta(days=365))),
        _name(subject),
        _public_key_info(key),
        _tlv(0xA3, _sequence(*extensions)),
    )
    return _sequence(to_be_signed, _ECDSA_WITH_SHA256, _bit_string(signer.sign(to_be_signed)))


def _private_key_der(key: _KeyPair) -> bytes:
    # SEC 1 §C.4 ECPrivateKey, which OpenSSL reads as "EC PRIVATE KEY".
    return _sequence(
        _integer(1),
        _octet_string(key.secret.to_bytes(32, "big")),
        _tlv(0xA0, _P256),
        _tlv(0xA1, _bit_string(key.public_bytes)),
    )


def _pem(label: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


@attrs.frozen
class TestCertificates:
    """A throwaway authority (``ca_pem``) and the server certificate and key it signed."""

    __test__ = False  # a name starting with "Test" is not a pytest test class

    ca_pem: str
    server_cert_pem: str
    server_key_pem: str = attrs.field(repr=False)

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the server side, loaded with the server certificate and key."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # ssl loads certificates only from files: write them, load them, delete them.
        with tempfile.TemporaryDirectory(prefix="smtpcodes-tls-") as folder:
            chain = Path(folder, "chain.pem")
            key = Path(folder, "key.pem")
            chain.write_text(self.server_cert_pem + self.ca_pem, encoding="ascii")
            key.write_text(self.server_key_pem, encoding="ascii")
            context.load_cert_chain(chain, key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context for clients that trusts the authority and checks the hostname."""
        return ssl.create_default_context(cadata=self.ca_pem)


@functools.lru_cache(maxsize=1)
def make_test_certificates() -> TestCertificates:
    """Make (once per process) an authority and a server certificate for localhost."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    authority = _KeyPair.generate()
    server = _KeyPair.generate()
    ca_der = _certificate(
        subject="smtpcodes test authority",
        issuer="smtpcodes test authority",
        key=authority,
        signer=authority,
        is_authority=True,
        now=now,
    )
    server_der = _certificate(
        subject="localhost",
        issuer="smtpcodes test authority",
        key=server,
        signer=authority,
        is_authority=False,
        now=now,
    )
    return TestCertificates(
        ca_pem=_pem("CERTIFICATE", ca_der),
        server_cert_pem=_pem("CERTIFICATE", server_der),
        server_key_pem=_pem("EC PRIVATE KEY", _private_key_der(server)),
    )


@functools.lru_cache(maxsize=1)
def shared_server_context() -> ssl.SSLContext:
    """The server-side SSL context for :func:`make_test_certificates`, loaded once per process.

    Servers only read it, so every test server can share it; loading it again for each
    server would cost more than the server itself.
    """
    return make_test_certificates().server_context()
