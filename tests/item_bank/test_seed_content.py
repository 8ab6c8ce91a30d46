"""Guards on the content of the seed bank, read straight from the packaged JSON (no database).

The national course (``item_bank/data/national_course.json``) and every seed item file
(``item_bank/data/seed_items/<topic_id>.json``) are checked against the rules the item writers
work to: tags that exist in the packaged framework, one unambiguous key, balanced key positions,
keys that do not give themselves away by length, no near-duplicate items, a difficulty mix in
every topic, and complete partial-credit scales. A failing test lists the offending items.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

DATA_DIR = Path(__file__).resolve().parents[2] / "item_bank" / "data"
SEED_DIR = DATA_DIR / "seed_items"
PRIMARY_FRAMEWORK = "VN-TT02-2025"
CONTEXT_FRAMEWORK = "PROJ-CSX"
DIFFICULTIES = ("easy", "medium", "hard")
ITEM_TYPES = ("single_choice", "multiple_response", "true_false", "ordered")
STATUSES = ("draft", "reviewed", "pretest", "operational", "retired")
ENEMY_GROUP = re.compile(r"^EG-[A-Z0-9]+-\d{2}$")
ITEM_ID = re.compile(r"^(?P<prefix>[A-Z0-9]+)-\d{3}$")

MIN_BANK_ITEMS = 240
MIN_ITEMS_PER_TOPIC = 10
N_TOPICS = 19
N_MANDATORY = 5
# Share of 4-option single-choice items keyed at each position: 25% expected.
KEY_POSITION_SHARE = (0.15, 0.35)
KEY_POSITION_MIN_P_VALUE = 0.01
MAX_KEY_LONGEST_SHARE = 0.35
# Writers who shorten keys to avoid the longest-key cue overshoot into a shortest-key cue;
# with four options and ties about 30% is chance, so 45% flags a systematic pattern.
MAX_KEY_SHORTEST_SHARE = 0.45
MAX_JACCARD = 0.5
SHINGLE_WORDS = 3
TRUE_FALSE_SHARE = (0.35, 0.65)


# ---------------------------------------------------------------------------- loading


@cache
def course() -> dict[str, Any]:
    return json.loads((DATA_DIR / "national_course.json").read_text(encoding="utf-8"))


@cache
def framework_codes() -> dict[str, frozenset[str]]:
    """Competency codes of the primary framework and context codes of PROJ-CSX."""
    taxonomy = json.loads((DATA_DIR / "competency_framework.json").read_text(encoding="utf-8"))
    frameworks = {framework["id"]: framework for framework in taxonomy["frameworks"]}
    primary = frozenset(
        competency["code"]
        for domain in frameworks[PRIMARY_FRAMEWORK]["domains"]
        for competency in domain["competencies"]
    )
    contexts = frozenset(context["code"] for context in frameworks[CONTEXT_FRAMEWORK]["contexts"])
    return {"primary": primary, "contexts": contexts}


@cache
def primary_domains() -> frozenset[str]:
    taxonomy = json.loads((DATA_DIR / "competency_framework.json").read_text(encoding="utf-8"))
    framework = next(f for f in taxonomy["frameworks"] if f["id"] == PRIMARY_FRAMEWORK)
    return frozenset(domain["code"] for domain in framework["domains"])


@cache
def seed_files() -> dict[str, dict[str, Any]]:
    """Every seed item file present, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(SEED_DIR.glob("*.json"))
    }


@cache
def bank_items() -> tuple[dict[str, Any], ...]:
    return tuple(item for document in seed_files().values() for item in document["items"])


def course_topic_ids() -> list[str]:
    return [topic["topic_id"] for topic in course()["topics"]]


def option_text(option: dict[str, Any]) -> str:
    return option["text"]["vi"]


def report(problems: list[str], limit: int = 40) -> str:
    shown = "\n".join(problems[:limit])
    more = f"\n... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} problem(s):\n{shown}{more}"


def single_choice_four() -> list[dict[str, Any]]:
    return [
        item
        for item in bank_items()
        if item["type"] == "single_choice" and len(item["options"]) == 4
    ]


# ---------------------------------------------------------------------------- the course


def test_course_has_19_topics_5_mandatory_and_the_completion_rule() -> None:
    document = course()
    assert document["course_id"] == "KNS-CBCX"
    assert document["title"]["vi"] and document["title"]["en"]
    assert document["description"]["vi"] and document["description"]["en"]
    topics = document["topics"]
    assert len(topics) == N_TOPICS
    assert sum(topic["mandatory"] for topic in topics) == N_MANDATORY
    assert document["completion_rule"] == {"all_mandatory": True, "min_topics": 10}
    assert [topic["order"] for topic in topics] == list(range(1, N_TOPICS + 1))
    assert len(set(course_topic_ids())) == N_TOPICS


def test_course_topics_are_tagged_with_known_codes() -> None:
    codes = framework_codes()
    problems = []
    for topic in course()["topics"]:
        where = f"national_course.json topic {topic['topic_id']}"
        if not (topic["title"]["vi"].strip() and topic["title"]["en"].strip()):
            problems.append(f"{where}: title needs Vietnamese and English")
        if not topic["competencies"]:
            problems.append(f"{where}: no competencies")
        for tag in topic["competencies"]:
            framework, _, code = tag.partition(":")
            if framework != PRIMARY_FRAMEWORK or code not in codes["primary"]:
                problems.append(f"{where}: unknown competency {tag!r}")
        context = topic["context"]
        known_context = context is None or (
            context.removeprefix(f"{CONTEXT_FRAMEWORK}:") in codes["contexts"]
            and context.startswith(f"{CONTEXT_FRAMEWORK}:")
        )
        if not known_context:
            problems.append(f"{where}: unknown context {context!r}")
        if not (isinstance(topic["quiz_length"], int) and topic["quiz_length"] >= 1):
            problems.append(f"{where}: quiz_length {topic['quiz_length']!r}")
    assert not problems, report(problems)


def test_mandatory_topics_are_the_five_of_the_national_programme() -> None:
    mandatory = [topic["topic_id"] for topic in course()["topics"] if topic["mandatory"]]
    assert mandatory == ["T-DX", "T-SEC", "T-EDOC", "T-ESIG", "T-PSV"]


# ---------------------------------------------------------------------------- files and size


def test_every_seed_file_is_one_course_topic() -> None:
    topics = set(course_topic_ids())
    problems = []
    for name, document in seed_files().items():
        if document.get("topic") not in topics:
            problems.append(f"{name}: topic {document.get('topic')!r} is not in the course")
        elif name != f"{document['topic']}.json":
            problems.append(f"{name}: file name should be {document['topic']}.json")
        if not document.get("items"):
            problems.append(f"{name}: no items")
    assert seed_files(), "no seed item files"
    assert not problems, report(problems)


def test_the_bank_has_all_19_topics_at_least_10_items_each_and_240_in_all() -> None:
    per_topic = Counter(item["topic"] for item in bank_items())
    missing = [topic for topic in course_topic_ids() if f"{topic}.json" not in seed_files()]
    assert not missing, f"seed files missing for topics {missing}"
    thin = {
        topic: per_topic[topic]
        for topic in course_topic_ids()
        if per_topic[topic] < MIN_ITEMS_PER_TOPIC
    }
    assert not thin, f"topics with fewer than {MIN_ITEMS_PER_TOPIC} items: {thin}"
    assert len(bank_items()) >= MIN_BANK_ITEMS


# ---------------------------------------------------------------------------- every item


def item_problems(item: dict[str, Any], file_topic: str) -> list[str]:
    """Everything wrong with one item, each message naming the item and the field."""
    codes = framework_codes()
    where = f"{item.get('item_id', '?')}"
    problems: list[str] = []

    def problem(field: str, message: str) -> None:
        problems.append(f"{where} [{field}]: {message}")

    match = ITEM_ID.match(str(item.get("item_id", "")))
    if match is None:
        problem("item_id", "must look like PREFIX-NNN")
    elif match["prefix"] != file_topic.removeprefix("T-"):
        problem("item_id", f"prefix should be {file_topic.removeprefix('T-')}")
    if not (isinstance(item.get("version"), int) and item["version"] >= 1):
        problem("version", f"{item.get('version')!r}")
    if item.get("type") not in ITEM_TYPES:
        problem("type", f"{item.get('type')!r}")
    if item.get("status") not in STATUSES:
        problem("status", f"{item.get('status')!r}")
    if item.get("topic") != file_topic:
        problem("topic", f"{item.get('topic')!r} in the file of {file_topic}")
    if item.get("difficulty") not in DIFFICULTIES:
        problem("difficulty", f"{item.get('difficulty')!r}")
    if not str(item.get("author", "")).strip():
        problem("author", "empty")
    if not isinstance(item.get("tags"), list) or not isinstance(item.get("media"), list):
        problem("tags/media", "must be lists")

    competency = item.get("competency")
    if not isinstance(competency, str):
        problem("competency", f"exactly one primary code expected, got {competency!r}")
    else:
        framework, _, code = competency.partition(":")
        if framework != PRIMARY_FRAMEWORK or code not in codes["primary"]:
            problem("competency", f"unknown {competency!r}")
    context = item.get("context")
    if context is not None:
        framework, _, code = str(context).partition(":")
        if framework != CONTEXT_FRAMEWORK or code not in codes["contexts"]:
            problem("context", f"unknown {context!r}")
    group = item.get("enemy_group")
    if group is not None and not ENEMY_GROUP.match(str(group)):
        problem("enemy_group", f"{group!r} should look like EG-TOPIC-NN")

    for field in ("stem", "explanation"):
        text = item.get(field) or {}
        if not str(text.get("vi", "")).strip():
            problem(field, "empty Vietnamese text")
        if not str(text.get("en", "")).strip():
            problem(field, "no English gloss")
    options = item.get("options") or []
    if not 2 <= len(options) <= 8:
        problem("options", f"{len(options)} options (2 to 8 allowed)")
    ids = [option.get("id") for option in options]
    if len(set(ids)) != len(ids):
        problem("options", f"duplicate option ids {ids}")
    for option in options:
        if not str(option.get("text", {}).get("vi", "")).strip():
            problem(f"options.{option.get('id')}", "empty Vietnamese text")
        if not str(option.get("text", {}).get("en", "")).strip():
            problem(f"options.{option.get('id')}", "no English gloss")
    problems.extend(f"{where} [key]: {message}" for message in key_problems(item, ids))
    return problems


def key_problems(item: dict[str, Any], ids: list[Any]) -> list[str]:
    """What is wrong with the key (or the category scores) for the item's type."""
    key = item.get("key")
    kind = item.get("type")
    if kind == "single_choice":
        if not isinstance(key, str) or key not in ids:
            return [f"single-choice key {key!r} is not one of the options {ids}"]
    elif kind == "true_false":
        if sorted(ids) != ["F", "T"] or key not in ("T", "F"):
            return [f"true/false needs options T and F and key T or F, got {ids} / {key!r}"]
    elif kind == "multiple_response":
        if not isinstance(key, list) or len(set(key)) != len(key) or not set(key) <= set(ids):
            return [f"multiple-response key {key!r} must be distinct option ids"]
        if not 2 <= len(key) < len(ids):
            return [f"multiple-response key {key!r}: 2 or more, and not all of {ids}"]
        if "chọn tất cả" not in item["stem"]["vi"].lower():
            return ["multiple-response stem must say 'Chọn tất cả ...'"]
    elif kind == "ordered":
        if key is not None:
            return [f"ordered items carry scores, key must be null, got {key!r}"]
        scores = [option.get("score") for option in item["options"]]
        if not all(isinstance(score, int) and not isinstance(score, bool) for score in scores):
            return [f"ordered item scores must be integers, got {scores}"]
        if len(set(scores)) < 2 or set(scores) != set(range(max(scores) + 1)):
            return [f"ordered item scores must cover 0..K-1, got {scores}"]
    return []


def test_every_item_is_complete_and_tagged_with_known_codes() -> None:
    problems = [
        f"{name}: {message}"
        for name, document in seed_files().items()
        for item in document["items"]
        for message in item_problems(item, document["topic"])
    ]
    assert not problems, report(problems)


def test_item_ids_are_unique_across_the_bank() -> None:
    counts = Counter(item["item_id"] for item in bank_items())
    assert not [item_id for item_id, n in counts.items() if n > 1]


def test_enemy_groups_pair_at_least_two_items() -> None:
    groups = Counter(item["enemy_group"] for item in bank_items() if item["enemy_group"])
    lonely = sorted(group for group, n in groups.items() if n < 2)
    assert not lonely, f"enemy groups with a single item: {lonely}"


def test_the_bank_holds_every_item_type() -> None:
    kinds = Counter(item["type"] for item in bank_items())
    assert set(kinds) == set(ITEM_TYPES), kinds
    assert kinds["single_choice"] > len(bank_items()) / 2


# ---------------------------------------------------------------------------- coverage


def test_every_primary_domain_and_every_context_code_is_covered() -> None:
    domains = {item["competency"].split(":")[1].split(".")[0] for item in bank_items()}
    contexts = {item["context"].split(":")[1] for item in bank_items() if item["context"]}
    assert primary_domains() - domains == set()
    assert framework_codes()["contexts"] - contexts == set()


def test_every_item_is_tagged_with_a_competency_of_its_topic() -> None:
    topic_codes = {topic["topic_id"]: set(topic["competencies"]) for topic in course()["topics"]}
    problems = [
        f"{item['item_id']}: {item['competency']} is not among {sorted(topic_codes[item['topic']])}"
        for item in bank_items()
        if item["topic"] in topic_codes and item["competency"] not in topic_codes[item["topic"]]
    ]
    assert not problems, report(problems)


def test_every_topic_mixes_all_three_difficulties() -> None:
    levels: dict[str, set[str]] = defaultdict(set)
    for item in bank_items():
        levels[item["topic"]].add(item["difficulty"])
    lacking = {topic: sorted(found) for topic, found in levels.items() if len(found) < 3}
    assert not lacking, f"topics without easy, medium and hard items: {lacking}"


# ---------------------------------------------------------------------------- keys


def test_key_positions_of_four_option_items_are_balanced() -> None:
    items = single_choice_four()
    assert len(items) >= 40
    positions = Counter(
        [option["id"] for option in item["options"]].index(item["key"]) for item in items
    )
    shares = {position: positions[position] / len(items) for position in range(4)}
    low, high = KEY_POSITION_SHARE
    assert all(low <= share <= high for share in shares.values()), shares
    p_value = stats.chisquare([positions[position] for position in range(4)]).pvalue
    assert p_value >= KEY_POSITION_MIN_P_VALUE, (shares, p_value)


def test_the_key_is_not_systematically_the_longest_option() -> None:
    # Ties with the longest distractor count against the key: a test-wise examinee
    # who picks the longest option gains from them too.
    judged = longest = 0
    for item in bank_items():
        if item["type"] != "single_choice":
            continue
        lengths = {option["id"]: len(option_text(option)) for option in item["options"]}
        if len(set(lengths.values())) == 1:
            continue
        judged += 1
        longest += lengths[item["key"]] == max(lengths.values())
    assert judged >= 40
    assert longest / judged <= MAX_KEY_LONGEST_SHARE, f"{longest} of {judged}"


def test_the_key_is_not_systematically_the_shortest_option() -> None:
    judged = shortest = 0
    for item in bank_items():
        if item["type"] != "single_choice":
            continue
        lengths = {option["id"]: len(option_text(option)) for option in item["options"]}
        if len(set(lengths.values())) == 1:
            continue
        judged += 1
        shortest += lengths[item["key"]] == min(lengths.values())
    assert judged >= 40
    assert shortest / judged <= MAX_KEY_SHORTEST_SHARE, f"{shortest} of {judged}"


def test_true_false_keys_are_balanced() -> None:
    keys = Counter(item["key"] for item in bank_items() if item["type"] == "true_false")
    n = keys["T"] + keys["F"]
    assert n >= 10
    low, high = TRUE_FALSE_SHARE
    assert low <= keys["T"] / n <= high, keys


# ---------------------------------------------------------------------------- duplicates


def shingles(item: dict[str, Any]) -> frozenset[tuple[str, ...]]:
    text = " ".join([item["stem"]["vi"], *(option_text(option) for option in item["options"])])
    words = re.findall(r"\w+", text.lower())
    return frozenset(
        tuple(words[start : start + SHINGLE_WORDS])
        for start in range(len(words) - SHINGLE_WORDS + 1)
    )


def most_similar_pairs(
    items: tuple[dict[str, Any], ...] | list[dict[str, Any]], threshold: float
) -> list[tuple[float, str, str]]:
    """Pairs whose word-shingle Jaccard similarity reaches the threshold, most similar first.

    An inverted index from shingle to items counts the shared shingles of only those pairs
    that share any, so the cost follows the overlaps rather than all n^2 pairs.
    """
    sets = [shingles(item) for item in items]
    holders: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index, shingle_set in enumerate(sets):
        for shingle in shingle_set:
            holders[shingle].append(index)
    shared: Counter[tuple[int, int]] = Counter()
    for indices in holders.values():
        shared.update(combinations(indices, 2))
    found = []
    for (first, second), n_shared in shared.items():
        union = len(sets[first]) + len(sets[second]) - n_shared
        similarity = n_shared / union
        if similarity >= threshold:
            found.append((similarity, items[first]["item_id"], items[second]["item_id"]))
    return sorted(found, reverse=True)


def test_shingle_similarity_flags_a_paraphrase_and_passes_distinct_items() -> None:
    base = {
        "item_id": "X-001",
        "stem": {"vi": "Chị Lan nhận email lạ yêu cầu cập nhật mật khẩu hệ thống một cửa ngay"},
        "options": [{"id": "A", "text": {"vi": "Báo cán bộ phụ trách an toàn thông tin"}}],
    }
    paraphrase = {
        **base,
        "item_id": "X-002",
        "stem": {"vi": "Anh Hùng nhận email lạ yêu cầu cập nhật mật khẩu hệ thống một cửa ngay"},
    }
    distinct = {
        "item_id": "X-003",
        "stem": {"vi": "Xã cần in 300 giấy mời dự lễ mừng thọ từ danh sách trong bảng tính"},
        "options": [{"id": "A", "text": {"vi": "Dùng chức năng trộn thư"}}],
    }
    pairs = most_similar_pairs([base, paraphrase, distinct], MAX_JACCARD)
    assert [(first, second) for _, first, second in pairs] == [("X-001", "X-002")]


def test_no_two_items_are_near_duplicates() -> None:
    pairs = most_similar_pairs(bank_items(), MAX_JACCARD)
    assert not pairs, report([f"{a} ~ {b}: Jaccard {s:.2f}" for s, a, b in pairs])


@pytest.mark.parametrize("kind", ["single_choice", "multiple_response", "ordered"])
def test_option_texts_within_an_item_are_distinct(kind: str) -> None:
    problems = []
    for item in bank_items():
        if item["type"] != kind:
            continue
        texts = [option_text(option).strip().lower() for option in item["options"]]
        if len(set(texts)) != len(texts):
            problems.append(f"{item['item_id']}: repeated option text")
    assert not problems, report(problems)
