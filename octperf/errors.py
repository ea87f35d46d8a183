"""The exceptions octperf raises on purpose.

Every expected failure is an ``OctperfError`` whose message says what
happened, the values involved and what to do next. The CLI prints it as one
line and exits non-zero; any other exception is a bug and keeps its
traceback.

    OctperfError
    ├── ConfigError          a profile or setting is invalid
    ├── EnvironmentProblem   the machine lacks a binary, a limit or a right
    ├── TestbedError         a bed could not start, or a process died
    │   └── PortInUse        an address:port the bed needs is taken
    ├── LoadError            Locust failed or produced no result
    ├── CollectorError       a source could not be read
    ├── StoreError           a run directory is missing or unreadable
    ├── AnalysisError        the data cannot carry an analysis (too few points)
    ├── SweepError           a sweep step failed, or a sweep cannot resume
    └── ReportError          the analysis notebook failed or did not export
"""

from __future__ import annotations


class OctperfError(Exception):
    """Root of every error octperf raises on purpose."""


class ConfigError(OctperfError):
    """A profile or setting is invalid; the message names the file and key."""


class EnvironmentProblem(OctperfError):
    """The machine lacks something a bed needs; the message says how to fix it."""


class TestbedError(OctperfError):
    """A test bed could not be brought up or lost a process."""

    __test__ = False  # not a pytest test class despite the name


class PortInUse(TestbedError):
    """An address and port the bed needs is already bound by another process."""


class LoadError(OctperfError):
    """The load generator failed or left no result."""


class CollectorError(OctperfError):
    """A metrics source could not be read or parsed."""


class StoreError(OctperfError):
    """A run directory is missing, unreadable or of an unknown format."""


class SweepError(OctperfError):
    """A sweep step failed (the message names the step and cell) or cannot resume."""


class AnalysisError(OctperfError):
    """The data given cannot carry an analysis; the message says what is missing."""


class ReportError(OctperfError):
    """The analysis notebook failed or could not be exported."""
