"""Parsing ``show stat`` and ``show info`` text, without a running HAProxy."""

from __future__ import annotations

from pathlib import Path

import pytest

from octperf.collectors import frontend_counter, parse_show_info, parse_show_stat
from octperf.errors import CollectorError

DATA = Path(__file__).parent / "data"

# Captured from HAProxy 2.6.12 (Debian 12) after three requests.
SHOW_STAT = (DATA / "show_stat_2.6.txt").read_text()
SHOW_INFO = (DATA / "show_info_2.6.txt").read_text()


def test_real_output_gives_one_row_per_proxy_and_server():
    """Each line of HAProxy 2.6's output is one row, in HAProxy's order."""
    rows = parse_show_stat(SHOW_STAT)

    assert [(row["pxname"], row["svname"]) for row in rows] == [
        ("5b8c3a1e-listener", "FRONTEND"),
        ("7f2d-pool", "9a1c-member"),
        ("7f2d-pool", "BACKEND"),
        ("responder", "FRONTEND"),
    ]


def test_real_output_keeps_header_order_without_separator_or_trailing_name():
    """Fields follow the header, minus the ``-`` field and the empty last name."""
    header = SHOW_STAT.splitlines()[0][2:].split(",")
    rows = parse_show_stat(SHOW_STAT)

    assert header[-1] == ""
    assert "-" in header
    expected = [name for name in header if name not in ("", "-")]
    assert all(list(row) == expected for row in rows)


def test_real_output_values_stay_strings_and_empty_is_none():
    """Counters are kept as HAProxy wrote them; empty fields are None, not 0."""
    frontend, server, backend, _ = parse_show_stat(SHOW_STAT)

    assert frontend["req_tot"] == "3"
    assert frontend["stot"] == "3"
    assert frontend["type"] == "0"
    assert frontend["qcur"] is None
    assert server["req_rate"] is None
    assert server["type"] == "2"
    assert backend["status"] == "UP"
    assert frontend["h1_total_streams"] == "3"  # a module counter after "-"


def test_quoted_field_may_hold_a_comma():
    """A quoted value with a comma stays one field."""
    text = '# pxname,svname,check_desc,\nbe,srv1,"Layer4 timeout, check",\n\n'

    (row,) = parse_show_stat(text)

    assert row == {
        "pxname": "be",
        "svname": "srv1",
        "check_desc": "Layer4 timeout, check",
    }


def test_empty_field_is_none():
    """An empty field means unknown."""
    (row,) = parse_show_stat("# pxname,svname,qcur,scur,\nfe,FRONTEND,,7,\n\n")

    assert row["qcur"] is None
    assert row["scur"] == "7"


def test_separator_field_is_dropped_and_later_fields_keep_their_names():
    """The ``-`` field goes; counters after it stay under their own names."""
    text = "# pxname,svname,scur,-,ssl_sess,\nfe,FRONTEND,1,-,5,\n\n"

    (row,) = parse_show_stat(text)

    assert row == {"pxname": "fe", "svname": "FRONTEND", "scur": "1", "ssl_sess": "5"}


def test_blank_line_ends_the_output():
    """Whatever follows the blank line is not a row."""
    text = "# pxname,svname,\nfe,FRONTEND,\n\nstray,line,\n"

    rows = parse_show_stat(text)

    assert rows == [{"pxname": "fe", "svname": "FRONTEND"}]


def test_output_without_trailing_blank_line_still_parses():
    """A truncated answer without the final blank line keeps its rows."""
    rows = parse_show_stat("# pxname,svname,\nfe,FRONTEND,\nbe,BACKEND,")

    assert [row["svname"] for row in rows] == ["FRONTEND", "BACKEND"]


def test_short_line_leaves_missing_fields_unknown():
    """A line with fewer fields than the header gives None for the rest."""
    (row,) = parse_show_stat("# pxname,svname,scur,stot,\nfe,FRONTEND,1\n\n")

    assert row == {"pxname": "fe", "svname": "FRONTEND", "scur": "1", "stot": None}


def test_answer_without_header_is_a_collector_error():
    """An error message from HAProxy is refused, quoting what came back."""
    with pytest.raises(CollectorError, match="Unknown command"):
        parse_show_stat("Unknown command: 'show stats'\n\n")


def test_show_info_keys_keep_their_spelling():
    """Keys are HAProxy's, including those with spaces."""
    info = parse_show_info(SHOW_INFO)

    assert info["Version"] == "2.6.12-1+deb12u4"
    assert info["Maxconn"] == "1000"
    assert info["Unstoppable Jobs"] == "0"
    assert info["Uptime"] == "0d 0h00m01s"


def test_show_info_empty_value_is_none_and_colons_in_values_survive():
    """Only the first colon splits; an empty value is unknown."""
    info = parse_show_info("description:\nnode: lb:1\n\nafter: blank\n")

    assert info == {"description": None, "node": "lb:1"}


def test_show_info_without_key_value_lines_is_a_collector_error():
    """An answer with no ``Key: value`` line is refused."""
    with pytest.raises(CollectorError, match="no 'Key: value'"):
        parse_show_info("Permission denied\n\n")


def test_frontend_counter_reads_the_frontend_row():
    """The counter comes from the FRONTEND row, as an int."""
    rows = parse_show_stat(SHOW_STAT)

    assert frontend_counter(rows, "5b8c3a1e-listener") == 3
    assert frontend_counter(rows, "5b8c3a1e-listener", "bin") == 246


def test_frontend_counter_is_none_when_empty_or_absent():
    """An empty or unknown field is None, not 0."""
    rows = parse_show_stat(SHOW_STAT)

    assert frontend_counter(rows, "5b8c3a1e-listener", "qcur") is None
    assert frontend_counter(rows, "5b8c3a1e-listener", "no_such_field") is None


def test_frontend_counter_names_the_frontends_when_one_is_missing():
    """A backend of that name is not a frontend; the error lists the real ones."""
    rows = parse_show_stat(SHOW_STAT)

    with pytest.raises(CollectorError, match="5b8c3a1e-listener") as caught:
        frontend_counter(rows, "7f2d-pool")
    assert "responder" in str(caught.value)


def test_frontend_counter_accepts_sampled_rows_with_ts():
    """Rows from a sample (with ``ts``) work as well as raw rows."""
    rows = [{"ts": 1.0, **row} for row in parse_show_stat(SHOW_STAT)]

    assert frontend_counter(rows, "responder", "stot") == 3
