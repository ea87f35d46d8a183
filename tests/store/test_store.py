"""Run directories: manifest, tables appended as they come, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octperf.errors import StoreError
from octperf.store import FORMAT_VERSION, create_run, open_run


def test_a_new_run_is_running_and_versioned(tmp_path: Path) -> None:
    """create_run writes a manifest with the format version and status running."""
    run = create_run(tmp_path, "p", testbed="local")
    manifest = open_run(run.path).manifest()
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["status"] == "running"
    assert run.path.parent == tmp_path / "runs"
    assert run.path.name.endswith(manifest["run_id"].rsplit("-", 1)[1])


def test_rows_are_on_disk_before_the_table_is_closed(tmp_path: Path) -> None:
    """A reader sees every appended row at once; empty means unknown."""
    run = create_run(tmp_path, "p")
    run.table("haproxy_stat").append([{"ts": 1.0, "scur": 5, "slim": None}])
    frame = open_run(run.path).read_table("haproxy_stat")
    assert frame["scur"].tolist() == [5]
    assert frame["slim"].isna().all()
    assert run.table_rows() == {"haproxy_stat": 1}


def test_columns_added_later_never_shift_a_row(tmp_path: Path) -> None:
    """A key unknown to the header is dropped, the rest stays in its column."""
    run = create_run(tmp_path, "p")
    writer = run.table("t")
    writer.append([{"a": 1, "b": 2}, {"a": 3, "new": 9, "b": 4}])
    run.close_tables()
    frame = run.read_table("t")
    assert frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}


def test_an_unknown_manifest_version_is_refused(tmp_path: Path) -> None:
    """A run from a newer octperf is refused with what to do."""
    run = create_run(tmp_path, "p")
    data = json.loads((run.path / "manifest.json").read_text())
    data["format_version"] = 99
    (run.path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(StoreError, match="upgrade octperf"):
        open_run(run.path)


def test_a_directory_without_manifest_is_not_a_run(tmp_path: Path) -> None:
    """open_run on any folder says where runs live."""
    with pytest.raises(StoreError, match="not a run directory"):
        open_run(tmp_path)


def test_a_second_writer_appends_under_the_same_header(tmp_path: Path) -> None:
    """Reopening a table adds rows, never a second header."""
    run = create_run(tmp_path, "p")
    run.table("t").append([{"a": 1, "b": 2}])
    run.close_tables()
    again = open_run(run.path)
    again.table("t").append([{"b": 4, "a": 3}])
    again.close_tables()
    assert again.read_table("t").to_dict("list") == {"a": [1, 3], "b": [2, 4]}
