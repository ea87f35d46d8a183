"""Agent certificates, and the API client against a real local TLS server."""

from __future__ import annotations

import json
import ssl
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509

from octperf.collectors.amphora import AmphoraAPI
from octperf.errors import CollectorError
from octperf.testbed._certs import AgentCerts, generate_agent_certs


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_agent_certificate_names_its_address_and_chains_to_the_server_ca(
    tmp_path: Path,
) -> None:
    """Clients verify the agent at 127.0.0.1 against the server CA."""
    certs = generate_agent_certs(tmp_path / "certs")
    server = _load(certs.server_pem)  # the first PEM block is the certificate
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1"
    ]
    server.verify_directly_issued_by(_load(certs.server_ca))


def test_the_client_certificate_chains_to_the_client_ca_only(tmp_path: Path) -> None:
    """Two CAs as in Octavia: the client CA is not the server CA."""
    certs = generate_agent_certs(tmp_path / "certs")
    client = _load(certs.client_cert)
    client.verify_directly_issued_by(_load(certs.client_ca))
    with pytest.raises(ValueError):
        client.verify_directly_issued_by(_load(certs.server_ca))


def test_private_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """Keys are 0600 in a 0700 directory; certificates are not secret."""
    certs = generate_agent_certs(tmp_path / "certs")
    modes = {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in certs.directory.iterdir()
    }
    assert stat.S_IMODE(certs.directory.stat().st_mode) == 0o700
    assert modes == {
        "server_ca.pem": 0o644,
        "client_ca.pem": 0o644,
        "server.pem": 0o600,
        "client.pem": 0o644,
        "client.key": 0o600,
    }


def test_the_server_pem_is_certificate_and_key_in_one_file(tmp_path: Path) -> None:
    """The agent's agent_server_cert loads as a whole chain with its key."""
    certs = generate_agent_certs(tmp_path / "certs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_pem)


# A real HTTPS server with mutual TLS, answering what each test sets. -------


class _Server(ThreadingHTTPServer):
    status = 200
    body = b"{}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[_Server, AgentCerts]]:
    certs = generate_agent_certs(tmp_path / "certs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_pem)
    context.load_verify_locations(certs.client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, certs
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _api(server: _Server, certs: AgentCerts, server_ca: Path | None = None):
    url = f"https://127.0.0.1:{server.server_address[1]}"
    return AmphoraAPI(
        url, certs.client_cert, certs.client_key, server_ca or certs.server_ca, 5.0
    )


def test_the_api_returns_the_json_object_the_server_sends(tls_server) -> None:
    """With the right certificates a JSON answer comes back as a dict."""
    server, certs = tls_server
    server.body = json.dumps({"api_version": "1.0"}).encode()
    assert _api(server, certs).info() == {"api_version": "1.0"}


def test_an_http_500_names_the_url_and_the_agents_error(tls_server) -> None:
    """The agent's JSON error text and what to check are in the message."""
    server, certs = tls_server
    server.status = 500
    server.body = json.dumps({"error": "failed to open netns", "http_code": 500})
    server.body = server.body.encode()  # type: ignore[attr-defined]
    with pytest.raises(CollectorError) as caught:
        _api(server, certs).details()
    message = str(caught.value)
    assert f"127.0.0.1:{server.server_address[1]}/1.0/details" in message
    assert "HTTP 500" in message and "failed to open netns" in message
    assert "amphora-haproxy namespace" in message


def test_a_non_json_answer_is_a_collector_error(tls_server) -> None:
    """HTTP 200 with HTML (another service on the port) is refused."""
    server, certs = tls_server
    server.body = b"<html>hello</html>"
    with pytest.raises(CollectorError, match="not JSON"):
        _api(server, certs).info()


def test_a_server_certificate_from_another_ca_is_refused(tls_server, tmp_path) -> None:
    """The client verifies the agent: a certificate of an unknown CA fails TLS."""
    server, certs = tls_server
    other = generate_agent_certs(tmp_path / "other")
    with pytest.raises(CollectorError, match="TLS with the amphora agent"):
        _api(server, certs, server_ca=other.server_ca).info()


def test_an_agent_that_does_not_listen_is_a_collector_error(tmp_path: Path) -> None:
    """A closed port names the URL and the bind options to check."""
    certs = generate_agent_certs(tmp_path / "certs")
    api = AmphoraAPI("https://127.0.0.1:9", certs.client_cert, certs.client_key,
                     certs.server_ca, 2.0)  # fmt: skip
    with pytest.raises(CollectorError, match=r"cannot reach .*127\.0\.0\.1:9/1\.0"):
        api.details()


def test_missing_certificate_files_are_refused_at_once(tmp_path: Path) -> None:
    """A wrong path fails when the client is made, naming the file."""
    missing = tmp_path / "nope.pem"
    with pytest.raises(CollectorError, match=r"nope\.pem does not exist"):
        AmphoraAPI("https://127.0.0.1:9443", missing, missing, missing)
