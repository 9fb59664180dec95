"""``import mltrail`` stays light, and an http:// tracking URI never loads SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "pandas", "numpy", "mltrail.store", "mltrail.service", "mltrail.server")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def test_import_mltrail_loads_nothing_heavy() -> None:
    assert _loaded_after("import mltrail") == []


def test_http_tracking_uri_does_not_import_sqlalchemy() -> None:
    code = (
        "import mltrail\n"
        "mltrail.set_tracking_uri('http://127.0.0.1:1')\n"
        "assert mltrail.get_tracking_uri() == 'http://127.0.0.1:1'\n"
        "client = mltrail.TrackingClient()\n"
        "assert type(client.backend).__name__ == 'RestBackend'\n"
    )
    assert _loaded_after(code) == []
