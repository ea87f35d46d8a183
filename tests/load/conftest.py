"""A real nginx on 127.0.0.1 serving /objects/1k.bin, with its own counters."""

from __future__ import annotations

import os
import re
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from octperf._process import ManagedProcess, start, wait_until

NGINX = Path("/usr/sbin/nginx")

_CONFIG = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    # nginx closes a connection after 1000 requests by default, which would
    # show up as accepted connections in the keep-alive tests.
    keepalive_requests 10000000;
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""


@dataclass(frozen=True)
class NginxCounters:
    """nginx's own totals since it started (stub_status)."""

    accepts: int
    requests: int


@dataclass
class Nginx:
    """A running nginx: its base URL and a reader of its counters."""

    url: str
    process: ManagedProcess

    def counters(self) -> NginxCounters:
        """Read stub_status; this read itself counts as one request."""
        with urllib.request.urlopen(f"{self.url}/nginx_status", timeout=5) as reply:
            text = reply.read().decode()
        # "server accepts handled requests" then the three numbers.
        numbers = re.search(r"\n\s*(\d+) (\d+) (\d+)", text)
        assert numbers is not None, text
        return NginxCounters(int(numbers[1]), int(numbers[3]))


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """nginx on a free loopback port, stopped by process group at teardown."""
    if not NGINX.is_file():
        pytest.skip("nginx is not installed at /usr/sbin/nginx")
    prefix = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    config = _write_site(prefix, port)
    logs = prefix / "error.log"
    argv = [str(NGINX), "-p", str(prefix), "-e", str(logs), "-c", str(config)]
    process = start("nginx", argv, prefix / "nginx.log")
    server = Nginx(f"http://127.0.0.1:{port}", process)
    try:
        wait_until(lambda: _answers(server), 10, "nginx to answer", process)
        yield server
    finally:
        process.stop()


def _write_site(prefix: Path, port: int) -> Path:
    (prefix / "tmp").mkdir()
    objects = prefix / "www" / "objects"
    objects.mkdir(parents=True)
    (objects / "1k.bin").write_bytes(os.urandom(1024))
    # As root, nginx's workers would run as nobody and could not read tmp_path.
    user = "user root;" if os.geteuid() == 0 else ""
    config = prefix / "nginx.conf"
    config.write_text(_CONFIG.format(prefix=prefix, port=port, user=user))
    return config


def _answers(server: Nginx) -> bool:
    try:
        server.counters()
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
