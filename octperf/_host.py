"""Facts about the machine a run happens on, for the manifest."""

from __future__ import annotations

import os
import platform
import socket
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from octperf.testbed._limits import open_files_limits


def host_facts() -> dict[str, Any]:
    """Hostname, kernel, OS, CPUs, memory and the open-files limits."""
    soft, hard = open_files_limits()
    return {
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "os": _os_name(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "open_files_soft": soft,
        "open_files_hard": hard,
        "user_is_root": os.geteuid() == 0,
    }


def package_version(name: str) -> str | None:
    """An installed Python distribution's version, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def python_version() -> str:
    return sys.version.split()[0]


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return platform.system()
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()
