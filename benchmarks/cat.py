"""CAT benchmark: sathach against catsim and mirt on the same pools, in one run.

Every engine simulates the same simulees (true abilities from N(0, 1)) on the same 2PL pool
(a ~ U(0.8, 2.0), b ~ N(0, 1)), maximum Fisher information, a fixed length of 30 items, and the
figures are printed side by side: time per step (mean and p99), total time and RMSE.

* sathach batch: :func:`exam.simulate`, vectorised across simulees.
* sathach interactive: ``exam.start`` / ``exam.step`` per answer, as the web app calls it
  (each timed step is select + update).
* mirt batch: ``CATEngine.run_batch_simulation`` (its Rust backend for 2PL/EAP/MFI/SE-stop).
* mirt interactive: ``select_next_item`` + ``administer_item`` per answer.
* catsim: ``Simulator.simulate`` (per-step time is total / steps).

Then sathach's interactive step with content balancing (MPI over six domains) and
Sympson-Hetter exposure control on, at 1,000 and 10,000 items.

Run: ``python benchmarks/cat.py [--examinees 1000] [--interactive 100] [--catsim 100]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

# Run as a script, this file's folder comes first on sys.path, and benchmarks/calibration.py
# would shadow the calibration package: drop the folder before importing it.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from calibration import ItemParameters, category_probabilities  # noqa: E402
from exam import Blueprint, ItemPool, simulate, start, step  # noqa: E402

LENGTH = 30
DOMAINS = [f"VN-TT02-2025:{d}" for d in range(1, 7)]


def make_pool(n_items: int, seed: int) -> tuple[ItemPool, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.8, 2.0, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    pool = ItemPool.build(
        [f"I{i:05d}" for i in range(n_items)],
        ItemParameters.from_lists("2pl", a, list(b)),
        competencies=[f"{DOMAINS[i % 6]}.1" for i in range(n_items)],
        topics=[f"T{i % 19:02d}" for i in range(n_items)],
        exposure_parameters=np.clip(rng.uniform(0.2, 1.5, n_items), 0.0, 1.0),
    )
    return pool, a, b


def rmse(estimates: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(estimates) - truth) ** 2)))


def row(name: str, steps: np.ndarray | None, total: float, n_steps: int, error: float) -> str:
    if steps is None:
        mean, median, p99 = total / n_steps * 1e3, float("nan"), float("nan")
    else:
        mean, median = steps.mean() * 1e3, np.median(steps) * 1e3
        p99 = np.quantile(steps, 0.99) * 1e3
    return f"  {name:<24} {mean:9.3f} {median:9.3f} {p99:9.3f} {total:10.3f} {error:7.3f}"


def sathach_batch(pool: ItemPool, thetas: np.ndarray) -> tuple[float, float]:
    blueprint = Blueprint.fixed_length(LENGTH)
    simulate(pool, blueprint, thetas=thetas[:50], rng=0)  # warm the pool's tables
    began = time.perf_counter()
    result = simulate(pool, blueprint, thetas=thetas, rng=1)
    return time.perf_counter() - began, rmse(result.theta, thetas)


def sathach_interactive(
    pool: ItemPool, blueprint: Blueprint, thetas: np.ndarray, seed: int = 2
) -> tuple[np.ndarray, float, float]:
    rng = np.random.default_rng(seed)
    steps, estimates = [], []
    began = time.perf_counter()
    for theta in thetas:
        state = start(pool, blueprint, rng)
        while not state.finished:
            p = category_probabilities(pool.parameters.subset([state.current_index]), [theta])
            score = int(rng.random() < p[0, 0, 1])
            tick = time.perf_counter()
            state = step(state, score)
            if not state.finished:  # the last answer scores the exam instead of selecting
                steps.append(time.perf_counter() - tick)
        estimates.append(state.result.theta)
    return np.array(steps), time.perf_counter() - began, rmse(np.array(estimates), thetas)


def mirt_model(a: np.ndarray, b: np.ndarray):
    import mirt

    model = mirt.TwoParameterLogistic(a.size)
    model.set_parameters(discrimination=a, difficulty=b)
    model._is_fitted = True  # parameters are given, not estimated
    return model


def mirt_engine(a: np.ndarray, b: np.ndarray, seed: int):
    import mirt

    return mirt.CATEngine(
        mirt_model(a, b),
        item_selection="MFI",
        stopping_rule="SE",
        se_threshold=1e-6,
        max_items=LENGTH,
        scoring_method="EAP",
        seed=seed,
    )


def mirt_batch(a: np.ndarray, b: np.ndarray, thetas: np.ndarray) -> tuple[float, float]:
    engine = mirt_engine(a, b, 1)
    engine.run_batch_simulation(thetas[:50])
    began = time.perf_counter()
    results = engine.run_batch_simulation(thetas)
    elapsed = time.perf_counter() - began
    return elapsed, rmse(np.array([r.theta for r in results]), thetas)


def mirt_interactive(
    a: np.ndarray, b: np.ndarray, thetas: np.ndarray
) -> tuple[np.ndarray, float, float]:
    engine = mirt_engine(a, b, 2)
    rng = np.random.default_rng(2)
    steps, estimates = [], []
    began = time.perf_counter()
    for theta in thetas:
        engine.reset()
        item = engine.select_next_item()
        for position in range(LENGTH):
            score = int(rng.random() < 1.0 / (1.0 + np.exp(-a[item] * (theta - b[item]))))
            tick = time.perf_counter()
            state = engine.administer_item(score)
            if position < LENGTH - 1:
                item = engine.select_next_item()
                steps.append(time.perf_counter() - tick)
        estimates.append(state.theta)
    return np.array(steps), time.perf_counter() - began, rmse(np.array(estimates), thetas)


def catsim_run(a: np.ndarray, b: np.ndarray, thetas: np.ndarray) -> tuple[float, float]:
    from catsim.estimation import NumericalSearchEstimator
    from catsim.initialization import FixedPointInitializer
    from catsim.selection import MaxInfoSelector as CatsimMaxInfo
    from catsim.simulation import Simulator
    from catsim.stopping import TestLengthStopper

    items = np.column_stack([a, b, np.zeros_like(a), np.ones_like(a)])
    simulator = Simulator(
        items,
        thetas,
        FixedPointInitializer(0.0),
        CatsimMaxInfo(),
        NumericalSearchEstimator(),
        TestLengthStopper(max_items=LENGTH),
        seed=3,
    )
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulator.simulate()
    elapsed = time.perf_counter() - began
    estimates = np.array([e[-1] for e in simulator.estimations])
    return elapsed, rmse(estimates, thetas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examinees", type=int, default=1000)
    parser.add_argument(
        "--interactive",
        type=int,
        default=100,
        help="simulees of the interactive runs (sathach and mirt)",
    )
    parser.add_argument("--catsim", type=int, default=100, help="simulees of the catsim run")
    parser.add_argument("--pools", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--skip-peers", action="store_true")
    arguments = parser.parse_args()
    thetas = np.random.default_rng(20240501).standard_normal(arguments.examinees)
    header = (
        f"  {'engine':<24} {'ms/step':>9} {'median':>9} {'p99 ms':>9} {'total s':>10} {'RMSE':>7}"
    )
    for n_items in arguments.pools:
        pool, a, b = make_pool(n_items, seed=n_items)
        n_batch = thetas.size * LENGTH
        print(
            f"\n{n_items} items, {LENGTH} items per test, MFI, EAP "
            f"(batch {thetas.size} simulees, interactive {arguments.interactive}, "
            f"catsim {arguments.catsim})"
        )
        print(header)
        total, error = sathach_batch(pool, thetas)
        print(row("sathach batch", None, total, n_batch, error))
        interactive = thetas[: arguments.interactive]
        steps, total, error = sathach_interactive(pool, Blueprint.fixed_length(LENGTH), interactive)
        print(row("sathach interactive", steps, total, interactive.size * LENGTH, error))
        if arguments.skip_peers:
            continue
        total, error = mirt_batch(a, b, thetas)
        print(row("mirt batch", None, total, n_batch, error))
        steps, total, error = mirt_interactive(a, b, interactive)
        print(row("mirt interactive", steps, total, interactive.size * LENGTH, error))
        subset = thetas[: arguments.catsim]
        total, error = catsim_run(a, b, subset)
        print(row("catsim", None, total, subset.size * LENGTH, error))

    controlled = Blueprint.from_dict(
        {
            "length": {"min": LENGTH, "max": LENGTH},
            "exposure": {"method": "sympson_hetter", "target_rate": 0.2},
            "content": {
                "method": "mpi",
                "constraints": [
                    {"kind": "domain", "code": code, "min": 4, "max": 6} for code in DOMAINS
                ],
            },
        }
    )
    print(
        "\nsathach interactive step with content balancing (MPI, 6 domains) and Sympson-Hetter on"
    )
    print(header)
    for n_items in (1000, 10000):
        pool, _, _ = make_pool(n_items, seed=n_items)
        sathach_interactive(pool, controlled, thetas[:5])  # warm the pool's tables
        interactive = thetas[: arguments.interactive]
        steps, total, error = sathach_interactive(pool, controlled, interactive)
        print(row(f"{n_items} items", steps, total, interactive.size * LENGTH, error))


if __name__ == "__main__":
    main()
