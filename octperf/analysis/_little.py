"""Little's law per step: do the users account for the throughput they made?

A Locust user alternates one request and its think time (``wait_time``), so
in a steady window Little's law gives the users busy in that loop as
throughput x (mean response time + think time). Fewer than the users the
step ran means they spent the rest elsewhere: in the load generator itself
(a CPU-bound worker, a slow event loop) or in client-side work the response
time does not count. Their load is then lower than the users suggest.
"""

from __future__ import annotations

import pandas as pd

from octperf.analysis._steps import require

DEFICIT_RATIO = 0.9
"""expected_users / users below which a step is flagged as a deficit.

A steady window's mean throughput and response time each carry a few
percent of sampling error, and every user spends a sliver of each loop in
Locust itself; a tenth of the users unaccounted for is beyond both, and well
short of what a saturated generator loses.
"""


def littles_law(
    steps: pd.DataFrame, think_time_s: float = 0.0, deficit_ratio: float = DEFICIT_RATIO
) -> pd.DataFrame:
    """Per step: the users Little's law accounts for, against those that ran.

    ``expected_users`` = ``throughput`` (req/s) x (``latency_mean_ms`` / 1000
    + think time in seconds); a ``think_time_s`` column in ``steps``
    overrides the argument per step (Locust's ``between(a, b)`` has mean
    (a + b) / 2). ``ratio`` is expected_users / users; ``deficit`` is true
    where it is below ``deficit_ratio``. A ratio well above 1 means the
    throughput counts requests the users did not make one at a time, or the
    think time is wrong. Sorted by users; AnalysisError for missing columns.
    """
    columns = ["users", "throughput", "latency_mean_ms"]
    table = require(steps, columns, "Little's law")
    think = table.get("think_time_s", think_time_s)
    frame = table[columns].astype(float)
    frame["think_time_s"] = think
    cycle_s = frame["latency_mean_ms"] / 1000 + frame["think_time_s"]
    frame["expected_users"] = frame["throughput"] * cycle_s
    frame["ratio"] = frame["expected_users"] / frame["users"]
    frame["deficit"] = frame["ratio"] < deficit_ratio
    return frame
