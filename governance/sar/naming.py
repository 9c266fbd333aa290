"""Where a request's bundle key and handover files live: names only, no heavy imports.

Shared by delivery (which writes them) and the retention sweep (which removes them
when a case the bundle drew on is destroyed) without pulling in PDF rendering.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["bundle_key_name", "handover_dir"]


def bundle_key_name(request_id: str) -> str:
    return f"sar-{request_id}"


def handover_dir(home: Path, request_id: str) -> Path:
    return Path(home) / "sar" / "handover" / request_id
