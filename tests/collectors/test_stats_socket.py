"""The stats socket and the HAProxy collector against a real HAProxy."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from octperf.collectors import (
    HAProxyCollector,
    StatsSocket,
    frontend_counter,
    parse_show_stat,
)
from octperf.errors import CollectorError


def test_show_stat_lists_listener_pool_member_and_responder(haproxy):
    """Every proxy and server of the config is a row, with its type."""
    rows = haproxy.stats().show_stat()

    kinds = {(row["pxname"], row["svname"]): row["type"] for row in rows}
    assert kinds[(haproxy.listener, "FRONTEND")] == "0"
    assert sum(kind == "1" for kind in kinds.values()) == 1  # the pool
    assert sum(kind == "2" for kind in kinds.values()) == 1  # its member
    assert kinds[("responder", "FRONTEND")] == "0"
    assert "-" not in rows[0]


def test_req_tot_grows_by_exactly_the_requests_sent(haproxy):
    """200 requests through the VIP raise the listener's req_tot by 200."""
    stats = haproxy.stats()
    before = frontend_counter(stats.show_stat(), haproxy.listener)

    haproxy.get(200)

    after = frontend_counter(stats.show_stat(), haproxy.listener)
    assert before is not None and after is not None
    assert after - before == 200


def test_stot_counts_one_connection_for_a_keep_alive_session(haproxy):
    """50 requests on one kept-alive connection are one session, 50 requests."""
    stats = haproxy.stats()
    before = stats.show_stat()

    haproxy.get(50, keep_alive=True)

    after = stats.show_stat()
    assert _grew(before, after, haproxy.listener, "stot") == 1
    assert _grew(before, after, haproxy.listener, "req_tot") == 50


def test_stot_counts_every_connection_without_keep_alive(haproxy):
    """20 requests that each close their connection are 20 sessions."""
    stats = haproxy.stats()
    before = stats.show_stat()

    haproxy.get(20, keep_alive=False)

    after = stats.show_stat()
    assert _grew(before, after, haproxy.listener, "stot") == 20
    assert _grew(before, after, haproxy.listener, "req_tot") == 20


def test_show_info_reports_version_and_current_connections(haproxy):
    """``show info`` carries the version, the limit and the live connections."""
    info = haproxy.stats().show_info()

    assert info["Version"] is not None and info["Version"].startswith("2.")
    assert info["Maxconn"] == "1000"
    assert info["CurrConns"] is not None and info["CurrConns"].isdigit()


def test_collector_rows_put_ts_first_in_both_tables(haproxy):
    """One sample: a stat row per proxy/server and one info row, ``ts`` first."""
    tables = HAProxyCollector(haproxy.socket_path).sample(1234.5)

    assert len(tables["haproxy_stat"]) == 4
    assert len(tables["haproxy_info"]) == 1
    for row in tables["haproxy_stat"] + tables["haproxy_info"]:
        assert next(iter(row.items())) == ("ts", 1234.5)


def test_answer_to_an_unknown_command_is_refused_by_the_parser(haproxy):
    """HAProxy's error text for a bad command is not taken for a table."""
    answer = haproxy.stats().command("show no-such-thing")

    with pytest.raises(CollectorError, match="does not start"):
        parse_show_stat(answer)


def test_missing_socket_names_the_path_and_what_to_check(tmp_path: Path):
    """No socket file: the error names the path and the ``stats socket`` line."""
    path = tmp_path / "absent.sock"

    with pytest.raises(CollectorError) as caught:
        StatsSocket(path).show_stat()

    assert str(path) in str(caught.value)
    assert "stats socket" in str(caught.value)


def test_socket_nobody_listens_on_is_refused(tmp_path: Path):
    """A socket file without a listener is reported as refused."""
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(path))

        with pytest.raises(CollectorError, match="refused") as caught:
            StatsSocket(path).show_info()

    assert str(path) in str(caught.value)


def test_silent_socket_times_out(tmp_path: Path):
    """A listener that never answers gives a CollectorError, not a hang."""
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(str(path))
        silent.listen()

        with pytest.raises(CollectorError, match="did not answer") as caught:
            StatsSocket(path, timeout_s=0.2).show_stat()

    assert str(path) in str(caught.value)


def _grew(before, after, frontend: str, field: str) -> int:
    first = frontend_counter(before, frontend, field)
    last = frontend_counter(after, frontend, field)
    assert first is not None and last is not None
    return last - first
