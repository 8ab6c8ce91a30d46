"""Exposure counters stay exact under concurrent updates from threads and processes."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank.db import make_engine
from item_bank.frameworks import load_taxonomy, packaged_taxonomy
from item_bank.items import create_item, exposure_counts, record_administration
from item_bank.models import ItemVersion

N_WORKERS = 4
N_INCREMENTS = 25


def _seed_two_items(url: str) -> list[int]:
    content = {
        "type": "true_false",
        "stem_vi": "Tường lửa kiểm soát kết nối mạng.",
        "options": [{"id": "T", "text": {"vi": "Đúng"}}, {"id": "F", "text": {"vi": "Sai"}}],
        "key": "T",
        "competency_tag": "VN-TT02-2025:4.1",
    }
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            load_taxonomy(session, packaged_taxonomy())
            ids = [
                create_item(session, f"EXP-{n}", content, actor="t").current_version.id
                for n in (1, 2)
            ]
        return ids
    finally:
        engine.dispose()


def _administer_many(url: str, version_ids: list[int], n_times: int) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        for _ in range(n_times):
            # one short transaction per answer, as the web app records them
            with Session(engine) as session, session.begin():
                record_administration(session, version_ids)
    finally:
        engine.dispose()


def _counts(url: str) -> tuple[dict[str, int], int]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            administered = session.scalars(
                select(ItemVersion.id).where(ItemVersion.administered_at.is_not(None))
            ).all()
            return exposure_counts(session), len(administered)
    finally:
        engine.dispose()


def test_threads_never_lose_an_increment(fresh_database_url) -> None:
    ids = _seed_two_items(fresh_database_url)
    with ThreadPoolExecutor(N_WORKERS) as pool:
        futures = [
            pool.submit(_administer_many, fresh_database_url, ids, N_INCREMENTS)
            for _ in range(N_WORKERS)
        ]
        for future in futures:
            future.result()
    counts, n_administered = _counts(fresh_database_url)
    assert counts == {"EXP-1": N_WORKERS * N_INCREMENTS, "EXP-2": N_WORKERS * N_INCREMENTS}
    assert n_administered == 2


WORKER = """
import sys
from sqlalchemy.orm import Session
from item_bank.db import make_engine
from item_bank.items import record_administration

url, version_id, n_times = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
engine = make_engine(url, pool_size=1)
for _ in range(n_times):
    with Session(engine) as session, session.begin():
        record_administration(session, [version_id])
engine.dispose()
"""


@pytest.mark.slow
def test_server_processes_never_lose_an_increment(fresh_database_url) -> None:
    ids = _seed_two_items(fresh_database_url)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, fresh_database_url, str(ids[0]), str(N_INCREMENTS)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], errors
    counts, _ = _counts(fresh_database_url)
    assert counts == {"EXP-1": 3 * N_INCREMENTS, "EXP-2": 0}
