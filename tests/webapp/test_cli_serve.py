"""``sathach serve``: refuses without a real secret key or on an old schema; serves through
gunicorn otherwise (a real server process); ``webapp.wsgi`` refuses likewise."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from webapp.cli import main

SECRET = "s" * 48


@pytest.fixture
def invoke(tmp_path):
    # The key is checked before the database is used: one backend is enough.
    from click.testing import CliRunner

    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'unused.sqlite'}"

    def run(*args, env):
        environment = {"SATHACH_DATABASE_URL": url, "SATHACH_SECRET_KEY": ""}
        environment.update(env)
        return runner.invoke(main, ["serve", *args], env=environment)

    return run


def test_serve_refuses_to_start_without_a_secret_key(invoke):
    result = invoke("--bind", "127.0.0.1:1", env={})
    assert result.exit_code == 1
    assert "SATHACH_SECRET_KEY" in result.output
    assert "Chưa cấu hình khoá bí mật" in result.output


def test_serve_refuses_a_short_secret_key(invoke):
    result = invoke(env={"SATHACH_SECRET_KEY": "changeme"})
    assert result.exit_code == 1
    assert "too short (8 characters" in result.output


def test_serve_refuses_a_database_that_is_not_migrated(runner, make_database_url):
    url = make_database_url(migrate=False)
    result = runner.invoke(
        main, ["serve"], env={"SATHACH_DATABASE_URL": url, "SATHACH_SECRET_KEY": SECRET}
    )
    assert result.exit_code == 1
    assert "sathach db upgrade" in result.output


def test_wsgi_module_refuses_without_a_secret_key(tmp_path):
    env = {**os.environ, "SATHACH_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite'}"}
    env.pop("SATHACH_SECRET_KEY", None)
    completed = subprocess.run(
        [sys.executable, "-c", "import webapp.wsgi"], env=env, capture_output=True, text=True
    )
    assert completed.returncode != 0
    assert "ConfigurationError" in completed.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_serve_runs_gunicorn_with_workers_that_share_the_database(database, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "SATHACH_DATABASE_URL": database.url,
        "SATHACH_SECRET_KEY": SECRET,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from webapp.cli import main; main()",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read()
                    headers = r.headers
            except OSError:
                time.sleep(0.2)
        assert body == b'{"status":"ok"}\n'
        assert headers["X-Content-Type-Options"] == "nosniff"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/login", timeout=5) as r:
            assert "Đăng nhập" in r.read().decode()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        # gunicorn may take its whole graceful timeout (30 s) to stop a worker still booting
        output, _ = process.communicate(timeout=60)
    text = output.decode()
    assert "gunicorn" in text
    assert text.count("Booting worker") == 2
