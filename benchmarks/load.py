"""Load benchmark of exam delivery: gunicorn on PostgreSQL on loopback, N concurrent examinees.

How to run, from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres)::

    python benchmarks/load.py                        # 200 examinees at 320 answers/s offered,
                                                     # then a burst of 1,000 exam starts
    python benchmarks/load.py --rate 0               # examinees answer without pause: capacity
    python benchmarks/load.py --examinees 50 --starts 200 --workers 2

What it does: creates a PostgreSQL schema of its own (``sathach_load_<random>`` in the database
of ``--database-url``, default ``$TEST_DATABASE_URL`` or the local ``test`` database), migrates
it, loads the seed bank and the course's exams, and creates ``examinees + starts`` learners who
have completed every topic (so all may take the final exam). It starts ``sathach serve``
(gunicorn, ``--workers`` x ``--threads``, access log off) on a free loopback port, issues every
learner a token through ``POST /api/v1/auth/token``, then:

1. the exam run: ``--examinees`` simulated examinees, each with its own keep-alive HTTP/1.1
   connection (all on one event loop in one thread, as wrk does, so that the client neither
   takes the server's cores with hundreds of threads nor adds their scheduling to what it
   measures), start the final exam and answer it to the end (right with a per-examinee
   probability, so exams end at different lengths). With ``--rate R`` each examinee paces its
   answers so that all of them together offer R answers per second (a fixed schedule: an
   examinee that falls behind sends at once); ``--rate 0`` sends the next answer as soon as
   the reply arrives. The examinees start their first exams at random over ``--ramp``
   seconds (default: one shortest exam at the offered pace) and the measured window of
   ``--duration`` seconds opens after that, so it sees examinees at every stage of their
   exams; ``--ramp 0`` starts all at once and also measures the waves of last answers and new
   starts that follow.
2. the burst: ``--starts`` other learners start the final exam at once, through
   ``--burst-connections`` keep-alive connections.

It prints answers per second, the p50/p95/p99/max latency of the answer request (and apart, of
answers that lead to a next item and of answers that end the exam), the CPU seconds of the server,
PostgreSQL and the client over the window with the machine's busy and stolen shares, and the time
of the burst with the number of starts that failed (anything but 201). Every request has a
timeout, every examinee a request budget, the run a deadline; the server (its whole process
group) and the schema are removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path; keep it from shadowing packages.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from item_bank.db import make_engine  # noqa: E402
from item_bank.models import Course, Item, ItemVersion  # noqa: E402
from item_bank.seed import seed_bank  # noqa: E402
from webapp.exams.definitions import ensure_course_exams, final_exam_id  # noqa: E402
from webapp.exams.models import TopicProgress  # noqa: E402
from webapp.migrations import upgrade  # noqa: E402
from webapp.models import OrgUnit, OrgUnitKind, Role, User, utcnow  # noqa: E402
from webapp.services.passwords import hash_password  # noqa: E402

COURSE = "KNS-CBCX"
FINAL = final_exam_id(COURSE)
PASSWORD = "load-benchmark-password"
FAST_HASH = "pbkdf2:sha256:1000"  # token issue is not what is measured
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MIN_EXAM_LENGTH = 15  # the final blueprint's minimum number of items
MAX_REQUESTS_PER_EXAMINEE = 40  # a start and at most 30 answers, with room for reconnects
REQUEST_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------------------------
# The database


def create_schema(base_url: str) -> tuple[str, str]:
    """A new schema in the database of ``base_url``; returns (schema, URL that uses it)."""
    schema = f"sathach_load_{secrets.token_hex(5)}"
    admin = make_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = (
        make_url(base_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    return schema, url


def drop_schema(base_url: str, schema: str) -> None:
    admin = make_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def prepare_database(url: str, n_learners: int) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Migrate, seed, create the course's exams and ``n_learners`` eligible learners.

    Returns the learners' usernames and the answer keys of every item (item id -> type, key,
    options with their score categories), which only the simulated examinees use.
    """
    upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    with Session(engine) as session:
        seed_bank(session)
        ensure_course_exams(session, COURSE)
        unit = OrgUnit(code="LOAD-X1", name="Xã Tải thử", kind=OrgUnitKind.COMMUNE)
        session.add(unit)
        session.flush()
        password_hash = hash_password(PASSWORD, FAST_HASH)
        usernames = [f"load{number:05d}" for number in range(n_learners)]
        session.execute(
            insert(User),
            [
                {
                    "username": name,
                    "full_name": f"Học viên tải {name[4:]}",
                    "email": "",
                    "org_unit_id": unit.id,
                    "role": Role.LEARNER,
                    "password_hash": password_hash,
                    "created_at": now,
                }
                for name in usernames
            ],
        )
        user_ids = session.scalars(select(User.id).where(User.org_unit_id == unit.id)).all()
        topic_ids = [topic.id for topic in session.get(Course, COURSE).topics]
        progress_rows = [
            {
                "user_id": user_id,
                "topic_id": topic_id,
                "attempts": 1,
                "best_correct": 5,
                "n_items": 5,
                "completed_at": now,
                "updated_at": now,
            }
            for user_id in user_ids
            for topic_id in topic_ids
        ]
        session.execute(insert(TopicProgress), progress_rows)
        session.commit()
        keys: dict[str, dict[str, Any]] = {}
        rows = session.execute(
            select(ItemVersion).join(
                Item,
                (Item.id == ItemVersion.item_id)
                & (Item.current_version_number == ItemVersion.version),
            )
        ).scalars()
        for version in rows:
            keys[version.item_id] = {
                "type": version.type,
                "key": version.key,
                "options": list(version.options),
            }
    engine.dispose()
    return usernames, keys


def settle_database(url: str) -> str:
    """Analyze the new tables and write the setup's dirty pages out (``CHECKPOINT``), so that the
    measured run neither plans on empty statistics nor pays for the setup's writes; returns
    what was done (CHECKPOINT needs a superuser or ``pg_checkpoint``)."""
    engine = make_engine(url)
    done = []
    try:
        with engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text("ANALYZE"))
            done.append("ANALYZE")
            try:
                autocommit.execute(text("CHECKPOINT"))
                done.append("CHECKPOINT")
            except DBAPIError as error:  # not allowed: a note, not a failure
                done.append(f"no CHECKPOINT ({type(error).__name__})")
    finally:
        engine.dispose()
    return ", ".join(done)


def answer_for(keys: dict[str, dict[str, Any]], item_id: str, right: bool) -> Any:
    """A right (keyed, or best category) or wrong answer to ``item_id``."""
    entry = keys[item_id]
    options = [option["id"] for option in entry["options"]]
    if entry["type"] == "multiple_response":
        key = list(entry["key"])
        return key if right else [option for option in options if option not in key][:1]
    if entry["type"] == "ordered":
        ranked = sorted(entry["options"], key=lambda option: option["score"])
        return ranked[-1 if right else 0]["id"]
    return entry["key"] if right else next(option for option in options if option != entry["key"])


# --------------------------------------------------------------------------------------------
# The server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``sathach serve`` in its own process group (so stopping it stops every worker)."""

    def __init__(self, database_url: str, workers: int, threads: int, log_path: Path) -> None:
        self.port = free_port()
        self.workers = workers
        self.threads = threads
        self.log_path = log_path
        env = {key: value for key, value in os.environ.items() if not key.startswith("SATHACH_")}
        env.update(SATHACH_SECRET_KEY=secrets.token_hex(32), SATHACH_DATABASE_URL=database_url)
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        command = [
            sys.executable,
            "-c",
            "from webapp.cli import main; main()",
            "serve",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--no-access-log",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout_s} s")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # process group id
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass


class Client:
    """One keep-alive HTTP/1.1 connection to the server, on the event loop of the examinees.

    All examinees share one thread and one event loop, as a load generator such as wrk does: 200
    client threads would compete with the server for the same two cores and add their own
    scheduling delays to every measured latency. It speaks just the HTTP/1.1 the server sends
    here (a status line, headers, a ``Content-Length`` body) and reconnects once when the server
    has closed an idle keep-alive connection; every call here is safe to repeat (answers are
    idempotent per position).
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def request(
        self, method: str, path: str, *, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: application/json"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        if body is not None:
            head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(payload)}")
        message = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        for attempt in range(2):
            try:
                status, headers, data = await asyncio.wait_for(
                    self._exchange(message), REQUEST_TIMEOUT_S
                )
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                self.reconnects += 1
                if attempt == 1:
                    raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, json.loads(data) if data else None

    async def _exchange(self, message: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(message)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            raise http.client.HTTPException("a chunked reply: this client reads Content-Length")
        length = int(headers.get("content-length", "0"))
        data = await self.reader.readexactly(length) if length else b""
        return status, headers, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# --------------------------------------------------------------------------------------------
# The simulated examinees


@dataclass
class SlotOutcome:
    """What one examinee slot did: (end time, latency, whether it ended the exam) of each
    answer, exams, errors."""

    answers: list[tuple[float, float, bool]] = field(default_factory=list)
    start_latencies_s: list[float] = field(default_factory=list)
    exams_finished: int = 0
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0


async def _over_connections(
    port: int, jobs: list[Any], connections: int, work: Any
) -> tuple[list[Any], list[Client]]:
    """Run ``await work(client, job)`` for every job through ``connections`` clients; results
    in the order of ``jobs``."""
    results: list[Any] = [None] * len(jobs)
    pending = iter(enumerate(jobs))
    clients = [Client(port) for _ in range(min(connections, len(jobs)))]

    async def drain(client: Client) -> None:
        for index, job in pending:
            results[index] = await work(client, job)

    await asyncio.gather(*(drain(client) for client in clients))
    return results, clients


async def issue_tokens(port: int, usernames: list[str], connections: int) -> dict[str, str]:
    async def issue(client: Client, username: str) -> tuple[str, str]:
        status, body = await client.request(
            "POST", "/api/v1/auth/token", body={"username": username, "password": PASSWORD}
        )
        if status != 200:
            raise RuntimeError(f"token for {username}: HTTP {status} {body}")
        return username, body["token"]

    results, clients = await _over_connections(port, usernames, connections, issue)
    for client in clients:
        client.close()
    return dict(results)


async def run_slot(
    port: int,
    learners: list[str],
    keys: dict[str, dict[str, Any]],
    interval_s: float,
    barrier: asyncio.Barrier | None,
    window: list[float],
    open_window: Any,
    seed: int,
    ramp_s: float = 0.0,
) -> SlotOutcome:
    """One concurrent examinee: learner after learner, start and answer to the end, until the
    measurement window closes (an exam in progress then is left open).

    With ``barrier``, every slot starts its first exam at once and the window opens when all
    have; without, the slot starts at a random moment of the first ``ramp_s`` seconds and the
    window is already set. ``learners`` is shared: each slot takes the next token from it."""
    outcome = SlotOutcome()
    rng = random.Random(seed)
    client = Client(port)

    async def start(token: str) -> dict[str, Any] | None:
        began = time.perf_counter()
        status, state = await client.request("POST", f"/api/v1/exams/{FINAL}/sessions", token=token)
        outcome.start_latencies_s.append(time.perf_counter() - began)
        if status not in (200, 201):
            outcome.errors.append(f"start: HTTP {status} {state}")
            return None
        return state

    try:
        if barrier is None:
            await asyncio.sleep(rng.uniform(0, ramp_s))
        token = learners.pop()
        state = await start(token)
        if barrier is not None:
            # every slot has started an exam: the window opens
            await asyncio.wait_for(barrier.wait(), 120)
            open_window()
        if state is None:
            return outcome
        window_end = window[1]
        # a random phase, so that the slots' schedules interleave instead of arriving in waves
        next_send = time.perf_counter() + rng.uniform(0, interval_s)
        probability_right = rng.uniform(0.35, 0.9)
        requests = 1
        while time.perf_counter() < window_end:
            if state["status"] != "open":
                outcome.exams_finished += 1
                if not learners:
                    outcome.errors.append("ran out of prepared learners")
                    return outcome
                token = learners.pop()
                state = await start(token)
                if state is None:
                    return outcome
                probability_right = rng.uniform(0.35, 0.9)
                requests = 1
                continue
            if requests >= MAX_REQUESTS_PER_EXAMINEE:
                outcome.errors.append(f"an exam did not end within {requests} requests")
                return outcome
            pause = next_send - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            next_send = max(next_send + interval_s, time.perf_counter()) if interval_s else 0
            item = state["item"]
            body = {
                "position": state["position"],
                "item_id": item["id"],
                "answer": answer_for(keys, item["id"], rng.random() < probability_right),
            }
            began = time.perf_counter()
            status, state = await client.request(
                "POST", f"/api/v1/sessions/{state['session_id']}/responses", token=token, body=body
            )
            ended = time.perf_counter()
            requests += 1
            if status != 200:
                outcome.errors.append(f"answer: HTTP {status} {state}")
                return outcome
            outcome.answers.append((ended, ended - began, state["status"] != "open"))
        return outcome
    except (OSError, TimeoutError, http.client.HTTPException, asyncio.BrokenBarrierError) as error:
        outcome.errors.append(f"{type(error).__name__}: {error}")
        if barrier is not None:
            await barrier.abort()  # never leave the other slots waiting for this one
        return outcome
    finally:
        outcome.reconnects = client.reconnects
        client.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def exam_run(
    port: int,
    tokens: list[str],
    keys: dict[str, dict[str, Any]],
    *,
    examinees: int,
    rate: float,
    duration_s: float,
    seed: int,
    ramp_s: float = 0.0,
    on_window: Any = None,
) -> dict[str, Any]:
    """``examinees`` concurrent examinees for ``duration_s`` seconds; figures of that window.

    With ``ramp_s`` > 0 the examinees start their first exams at random over that many seconds
    and the window opens after them, so that it sees examinees at every stage of their exams,
    as a day of real exams does; with 0 all start at once and the window opens then, so it
    also sees the waves of last answers and new starts that follow. ``on_window(edge)`` is
    called (on a thread of its own) with "open" and "close" at the window's edges, to read CPU
    counters there."""
    learners = list(reversed(tokens))  # each slot pops the next one
    # each slot's interval between answers, so that all of them together offer `rate`
    interval_s = examinees / rate if rate > 0 else 0.0
    window = [0.0, 0.0]
    barrier = None
    if ramp_s > 0:
        window[0] = time.perf_counter() + ramp_s
        window[1] = window[0] + duration_s
    else:
        barrier = asyncio.Barrier(examinees)

    async def watch_window() -> None:
        while not window[1]:
            await asyncio.sleep(0.005)
        for edge, at in (("open", window[0]), ("close", window[1])):
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            if on_window is not None:
                await asyncio.to_thread(on_window, edge)

    def open_window() -> None:  # with the barrier: once every slot has started
        if not window[1]:
            window[0] = time.perf_counter()
            window[1] = window[0] + duration_s

    watcher = asyncio.create_task(watch_window())
    outcomes = await asyncio.gather(
        *(
            run_slot(
                port,
                learners,
                keys,
                interval_s,
                barrier,
                window,
                open_window,
                seed + index,
                ramp_s,
            )
            for index in range(examinees)
        )
    )
    try:
        await asyncio.wait_for(watcher, 5)
    except TimeoutError:
        watcher.cancel()  # the window never opened (an error): main reads the counters now
    in_window = [
        (latency, last)
        for outcome in outcomes
        for ended, latency, last in outcome.answers
        if window[0] <= ended <= window[1]
    ]
    last_answers = [latency for latency, last in in_window if last]
    next_answers = [latency for latency, last in in_window if not last]
    in_window = [latency for latency, _last in in_window]
    starts = [latency for outcome in outcomes for latency in outcome.start_latencies_s]
    return {
        "examinees": examinees,
        "exams_finished": sum(outcome.exams_finished for outcome in outcomes),
        "errors": [error for outcome in outcomes for error in outcome.errors],
        "reconnects": sum(outcome.reconnects for outcome in outcomes),
        "answers": len(in_window),
        "elapsed_s": duration_s,
        "answers_per_s": len(in_window) / duration_s,
        "p50_ms": 1000 * percentile(in_window, 0.50),
        "p95_ms": 1000 * percentile(in_window, 0.95),
        "p99_ms": 1000 * percentile(in_window, 0.99),
        "max_ms": 1000 * max(in_window, default=float("nan")),
        "mean_ms": 1000 * statistics.fmean(in_window) if in_window else float("nan"),
        "next_p50_ms": 1000 * percentile(next_answers, 0.50),
        "next_p95_ms": 1000 * percentile(next_answers, 0.95),
        "last_answers": len(last_answers),
        "last_p50_ms": 1000 * percentile(last_answers, 0.50),
        "last_p95_ms": 1000 * percentile(last_answers, 0.95),
        "starts": len(starts),
        "start_p50_ms": 1000 * percentile(starts, 0.50),
        "start_p95_ms": 1000 * percentile(starts, 0.95),
    }


async def start_burst(port: int, tokens: list[str], connections: int) -> dict[str, Any]:
    async def start(client: Client, token: str) -> tuple[int, float]:
        began = time.perf_counter()
        try:
            status, _body = await client.request(
                "POST", f"/api/v1/exams/{FINAL}/sessions", token=token
            )
        except (OSError, TimeoutError, http.client.HTTPException):
            status = -1
        return status, time.perf_counter() - began

    began = time.perf_counter()
    results, clients = await _over_connections(port, tokens, connections, start)
    elapsed = time.perf_counter() - began
    for client in clients:
        client.close()
    latencies = [latency for _status, latency in results]
    return {
        "starts": len(tokens),
        "failed": sum(status != 201 for status, _latency in results),
        "statuses": sorted({status for status, _latency in results}),
        "elapsed_s": elapsed,
        "p50_ms": 1000 * percentile(latencies, 0.50),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "connections": connections,
    }


def machine_busy() -> tuple[float, float, float]:
    """(busy, total, steal) jiffies of all CPUs since boot, from /proc/stat (busy excludes idle
    and iowait; steal is time the hypervisor gave to other guests): the share of the machine in
    use over a window is the ratio of the differences."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields)), float(fields[7])


def reference_loop_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop, the best of three: how fast this machine's
    cores are just now. The host's other guests slow them without it showing as stolen time,
    and every process of the run (the client's included) then needs more CPU for the same
    work; compare it between runs."""
    best = math.inf
    for _ in range(3):
        began = time.process_time()
        total = 0
        for number in range(3_000_000):
            total += number * number
        best = min(best, time.process_time() - began)
    return 1000 * best


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (its backends do the SQL work)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes (utime and stime of /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to create the benchmark's own schema in",
    )
    parser.add_argument("--examinees", type=int, default=200)
    parser.add_argument(
        "--rate",
        type=float,
        default=320.0,
        help="answers per second all examinees together offer (0: no pause between answers)",
    )
    parser.add_argument("--starts", type=int, default=1000, help="size of the start burst")
    parser.add_argument("--burst-connections", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds of the measured exam run"
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="seconds over which the examinees start their first exams, before the window "
        "opens (default: one shortest exam at the offered pace; 0: all at once)",
    )
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--log", type=Path, default=None, help="server log (default: a temp file)")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after the exam run, wait for Enter before the burst (attach py-spy to the workers)",
    )
    args = parser.parse_args(argv)
    if not make_url(args.database_url).drivername.startswith("postgresql"):
        parser.error(f"--database-url must be PostgreSQL, not {args.database_url!r}")
    for name in ("examinees", "starts", "burst_connections", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    log_path = args.log or Path(f"/tmp/sathach-load-{os.getpid()}.log")
    schema, url = create_schema(args.database_url)
    server: Server | None = None
    try:
        began = time.perf_counter()
        # enough learners for every exam the slots can start in the window (at least 15
        # answers each; with --rate 0 the rate is bounded by the server, assumed < 800/s)
        if args.ramp is None:
            args.ramp = MIN_EXAM_LENGTH * args.examinees / args.rate if args.rate > 0 else 0.0
        n_exam_learners = args.examinees + math.ceil(
            (args.rate or 800.0) * (args.duration + args.ramp) / MIN_EXAM_LENGTH
        )
        usernames, keys = prepare_database(url, n_exam_learners + args.starts)
        settled = settle_database(url)
        print(
            f"schema {schema}: seed bank, {len(usernames)} eligible learners, {settled} "
            f"({time.perf_counter() - began:.1f} s)"
        )
        server = Server(url, args.workers, args.threads, log_path)
        server.start()
        print(
            f"gunicorn 127.0.0.1:{server.port}: {args.workers} workers x {args.threads} threads"
            f" (log {log_path}); pids {server.worker_pids()}"
        )
        began = time.perf_counter()
        tokens = asyncio.run(issue_tokens(server.port, usernames, min(50, len(usernames))))
        print(f"{len(tokens)} tokens issued ({time.perf_counter() - began:.1f} s)")

        print(f"reference loop {reference_loop_ms():.0f} ms of CPU (slower cores: more)")
        counters: dict[str, dict[str, Any]] = {}

        def read_counters(edge: str) -> None:
            counters[edge] = {
                "server": cpu_seconds(server.worker_pids()),
                "database": {pid: cpu_seconds([pid]) for pid in postgres_pids()},
                "client": time.process_time(),
                "busy": machine_busy(),
                "load": os.getloadavg()[0],
            }

        exam = asyncio.run(
            exam_run(
                server.port,
                [tokens[name] for name in usernames[:n_exam_learners]],
                keys,
                examinees=args.examinees,
                rate=args.rate,
                duration_s=args.duration,
                seed=args.seed,
                ramp_s=args.ramp,
                on_window=read_counters,
            )
        )
        for edge in ("open", "close"):  # a window that never opened (an error): read now
            if edge not in counters:
                read_counters(edge)
        opened, closed = counters["open"], counters["close"]
        server_cpu = closed["server"] - opened["server"]
        # backends that connected during the window count from zero
        database_cpu = sum(
            seconds - opened["database"].get(pid, 0.0)
            for pid, seconds in closed["database"].items()
        )
        client_cpu = closed["client"] - opened["client"]
        busy_jiffies = closed["busy"][0] - opened["busy"][0]
        total_jiffies = closed["busy"][1] - opened["busy"][1]
        machine_share = busy_jiffies / total_jiffies
        steal_share = (closed["busy"][2] - opened["busy"][2]) / total_jiffies
        cores = os.cpu_count() or 1
        offered = f"{args.rate:g} answers/s offered" if args.rate > 0 else "no pause"
        offered += (
            f", first starts over {args.ramp:.1f} s" if args.ramp else ", all started at once"
        )
        print(
            f"\nexam run: {exam['examinees']} concurrent examinees ({offered}), "
            f"{exam['exams_finished']} exams finished, {exam['answers']} answers in "
            f"{exam['elapsed_s']:.0f} s"
        )
        print(f"  answers per second      {exam['answers_per_s']:8.1f}")
        print(
            f"  answer latency ms       p50 {exam['p50_ms']:.1f}  p95 {exam['p95_ms']:.1f}  "
            f"p99 {exam['p99_ms']:.1f}  max {exam['max_ms']:.1f}  mean {exam['mean_ms']:.1f}"
        )
        print(
            f"    to a next item        p50 {exam['next_p50_ms']:.1f}  "
            f"p95 {exam['next_p95_ms']:.1f}"
        )
        print(
            f"    ending the exam       {exam['last_answers']} answers, p50 "
            f"{exam['last_p50_ms']:.1f}  p95 {exam['last_p95_ms']:.1f}"
        )
        print(
            f"  start latency ms        {exam['starts']} starts, p50 {exam['start_p50_ms']:.1f}  "
            f"p95 {exam['start_p95_ms']:.1f}"
        )
        print(
            f"  CPU s                   server {server_cpu:.1f}  PostgreSQL {database_cpu:.1f}  "
            f"client {client_cpu:.1f}  (of {cores * exam['elapsed_s']:.1f} on {cores} cores in the "
            f"window; machine {100 * machine_share:.0f}% busy, {100 * steal_share:.1f}% stolen "
            "by the hypervisor)"
        )
        print(
            f"  load average            window open {opened['load']:.2f}  "
            f"closed {closed['load']:.2f}"
        )
        print(f"  errors {len(exam['errors'])}, reconnects {exam['reconnects']}")
        for error in exam["errors"][:5]:
            print(f"    {error}")

        if args.hold:
            input(f"server pids {server.worker_pids()}: press Enter for the burst ")
        load_before = os.getloadavg()
        burst = asyncio.run(
            start_burst(
                server.port,
                [tokens[name] for name in usernames[n_exam_learners:]],
                args.burst_connections,
            )
        )
        load_after = os.getloadavg()
        print(
            f"\nstart burst: {burst['starts']} exam starts through {burst['connections']} "
            f"connections in {burst['elapsed_s']:.2f} s, {burst['failed']} failed "
            f"(statuses {burst['statuses']})"
        )
        print(f"  start latency ms        p50 {burst['p50_ms']:.1f}  p95 {burst['p95_ms']:.1f}")
        print(f"  load average            before {load_before[0]:.2f}  after {load_after[0]:.2f}")
        targets_met = (
            exam["answers_per_s"] >= 300
            and exam["p95_ms"] <= 50
            and not exam["errors"]
            and burst["elapsed_s"] <= 10
            and burst["failed"] == 0
        )
        print(
            "\ntargets (>= 300 answers/s at p95 <= 50 ms; 1,000 starts <= 10 s, none failing): "
            + ("met" if targets_met else "NOT met")
        )
        return 0
    finally:
        if server is not None:
            server.stop()
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    sys.exit(main())
