"""The stateless engine: start/step/replay, scoring, enemies, exclusions, pretest seeding,
stopping rules, fixed forms and agreement with the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import category_probabilities, score_eap
from exam import (
    Blueprint,
    ExamFinishedError,
    InvalidResponseError,
    ItemPool,
    NoItemsAvailableError,
    ReplayMismatchError,
    Response,
    finish,
    replay,
    simulate,
    start,
    step,
)


def _answer(pool: ItemPool, index: int, theta: float, rng: np.random.Generator) -> int:
    probabilities = category_probabilities(pool.parameters.subset([index]), [theta])[0, 0]
    return int(rng.choice(probabilities.size, p=probabilities))


def _run(pool, blueprint, theta, seed, *, excluded=(), answer_seed=0):
    rng = np.random.default_rng(answer_seed)
    state = start(pool, blueprint, seed, excluded_items=excluded)
    while not state.finished:
        state = step(state, _answer(pool, state.current_index, theta, rng))
    return state


def test_a_fixed_length_exam_runs_to_its_length_and_scores(pool_500: ItemPool) -> None:
    blueprint = Blueprint.fixed_length(20)
    state = _run(pool_500, blueprint, 0.8, seed=1)
    assert state.finished and state.stop_reason == "max_length"
    assert state.position == 20 and len(set(state.item_ids)) == 20
    assert state.current_item is None
    result = state.result
    expected = score_eap(
        pool_500.parameters.subset(list(state.administered)),
        np.array(state.scores, dtype=float)[None, :],
    )
    assert result.theta == pytest.approx(float(expected.theta[0]), abs=1e-9)
    assert result.se == pytest.approx(float(expected.se[0]), abs=1e-9)
    assert result.scale_score == pytest.approx(500 + 100 * result.theta)
    assert result.scale_se == pytest.approx(100 * result.se)
    assert [d.domain for d in result.domains] == list(pool_500.domain_codes)
    assert sum(d.n_items for d in result.domains) == 20
    assert all(np.isfinite(d.se) and d.se > 0 for d in result.domains)
    # The interim EAP on the grid is calibration's EAP on the same quadrature.
    assert state.theta == pytest.approx(result.theta, abs=1e-9)


def test_the_first_item_is_the_most_informative_at_the_start(pool_500: ItemPool) -> None:
    from calibration import item_information

    state = start(pool_500, Blueprint.fixed_length(10), 3)
    assert state.current_index == int(np.argmax(item_information(pool_500.parameters, [0.0])))


def test_replay_rebuilds_the_exact_state_midway_and_at_the_end(pool_200: ItemPool) -> None:
    blueprint = Blueprint.from_dict(
        {
            "length": {"min": 15, "max": 15},
            "exposure": {"method": "randomesque", "randomesque_k": 6},
            "pretest_items": 3,
        }
    )
    rng = np.random.default_rng(5)
    state = start(pool_200, blueprint, None)
    midway = None
    while not state.finished:
        state = step(
            state,
            _answer(pool_200, state.current_index, -0.3, rng),
            elapsed_s=10.0 * (state.position + 1),
        )
        if state.position == 7:
            midway = state
    again = replay(pool_200, blueprint, midway.session_seed, midway.responses)
    assert again.current_item == midway.current_item
    assert again.item_ids == midway.item_ids
    assert np.array_equal(again.log_posterior, midway.log_posterior)
    assert np.array_equal(again.blocked, midway.blocked)
    # Continuing the rebuilt state gives the same exam as the original.
    continued = again
    for response in state.responses[7:]:
        assert continued.current_item == response.item_id
        continued = step(continued, response.score, elapsed_s=response.elapsed_s)
    assert continued.finished and continued.result == state.result
    final = replay(
        pool_200,
        blueprint,
        state.session_seed,
        [(r.item_id, r.score, r.elapsed_s) for r in state.responses],
    )
    assert final.result == state.result and final.responses == state.responses


def test_replay_detects_a_different_item_or_extra_responses(pool_500: ItemPool) -> None:
    blueprint = Blueprint.fixed_length(5)
    state = _run(pool_500, blueprint, 0.0, seed=9)
    wrong = [Response("ITEM-0000" if state.item_ids[0] != "ITEM-0000" else "ITEM-0001", 1)]
    with pytest.raises(ReplayMismatchError, match="response 0"):
        replay(pool_500, blueprint, state.session_seed, wrong)
    with pytest.raises(ReplayMismatchError, match="finished"):
        replay(pool_500, blueprint, state.session_seed, [*state.responses, state.responses[0]])


def test_bad_answers_are_refused(mixed_pool: ItemPool) -> None:
    state = start(mixed_pool, Blueprint.fixed_length(3), 2)
    n_categories = int(mixed_pool.parameters.n_categories[state.current_index])
    for bad in (-1, n_categories, 1.5, True, "1"):
        with pytest.raises(InvalidResponseError):
            step(state, bad)  # type: ignore[arg-type]
    later = step(state, 0, elapsed_s=30.0)
    with pytest.raises(InvalidResponseError, match="elapsed_s"):
        step(later, 0, elapsed_s=10.0)
    done = finish(later)
    assert done.finished and done.stop_reason == "abandoned" and done.result.n_scored == 1
    with pytest.raises(ExamFinishedError):
        step(done, 0)


@pytest.mark.parametrize("method", ["eap", "map", "mle", "wle"])
@pytest.mark.parametrize("score", ["all_correct", "all_wrong"])
def test_extreme_patterns_score_finite_for_every_method(
    mixed_pool: ItemPool, method: str, score: str
) -> None:
    blueprint = Blueprint.fixed_length(12, final=method)
    state = start(mixed_pool, blueprint, 4)
    while not state.finished:
        top = int(mixed_pool.parameters.n_categories[state.current_index]) - 1
        state = step(state, top if score == "all_correct" else 0)
    result = state.result
    assert np.isfinite(result.theta) and np.isfinite(result.se) and result.se > 0
    assert (result.theta > 1.0) if score == "all_correct" else (result.theta < -1.0)
    assert 0.0 <= result.scale_score <= 1000.0


def test_enemies_never_share_an_exam_and_seen_items_are_left_out(pool_200: ItemPool) -> None:
    blueprint = Blueprint.fixed_length(40)
    first = _run(pool_200, blueprint, 0.0, seed=11)
    enemy = pool_200.enemy_index
    for seed in range(12):
        state = _run(
            pool_200,
            blueprint,
            0.2 * seed - 1,
            seed=seed,
            answer_seed=seed,
            excluded=first.item_ids,
        )
        groups = enemy[list(state.administered)]
        groups = groups[groups >= 0]
        assert groups.size == np.unique(groups).size
        assert not set(state.item_ids) & set(first.item_ids)
    keep = Blueprint.from_dict({**blueprint.to_dict(), "exclude_seen_items": False})
    again = _run(pool_200, keep, 0.0, seed=11, excluded=first.item_ids)
    assert again.item_ids == first.item_ids


def test_too_few_items_after_exclusions_is_an_error_at_start(pool_500: ItemPool) -> None:
    blueprint = Blueprint.fixed_length(30)
    with pytest.raises(NoItemsAvailableError, match="earlier attempts"):
        start(pool_500, blueprint, 1, excluded_items=pool_500.item_ids[:480])


def test_pretest_items_are_seeded_unscored_and_kept(pool_200: ItemPool) -> None:
    blueprint = Blueprint.from_dict({"length": {"min": 20, "max": 20}, "pretest_items": 4})
    rng = np.random.default_rng(8)
    state = start(pool_200, blueprint, 21)
    while not state.finished:
        state = step(state, _answer(pool_200, state.current_index, 0.5, rng))
    assert state.position == 24 and state.n_scored == 20
    pretest = state.pretest_responses
    assert len(pretest) == 4
    assert all(pool_200.is_pretest[pool_200.index_of(r.item_id)] for r in pretest)
    positions = [i for i, flag in enumerate(state.pretest_flags) if flag]
    assert positions == list(state.pretest_positions)
    assert state.result.n_pretest == 4 and state.result.n_scored == 20
    # Scoring only the scored answers gives the same result: pretest answers never count.
    scored = [
        (i, s)
        for i, s, p in zip(state.administered, state.scores, state.pretest_flags, strict=True)
        if not p
    ]
    expected = score_eap(
        pool_200.parameters.subset([i for i, _ in scored]),
        np.array([s for _, s in scored], dtype=float)[None, :],
    )
    assert state.result.theta == pytest.approx(float(expected.theta[0]), abs=1e-9)
    # Flipping every pretest answer changes nothing about the score.
    flipped = replay(
        pool_200,
        blueprint,
        state.session_seed,
        [(r.item_id, 1 - r.score if r.is_pretest else r.score) for r in state.responses],
    )
    assert flipped.result.theta == state.result.theta
    assert flipped.item_ids == state.item_ids


def test_standard_error_target_and_minimum_length(pool_500: ItemPool) -> None:
    blueprint = Blueprint.from_dict({"length": {"min": 8, "max": 60}, "se_target": 0.35})
    state = _run(pool_500, blueprint, 0.0, seed=2)
    assert state.stop_reason == "se_target"
    assert state.se <= 0.35 and 8 <= state.n_scored < 60
    strict = Blueprint.from_dict({"length": {"min": 25, "max": 60}, "se_target": 0.35})
    assert _run(pool_500, strict, 0.0, seed=2).n_scored >= 25


def test_time_limit_ends_the_exam(pool_500: ItemPool) -> None:
    blueprint = Blueprint.from_dict({"length": {"min": 5, "max": 30}, "time_limit_s": 100})
    state = start(pool_500, blueprint, 3)
    state = step(state, 1, elapsed_s=40.0)
    state = step(state, 0, elapsed_s=80.0)
    assert not state.finished
    state = step(state, 1, elapsed_s=101.0)
    assert state.finished and state.stop_reason == "time_limit" and state.result.n_scored == 3


def test_classification_rules_stop_once_decided(pool_500: ItemPool) -> None:
    for rule in ("sprt", "ci"):
        blueprint = Blueprint.from_dict(
            {
                "length": {"min": 5, "max": 60},
                "cut_theta": 0.0,
                "classification": {"rule": rule, "indifference": 0.3},
            }
        )
        high = _run(pool_500, blueprint, 2.5, seed=1)
        low = _run(pool_500, blueprint, -2.5, seed=1)
        assert high.stop_reason == low.stop_reason == "classified"
        assert high.result.passed is True and low.result.passed is False
        assert high.result.decided_by == rule
        assert high.n_scored < 30 and low.n_scored < 30


def test_fixed_form_gives_the_form_in_order(pool_500: ItemPool) -> None:
    form = [pool_500.item_ids[i] for i in (40, 3, 77, 12, 5)]
    blueprint = Blueprint.from_dict({"mode": "fixed", "form": form, "cut_theta": 0.0})
    state = _run(pool_500, blueprint, 0.0, seed=4)
    assert list(state.item_ids) == form
    assert state.stop_reason == "form_complete" and state.result.passed is not None
    shuffled = Blueprint.from_dict({"mode": "fixed", "form": form, "shuffle_form": True})
    orders = {_run(pool_500, shuffled, 0.0, seed=s).item_ids for s in range(6)}
    assert len(orders) > 1 and all(sorted(o) == sorted(form) for o in orders)


def test_engine_and_simulator_give_the_same_items_for_the_same_answers(
    pool_500: ItemPool,
) -> None:
    blueprint = Blueprint.from_dict(
        {
            "length": {"min": 20, "max": 20},
            "content": {
                "constraints": [
                    {"kind": "domain", "code": "VN-TT02-2025:1", "min": 5},
                    {"kind": "topic", "code": "T-SEC", "max": 3},
                ]
            },
        }
    )
    result = simulate(pool_500, blueprint, thetas=[-1.0, 0.3, 1.6], rng=5)
    for row in range(3):
        given = result.items[row][result.items[row] >= 0]
        answers = result.scores[row][: given.size]
        state = replay(
            pool_500,
            blueprint,
            0,
            [(pool_500.item_ids[i], int(s)) for i, s in zip(given, answers, strict=True)],
        )
        assert state.finished
        assert state.result.theta == pytest.approx(result.theta[row], abs=1e-9)


def test_the_stream_generators_are_default_rng_of_the_seed_list() -> None:
    from exam.engine import _rng

    rng = np.random.default_rng(3)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**63 - 2, *rng.integers(0, 2**63 - 1, 20).tolist()]
    for seed in seeds:
        for stream, position in [(0, 0), (1, 0), (1, 1), (1, 37), (1, 2**33)]:
            expected = np.random.default_rng([seed, stream, position])
            got = _rng(seed, stream, position)
            assert got.bit_generator.state == expected.bit_generator.state
            assert got.random(4).tolist() == expected.random(4).tolist()
    with pytest.raises(ValueError, match="non-negative"):
        _rng(-1, 0)


def test_a_state_evolves_as_dataclasses_replace_makes_it(pool_200: ItemPool) -> None:
    from dataclasses import fields, replace

    from exam import ExamState

    state = step(start(pool_200, Blueprint.fixed_length(10), 4), 1, elapsed_s=3.0)
    changes = {"theta": 1.25, "administered": (1, 2), "decision": -1, "current_index": None}
    evolved, replaced = state._evolve(**changes), replace(state, **changes)
    assert evolved is not state and state.theta != 1.25
    for field in fields(ExamState):
        assert getattr(evolved, field.name) is getattr(replaced, field.name)
    assert not hasattr(ExamState, "__post_init__")  # _evolve relies on there being none
    with pytest.raises(TypeError, match="no field 'thetaa'"):
        state._evolve(thetaa=1.0)


@pytest.mark.parametrize(
    "document",
    [
        {"length": {"min": 5, "max": 15}, "exposure": {"method": "randomesque"}},
        {
            "length": {"min": 5, "max": 15},
            "selection": {"rule": "kl"},
            "exposure": {"method": "sympson_hetter"},
            "content": {
                "constraints": [
                    {"kind": "domain", "code": "VN-TT02-2025:1", "min": 3},
                    {"kind": "topic", "code": "T-SEC", "max": 2},
                ]
            },
        },
        {
            "length": {"min": 5, "max": 15},
            "selection": {"rule": "mpwi"},
            "content": {
                "method": "kingsbury_zara",
                "constraints": [{"kind": "domain", "code": "VN-TT02-2025:2", "min": 3}],
            },
            "classification": {"rule": "sprt"},
            "cut_theta": 0.3,
        },
        {
            "length": {"min": 5, "max": 15},
            "estimation": {"interim": "map"},
            "exposure": {"method": "a_stratified", "strata": 3},
            "se_target": 0.4,
        },
        {"mode": "fixed", "length": {"min": 12, "max": 12}, "time_limit_s": 50.0},
    ],
)
def test_the_batch_functions_give_one_examinee_what_a_batch_of_one_gives(
    pool_200: ItemPool, document: dict
) -> None:
    from exam.engine import define_exam, select_pretest, select_scored, stop_codes

    definition = define_exam(pool_200, Blueprint.from_dict(document))
    rng = np.random.default_rng(12)
    for number in range(25):
        state = start(pool_200, definition.blueprint, number)
        for _ in range(int(rng.integers(0, 12))):
            if state.finished:
                break
            state = step(state, int(rng.integers(0, 2)), elapsed_s=5.0 * state.position)
        theta, start_theta, n_scored = state.theta, state.start_theta, state.n_scored
        one = select_scored(
            definition,
            np.float64(theta),
            state.log_posterior,
            np.int64(n_scored),
            state.blocked,
            state.content_counts,
            np.random.default_rng(number),
            state.form_rank,
            np.float64(start_theta),
        )
        batch = select_scored(
            definition,
            np.array([theta]),
            state.log_posterior[None, :],
            np.array([n_scored]),
            state.blocked[None, :],
            state.content_counts[None, :],
            np.random.default_rng(number),
            state.form_rank,
            np.array([start_theta]),
        )
        assert np.ndim(one[0]) == 0 and int(one[0]) == int(batch[0][0])
        if batch[1] is not None:
            assert one[1].tolist() == batch[1][0].tolist()
            assert one[2].tolist() == batch[2][0].tolist()
        assert int(select_pretest(definition, state.blocked, np.random.default_rng(1))) == int(
            select_pretest(definition, state.blocked[None, :], np.random.default_rng(1))[0]
        )
        for elapsed in (np.nan, 10.0, 60.0):
            one_code = stop_codes(
                definition,
                np.int64(n_scored),
                np.float64(theta),
                np.float64(state.se),
                state.sprt_log_likelihood,
                state.content_counts,
                np.bool_(False),
                np.float64(elapsed),
            )
            batch_code = stop_codes(
                definition,
                np.array([n_scored]),
                np.array([theta]),
                np.array([state.se]),
                state.sprt_log_likelihood[None, :],
                state.content_counts[None, :],
                np.array([False]),
                np.array([elapsed]),
            )
            assert [int(v) for v in one_code] == [int(v[0]) for v in batch_code]
