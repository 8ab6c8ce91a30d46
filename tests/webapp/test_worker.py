"""A serving worker tunes its interpreter once its app is built."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from webapp.worker import SWITCH_INTERVAL_S

_BUILD = {
    "sathach serve": (
        "from webapp.cli.commands.serve import _GunicornApplication\n"
        "app = _GunicornApplication({'bind': '127.0.0.1:0'}).load()"
    ),
    "gunicorn webapp.wsgi:app": "from webapp.wsgi import app",
}

_PROBE = """
import gc, json, sys
tracked_before = len(gc.get_objects())
{build}
print(json.dumps({
    "tracked_before": tracked_before,
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "app": type(app).__name__,
    "switch_interval": sys.getswitchinterval(),
}))
"""


@pytest.mark.parametrize("entry_point", sorted(_BUILD))
def test_a_worker_freezes_its_startup_objects_and_shortens_thread_slices(tmp_path, entry_point):
    env = {
        **os.environ,
        "SATHACH_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite'}",
        "SATHACH_SECRET_KEY": "s" * 48,
    }
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.replace("{build}", _BUILD[entry_point])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    counts = json.loads(completed.stdout.strip().splitlines()[-1])
    assert counts["app"] == "Flask"
    # the modules, the ORM metadata and the app are frozen; almost nothing is left to traverse
    assert counts["frozen"] > max(50_000, counts["tracked_before"])
    assert counts["tracked"] < counts["frozen"] / 20
    assert counts["switch_interval"] == SWITCH_INTERVAL_S < 0.005  # CPython's default: 5 ms
