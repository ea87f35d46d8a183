"""octperf's Locust user: fetch one object from the VIP, again and again.

octperf starts Locust with this file (``octperf.load.LocustLoad``) and sets
the scenario through environment variables:

- ``OCTPERF_OBJECT_PATH``: the URL path fetched, e.g. ``/objects/1k.bin``;
- ``OCTPERF_KEEP_ALIVE``: ``1`` reuses connections, ``0`` sends
  ``Connection: close`` so every request opens a new one;
- ``OCTPERF_THINK_TIME_S``: constant wait between requests, 0 for none;
- ``OCTPERF_TABLES_DIR``, ``OCTPERF_LOCUST_RESULT``: where the master writes
  the per-second ``locust`` and ``locust_hdr`` tables and its result JSON.

Every response time is recorded in per-second HdrHistograms on the workers
and merged on the master: see ``octperf/load/_in_locust.py``.
"""

from __future__ import annotations

from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

from octperf.load._env import LocustSettings
from octperf.load._in_locust import attach, stopped

SETTINGS = LocustSettings.from_env()


class ObjectUser(FastHttpUser):
    """A client fetching the scenario's object with geventhttpclient."""

    wait_time = constant(SETTINGS.think_time_s)
    default_headers = None if SETTINGS.keep_alive else {"Connection": "close"}

    @task
    def fetch_object(self) -> None:
        if stopped():
            raise StopUser  # spawned by a ramp-up that outlived the stop
        self.client.get(SETTINGS.object_path)


@events.init.add_listener
def _attach_octperf(environment: Any, **_: Any) -> None:
    attach(environment, SETTINGS)
