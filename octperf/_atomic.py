"""Writing JSON files that a crash leaves whole: the old one or the new one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    text = json.dumps(data, indent=2, default=str) + "\n"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
