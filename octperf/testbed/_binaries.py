"""Finding the HAProxy and nginx binaries and asking their versions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from octperf.errors import EnvironmentProblem

# Debian's package for each binary a bed runs.
PACKAGES = {"haproxy": "haproxy", "nginx": "nginx"}

# Debian puts daemons in sbin, which is not on an ordinary user's PATH.
_EXTRA_PATH = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def search_path() -> str:
    """PATH with the sbin directories added."""
    return os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(_EXTRA_PATH)


def find(name: str) -> str | None:
    """The path of binary ``name``, looking in the sbin directories too."""
    return shutil.which(name, path=search_path())


def require(name: str) -> str:
    """Like find(), but a missing binary raises with the install command."""
    found = find(name)
    if found is None:
        package = PACKAGES.get(name, name)
        raise EnvironmentProblem(
            f"{name} is not installed: run 'sudo apt-get install {package}' "
            "(or 'make deps'), then try again"
        )
    return found


def version(name: str) -> str | None:
    """The version a binary reports (``haproxy -v``, ``nginx -v``), or None."""
    binary = find(name)
    if binary is None:
        return None
    try:
        done = subprocess.run(
            [binary, "-v"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout + done.stderr
    pattern = r"HAProxy version (\S+)" if name == "haproxy" else r"nginx/(\S+)"
    match = re.search(pattern, text)
    return match.group(1) if match else None
