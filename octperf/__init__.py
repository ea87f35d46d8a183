"""octperf: performance tests for the OpenStack Octavia amphora."""

from octperf.errors import OctperfError
from octperf.profile import Profile, load_profile
from octperf.store import RunDir, open_run

__version__ = "0.1.0"

__all__ = [
    "OctperfError",
    "Profile",
    "RunDir",
    "__version__",
    "load_profile",
    "open_run",
]
