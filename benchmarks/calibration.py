"""Calibration benchmark: sathach, girth and mirt (Python) on the same simulated 2PL data.

How to run, from the repository root, on a machine that is otherwise quiet::

    pip install -e ".[benchmark]"          # mirt and catsim; girth is a base dependency
    python benchmarks/calibration.py       # every case and the memory run (~10 minutes,
                                           # most of it girth on the large dense case)
    python benchmarks/calibration.py --quick            # 2,000 x 40 and 10,000 x 100 only
    python benchmarks/calibration.py --girth-timeout 60 --skip-memory

Cases (2PL, a ~ lognormal(0, 0.3), b ~ N(0, 1), theta ~ N(0, 1), one seed per case):
dense 2,000 x 40, 10,000 x 100 and 50,000 x 100; sparse 20,000 persons x 500 items with 30
responses each (96% missing). Every program fits the same data in the same run; times are
wall-clock seconds (sathach: median of three runs, including building its sparse data; peers:
one run) and the ratio is the peer's time over sathach's. girth runs in a child process that is
stopped after ``--girth-timeout`` seconds and reported as not finished. mirt is run with its
default 21 quadrature nodes and with 41. Standard errors: sathach computes them on the sparse
case (its default, cross-product information for a bank this size), mirt there both without
and with; the dense cases time estimates only.

The memory run calibrates (with standard errors) 300,000 persons x 1,000 items with 30 responses
each in a child process under ``/usr/bin/time -v`` and reports its peak resident memory (the
whole process: interpreter, libraries and the simulated data included) and the peak of the
calibration itself as counted by ``tracemalloc``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# calibration package: drop the folder before importing it.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from calibration import ResponseData, calibrate  # noqa: E402

SEEDS = {"dense": 20240601, "sparse": 20240602, "memory": 20240603}


@dataclass
class Case:
    name: str
    n_persons: int
    n_items: int
    per_person: int | None  # None: every person answers every item

    @property
    def sparse(self) -> bool:
        return self.per_person is not None


@dataclass
class Row:
    case: str
    program: str
    seconds: float | None
    rmse_a: float | None
    rmse_b: float | None
    note: str = ""


def simulate(case: Case, seed: int):
    """Item parameters, and responses as (rows, items, scores) triplets."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, case.n_items)
    b = rng.normal(0.0, 1.0, case.n_items)
    theta = rng.normal(size=case.n_persons)
    if case.per_person is None:
        rows = np.repeat(np.arange(case.n_persons, dtype=np.int32), case.n_items)
        items = np.tile(np.arange(case.n_items, dtype=np.int32), case.n_persons)
        probability = 1.0 / (1.0 + np.exp(-a[items] * (theta[rows] - b[items])))
        return a, b, rows, items, (rng.random(len(rows)) < probability).astype(np.int8)
    # in chunks of persons, so that the simulation needs little more memory than its output
    rows_parts, items_parts, scores_parts = [], [], []
    for lo in range(0, case.n_persons, 5000):
        hi = min(case.n_persons, lo + 5000)
        keys = rng.random((hi - lo, case.n_items))
        chosen = np.argpartition(keys, case.per_person, axis=1)[:, : case.per_person]
        rows = np.repeat(np.arange(lo, hi, dtype=np.int32), case.per_person)
        items = chosen.ravel().astype(np.int32)
        probability = 1.0 / (1.0 + np.exp(-a[items] * (theta[rows] - b[items])))
        rows_parts.append(rows)
        items_parts.append(items)
        scores_parts.append((rng.random(len(rows)) < probability).astype(np.int8))
    return (
        a,
        b,
        np.concatenate(rows_parts),
        np.concatenate(items_parts),
        np.concatenate(scores_parts),
    )


def rmse(estimate, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(estimate, dtype=float) - truth) ** 2)))


def run_sathach(case: Case, a, b, rows, items, scores, repeats: int = 3) -> Row:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        if case.sparse:
            data = ResponseData.from_triplets(
                rows, items, scores, n_rows=case.n_persons, n_items=case.n_items
            )
            result = calibrate(data, "2pl")
        else:
            matrix = scores.reshape(case.n_persons, case.n_items).astype(float)
            result = calibrate(ResponseData.from_dense(matrix), "2pl", se_method="none")
        times.append(time.perf_counter() - start)
    note = f"{result.n_iter} EM iterations, SE: {result.se_method}"
    return Row(
        case.name,
        "sathach (61 nodes)",
        statistics.median(times),
        rmse(result.parameters.a, a),
        rmse(result.parameters.b[:, 0], b),
        note,
    )


def _dense_matrix(case: Case, rows, items, scores, missing) -> np.ndarray:
    matrix = np.full((case.n_persons, case.n_items), missing, dtype=float)
    matrix[rows, items] = scores
    return matrix


def run_mirt(case: Case, a, b, rows, items, scores, n_nodes: int, with_se: bool) -> Row:
    import mirt

    matrix = _dense_matrix(case, rows, items, scores, np.nan)
    start = time.perf_counter()
    fit = mirt.fit_mirt(matrix, model="2PL", n_quadpts=n_nodes, compute_standard_errors=with_se)
    seconds = time.perf_counter() - start
    label = f"mirt ({n_nodes} nodes{', SE' if with_se else ''})"
    return Row(
        case.name,
        label,
        seconds,
        rmse(np.ravel(fit.model.discrimination), a),
        rmse(np.ravel(fit.model.difficulty), b),
        f"{fit.n_iterations} iterations",
    )


def _girth_child(matrix, queue) -> None:
    import warnings

    import girth

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        estimates = girth.twopl_mml(matrix)
    queue.put((time.perf_counter() - start, estimates["Discrimination"], estimates["Difficulty"]))


def run_girth(case: Case, a, b, rows, items, scores, timeout: float) -> Row:
    import girth

    missing = girth.INVALID_RESPONSE if case.sparse else 0
    matrix = _dense_matrix(case, rows, items, scores, missing).T.astype(int)  # items x persons
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_girth_child, args=(matrix, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.terminate()
        child.join()
        return Row(case.name, "girth", None, None, None, f"did not finish in {timeout:.0f} s")
    if queue.empty():
        return Row(case.name, "girth", None, None, None, f"failed (exit {child.exitcode})")
    seconds, slopes, difficulties = queue.get()
    return Row(case.name, "girth", seconds, rmse(slopes, a), rmse(difficulties, b))


def print_table(rows: list[Row]) -> None:
    reference = {row.case: row.seconds for row in rows if row.program.startswith("sathach")}
    header = f"{'case':<24} {'program':<22} {'time s':>8} {'ratio':>7} {'RMSE a':>7} {'RMSE b':>7}"
    print(header)
    print("-" * len(header))
    for row in rows:
        seconds = f"{row.seconds:8.2f}" if row.seconds is not None else f"{'-':>8}"
        ratio = (
            f"{row.seconds / reference[row.case]:7.1f}"
            if row.seconds is not None and reference.get(row.case)
            else f"{'-':>7}"
        )
        error_a = f"{row.rmse_a:7.3f}" if row.rmse_a is not None else f"{'-':>7}"
        error_b = f"{row.rmse_b:7.3f}" if row.rmse_b is not None else f"{'-':>7}"
        print(f"{row.case:<24} {row.program:<22} {seconds} {ratio} {error_a} {error_b}  {row.note}")


def memory_child(n_persons: int, n_items: int, per_person: int) -> None:
    """Runs inside the child process of the memory measurement."""
    case = Case("memory", n_persons, n_items, per_person)
    a, b, rows, items, scores = simulate(case, SEEDS["memory"])
    data = ResponseData.from_triplets(rows, items, scores, n_rows=n_persons, n_items=n_items)
    del rows, items, scores
    tracemalloc.start()
    start = time.perf_counter()
    result = calibrate(data, "2pl")
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"calibrate: {seconds:.1f} s, {result.n_iter} EM iterations, SE {result.se_method}, "
        f"tracemalloc peak {peak / 2**20:.0f} MiB, RMSE a "
        f"{rmse(result.parameters.a, a):.3f} b {rmse(result.parameters.b[:, 0], b):.3f}"
    )


def run_memory(n_persons: int, n_items: int, per_person: int) -> None:
    command = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        os.path.abspath(__file__),
        "--memory-child",
        str(n_persons),
        str(n_items),
        str(per_person),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr)
    print(f"memory: {n_persons:,} persons x {n_items:,} items, {per_person} responses each")
    print("  " + completed.stdout.strip())
    if match:
        print(f"  peak resident memory of the whole process: {int(match.group(1)) / 1024:.0f} MiB")
    else:
        print("  /usr/bin/time gave no figure:", completed.stderr.strip()[-500:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the two small dense cases only")
    parser.add_argument("--girth-timeout", type=float, default=240.0)
    parser.add_argument("--skip-girth", action="store_true")
    parser.add_argument("--skip-mirt", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(*args.memory_child)
        return

    cases = [
        Case("dense 2,000 x 40", 2_000, 40, None),
        Case("dense 10,000 x 100", 10_000, 100, None),
        Case("dense 50,000 x 100", 50_000, 100, None),
        Case("sparse 20,000 x 500 (30)", 20_000, 500, 30),
    ]
    if args.quick:
        cases = cases[:2]
    rows: list[Row] = []
    warm_up = Case("warm-up", 500, 10, None)
    a, b, r, i, s = simulate(warm_up, 1)
    run_sathach(warm_up, a, b, r, i, s, repeats=1)  # first calls load BLAS and caches
    if not args.skip_mirt:
        run_mirt(warm_up, a, b, r, i, s, 21, with_se=False)
    for case in cases:
        a, b, r, i, s = simulate(case, SEEDS["sparse" if case.sparse else "dense"])
        rows.append(run_sathach(case, a, b, r, i, s))
        if not args.skip_mirt:
            if case.sparse:
                rows.append(run_mirt(case, a, b, r, i, s, 21, with_se=False))
                rows.append(run_mirt(case, a, b, r, i, s, 21, with_se=True))
            else:
                rows.append(run_mirt(case, a, b, r, i, s, 21, with_se=False))
                rows.append(run_mirt(case, a, b, r, i, s, 41, with_se=False))
        if not args.skip_girth:
            rows.append(run_girth(case, a, b, r, i, s, args.girth_timeout))
        print(f"... {case.name} done", file=sys.stderr, flush=True)
    print_table(rows)
    if not args.skip_memory and not args.quick:
        print()
        run_memory(300_000, 1_000, 30)


if __name__ == "__main__":
    main()
