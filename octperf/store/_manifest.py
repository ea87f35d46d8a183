"""The run manifest: what ran, where, with which versions, and how it ended.

Format history (``format_version``):

1. First version: run_id, profile, testbed, versions, host, bed, load,
   started_at, ended_at, status, runner_pid, events.
"""

from __future__ import annotations

FORMAT_VERSION = 1
READABLE_VERSIONS = {1}

STATUSES = ("running", "complete", "incomplete", "failed")
