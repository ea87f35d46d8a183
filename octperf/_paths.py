"""Where octperf finds the files it ships beside the package."""

from __future__ import annotations

from pathlib import Path

from octperf.errors import EnvironmentProblem

REPO = Path(__file__).resolve().parent.parent


def shipped(relative: str) -> Path:
    """A file or directory shipped in the repository (templates, notebooks).

    octperf is installed editable from its checkout, so these sit beside the
    package; a plain install without them cannot run beds or reports.
    """
    path = REPO / relative
    if not path.exists():
        raise EnvironmentProblem(
            f"{path} is missing: install octperf from its checkout with "
            "'pip install -e .' so templates, notebooks and locust/ are found"
        )
    return path
