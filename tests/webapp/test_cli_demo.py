"""``sathach demo``: the full product on the embedded database, prepared once and reused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from calibration import ItemParameters
from item_bank.db import make_engine
from item_bank.models import ParameterEstimate
from webapp.cli import main
from webapp.demo import draw_true_parameters, simulate_history
from webapp.exams.models import TopicProgress
from webapp.models import Role, User


def test_simulated_history_gives_each_examinee_one_form_of_distinct_items():
    truth = ItemParameters.from_lists(
        ["2pl"] * 8 + ["gpcm"] * 2, np.ones(10), [*np.linspace(-1, 1, 8), [-0.5, 0.5], [0.0, 1.0]]
    )
    data, theta = simulate_history(truth, n_examinees=500, form_length=4, rng=1)
    dense = data.to_dense()
    assert theta.shape == (500,) and dense.shape == (500, 10)
    assert np.all((~np.isnan(dense)).sum(axis=1) == 4)
    assert np.nanmax(dense[:, 8:]) == 2  # partial-credit items reach their top category
    # Abler examinees score higher on the dichotomous items they answered.
    proportion = np.nanmean(dense[:, :8], axis=1)
    answered = ~np.isnan(proportion)
    assert np.corrcoef(theta[answered], proportion[answered])[0, 1] > 0.3
    with pytest.raises(ValueError, match="form_length"):
        simulate_history(truth, n_examinees=5, form_length=11)


def test_true_parameters_perturb_the_provisional_ones_but_keep_their_models():
    provisional = ItemParameters.from_lists(["2pl", "gpcm"], [1.0, 1.0], [0.0, [-0.5, 0.5]])
    truth = draw_true_parameters(provisional, rng=3)
    assert truth.models == provisional.models
    assert not np.allclose(truth.a, 1.0)
    steps = truth.thresholds(1)
    assert steps[1] - steps[0] == pytest.approx(1.0)  # one shift for all of an item's steps


@pytest.mark.slow
def test_demo_prepares_the_database_once_and_reuses_it(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    monkeypatch.setenv("SATHACH_DATABASE_URL", url)
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--no-serve", "--examinees", "1000"])
    assert first.exit_code == 0, first.output
    assert "learner1" in first.output and "psychometrician" in first.output
    assert "demo" in first.output  # the password is printed at start
    assert "RMSE" in first.output

    engine = make_engine(url)
    with Session(engine) as session:
        active = session.scalars(
            select(ParameterEstimate).where(ParameterEstimate.is_active.is_(True))
        ).all()
        assert len(active) >= 240 and not any(estimate.provisional for estimate in active)
        assert all(estimate.se_a is not None for estimate in active)
        roles = dict(session.execute(select(User.username, User.role)).all())
        assert roles["learner3"] is Role.LEARNER and roles["admin"] is Role.ADMIN
        learner = session.scalar(select(User.id).where(User.username == "learner1"))
        completed = session.scalar(
            select(func.count()).select_from(TopicProgress).where(TopicProgress.user_id == learner)
        )
        assert completed == 19
    engine.dispose()

    second = runner.invoke(main, ["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert "Dùng lại" in second.output and "RMSE" not in second.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_demo_serves_the_app_and_the_demo_learner_can_log_in(tmp_path):
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SATHACH_")}
    command = [
        sys.executable,
        "-m",
        "webapp.cli",
        "demo",
        "--port",
        str(port),
        "--examinees",
        "500",
        "--demo-password",
        "thu-nghiem",
    ]
    log = (tmp_path / "demo.log").open("w")
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        page = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/login", timeout=5) as r:
                    page = r.read().decode("utf-8")
                break
            except OSError:
                assert server.poll() is None, Path(tmp_path / "demo.log").read_text()
                time.sleep(0.5)
        assert page is not None, "the demo server did not answer"
        assert 'lang="vi"' in page and "csrf_token" in page
        assert (tmp_path / "instance" / "sathach.sqlite").exists()
        assert "thu-nghiem" in (tmp_path / "demo.log").read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
