"""A serving worker's app is out of the garbage collector's view once built."""

from __future__ import annotations

import json
import os
import subprocess
import sys

_PROBE = """
import gc, json
from webapp.cli.commands.serve import _GunicornApplication
tracked_before = len(gc.get_objects())
app = _GunicornApplication({"bind": "127.0.0.1:0"}).load()
print(json.dumps({
    "tracked_before": tracked_before,
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "app": type(app).__name__,
}))
"""


def test_a_gunicorn_worker_freezes_what_it_holds_for_its_whole_life(tmp_path):
    env = {
        **os.environ,
        "SATHACH_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite'}",
        "SATHACH_SECRET_KEY": "s" * 48,
    }
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    counts = json.loads(completed.stdout.strip().splitlines()[-1])
    assert counts["app"] == "Flask"
    # the modules, the ORM metadata and the app are frozen; almost nothing is left to traverse
    assert counts["frozen"] > max(50_000, counts["tracked_before"])
    assert counts["tracked"] < counts["frozen"] / 20
