"""Real local receivers on 127.0.0.1 for the alert tests: an HTTP robot/webhook endpoint and an SMTP server."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (path, headers, body) -> (status, reply, seconds to wait before replying)
Behaviour = Callable[[str, dict[str, str], dict[str, Any]], tuple[int, Any, float]]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class HttpReceiver:
    base: str
    requests: list[Received] = field(default_factory=list)
    processed: dict[str, int] = field(default_factory=dict)  # idempotency key -> times acted on
    headers: dict[str, str] = field(default_factory=dict)  # added to every reply
    behaviour: Behaviour = lambda path, headers, body: (200, {"errcode": 0, "errmsg": "ok"}, 0.0)


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    """A threaded HTTP server; ``behaviour`` decides each reply.  Every request is recorded."""
    receiver = HttpReceiver(base="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                receiver.requests.append(Received(self.path, headers, body))
            status, reply, delay = receiver.behaviour(self.path, headers, body)
            if delay:
                time.sleep(delay)
            data = json.dumps(reply).encode() if not isinstance(reply, bytes) else reply
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpLog:
    port: int
    commands: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@contextmanager
def smtp_server(*, starttls: bool = False) -> Iterator[SmtpLog]:
    """A minimal SMTP server: records every command line and message; offers STARTTLS when asked (and then
    answers it with a TLS handshake using a certificate nobody trusts, if ``starttls``)."""
    log = SmtpLog(port=0)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 localhost ESMTP test\r\n")
            data, lines = False, []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                if data:
                    if text == ".":
                        data = False
                        log.messages.append("\n".join(lines))
                        self.wfile.write(b"250 OK queued\r\n")
                    else:
                        lines.append(text)
                    continue
                log.commands.append(text)
                verb = text.split(" ")[0].upper()
                if verb == "EHLO":
                    ext = b"250-STARTTLS\r\n" if starttls else b""
                    self.wfile.write(b"250-localhost\r\n" + ext + b"250 AUTH PLAIN LOGIN\r\n")
                elif verb == "HELO":
                    self.wfile.write(b"250 localhost\r\n")
                elif verb == "STARTTLS":
                    self.wfile.write(b"220 go ahead\r\n")
                    _serve_untrusted_tls(self.connection)
                    return
                elif verb == "AUTH":
                    self.wfile.write(b"235 authenticated\r\n")
                elif verb == "DATA":
                    data = True
                    self.wfile.write(b"354 go ahead\r\n")
                elif verb == "QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 OK\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    log.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield log
    finally:
        server.shutdown()
        server.server_close()


def _serve_untrusted_tls(sock: Any) -> None:
    """Complete a TLS handshake with a fresh self-signed certificate (a client that verifies must refuse it)."""
    import datetime as dt
    import ssl
    import tempfile
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
    try:
        with context.wrap_socket(sock, server_side=True) as tls:
            tls.recv(1024)
    except (ssl.SSLError, OSError):
        pass
