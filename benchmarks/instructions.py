"""Instructions per request of a gunicorn worker, counted by callgrind: a measure of the server's
work that does not depend on how fast the host's cores happen to be.

How to run, from the repository root (valgrind installed; PostgreSQL as for ``load.py``)::

    python benchmarks/instructions.py                 # 4 exams measured after 2 to warm up
    python benchmarks/instructions.py --exams 8 --threads 1

Why: the host's speed varies several-fold from one session to the next, and within minutes (see
``benchmarks/README.md``), so CPU seconds measured on different days, or even in runs an hour
apart, do not compare. The number of instructions a request executes does: within one run the
answers to a next item agree to within about 2%.

What it does: the same schema, seed bank and eligible learners as ``load.py`` (its functions),
with their tokens written to the database directly. It starts ``sathach serve`` with one worker
under ``valgrind --tool=callgrind``, with instrumentation off until the worker is up (start-up
runs at a few times native speed instead of fifty). One examinee after another starts the final
exam and answers it to the end over one keep-alive connection; the first ``--warm`` exams fill
the worker's caches. For the measured exams, the worker's counters are dumped after every
request (``callgrind_control --dump``), and each dump's total is that request's count: the
request itself, gunicorn's handling of it and whatever else the worker did meanwhile (its main
loop, a garbage collection). It prints, for starts, answers to a next item and answers that end
the exam, the number of requests and the median and mean of their instructions.

Not measured: PostgreSQL's work and the kernel's (system calls are counted as one instruction
each). A cache that expires while the requests run at callgrind's speed (the worker's 30 s pool
selection) costs some requests more than it would at full speed; the median is not affected.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path; keep it from shadowing packages.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.append(_HERE)  # for load.py, after the packages

import load  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from item_bank.db import make_engine  # noqa: E402
from webapp.models import User, utcnow  # noqa: E402
from webapp.services.tokens import issue_api_token  # noqa: E402

KINDS = {"start": "start", "next": "answer to a next item", "last": "answer ending the exam"}
START_TIMEOUT_S = 900.0  # gunicorn's start-up under valgrind, on a slow host


def issue_tokens(url: str, usernames: list[str]) -> list[str]:
    """A Bearer token per learner, written to the database (none passes through the worker)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            users = session.scalars(select(User).where(User.username.in_(usernames))).all()
            by_name = {user.username: user for user in users}
            return [
                issue_api_token(
                    session, by_name[name], now=utcnow(), lifetime=timedelta(hours=4)
                ).token
                for name in usernames
            ]
    finally:
        engine.dispose()


def start_server(url: str, threads: int, out: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """``sathach serve`` (one worker) under callgrind; the process, its port and the worker's
    pid, once ``/healthz`` answers."""
    port = load.free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SATHACH_")}
    env.update(
        SATHACH_SECRET_KEY=secrets.token_hex(32), SATHACH_DATABASE_URL=url, PYTHONHASHSEED="0"
    )
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}/callgrind.%p",
        sys.executable,
        "-c",
        "from webapp.cli import main; main()",
        "serve",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        str(threads),
        "--no-access-log",
    ]
    with (out / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} (see {out})")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                break
        except OSError:
            time.sleep(1)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S:.0f} s")
    children = subprocess.run(
        ["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=True
    ).stdout.split()
    return process, port, int(children[0])


def callgrind_control(*arguments: str, pid: int) -> None:
    subprocess.run(["callgrind_control", *arguments, str(pid)], capture_output=True, check=True)


async def take_exams(
    port: int, tokens: list[str], keys: dict[str, dict[str, Any]], after_each: Any
) -> None:
    """Each token's learner starts the final exam and answers it to the end, one after the
    other; ``after_each(kind)`` runs after every request."""
    rng = random.Random(1)
    client = load.Client(port)
    try:
        for token in tokens:
            status, state = await client.request(
                "POST", f"/api/v1/exams/{load.FINAL}/sessions", token=token
            )
            if status not in (200, 201):
                raise RuntimeError(f"start: HTTP {status} {state}")
            after_each("start")
            probability_right = rng.uniform(0.35, 0.9)
            while state["status"] == "open":
                item = state["item"]
                right = rng.random() < probability_right
                body = {
                    "position": state["position"],
                    "item_id": item["id"],
                    "answer": load.answer_for(keys, item["id"], right),
                }
                path = f"/api/v1/sessions/{state['session_id']}/responses"
                status, state = await client.request("POST", path, token=token, body=body)
                if status != 200:
                    raise RuntimeError(f"answer: HTTP {status} {state}")
                after_each("next" if state["status"] == "open" else "last")
    finally:
        client.close()


def read_dumps(out: Path, pid: int) -> dict[str, list[int]]:
    """Each dump's instruction total, by the kind of request it followed."""
    counts: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for path in out.glob(f"callgrind.{pid}.*"):
        text = path.read_text()
        kind = re.search(r"^desc: Trigger: Client Request: (\w+)", text, re.M) or re.search(
            r"^desc: Trigger: dump (\w+)", text, re.M
        )
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if kind is not None and total is not None and kind.group(1) in counts:
            counts[kind.group(1)].append(int(total.group(1)))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", load.DEFAULT_DATABASE_URL),
        help="PostgreSQL database to create the benchmark's own schema in",
    )
    parser.add_argument("--exams", type=int, default=4, help="exams measured")
    parser.add_argument("--warm", type=int, default=2, help="exams before, to fill the caches")
    parser.add_argument("--threads", type=int, default=4, help="threads of the worker")
    parser.add_argument("--keep", action="store_true", help="keep the callgrind files")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    if args.exams < 1 or args.warm < 0 or args.threads < 1:
        parser.error("--exams and --threads must be at least 1, --warm at least 0")

    out = Path(tempfile.mkdtemp(prefix="sathach-instructions-"))
    schema, url = load.create_schema(args.database_url)
    process = None
    try:
        usernames, keys = load.prepare_database(url, args.warm + args.exams)
        load.settle_database(url)
        tokens = issue_tokens(url, usernames)
        began = time.perf_counter()
        process, port, worker = start_server(url, args.threads, out)
        print(f"worker {worker} under callgrind, up in {time.perf_counter() - began:.0f} s")
        load.REQUEST_TIMEOUT_S = 600.0  # a request runs some fifty times slower
        asyncio.run(take_exams(port, tokens[: args.warm], keys, lambda kind: None))
        callgrind_control("--instr=on", pid=worker)
        callgrind_control("--zero", pid=worker)
        asyncio.run(
            take_exams(
                port,
                tokens[args.warm :],
                keys,
                lambda kind: callgrind_control(f"--dump={kind}", pid=worker),
            )
        )
        counts = read_dumps(out, worker)
        print(f"instructions per request ({args.exams} exams; 1 worker x {args.threads} threads)")
        for kind, label in KINDS.items():
            values = counts[kind]
            if values:
                print(
                    f"  {label:24s} {len(values):4d} requests, median "
                    f"{statistics.median(values) / 1e6:6.2f} M, mean "
                    f"{statistics.fmean(values) / 1e6:6.2f} M"
                )
        return 0
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        load.drop_schema(args.database_url, schema)
        if args.keep:
            print(f"callgrind files in {out}")
        else:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
