"""The request path's cheaper steps give the answers the code before them gave, on the corpus, on
mutated task definitions and on generated documents. Each reference below is the previous code,
kept verbatim as the oracle (issue 26: duplicate keys, the limits walk, the placeholder scan, the
unknown-field walk)."""

from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecs_admission.errors import InputError
from ecs_admission.inputs import fields, schema
from ecs_admission.inputs.schema import CONTROL_RE, FREE_TEXT_RE, TASK_DEFINITION, _article, _kind_of, _matches, escape
from ecs_admission.inputs.shapes import PLACEHOLDER_RE, find_placeholders
from ecs_admission.parsing import bounded_json
from ecs_admission.parsing.bounded_json import MAX_DEPTH, MAX_INT, MAX_NODES, MIN_INT, check_shape_limits, parse_json
from tests.conftest import corpus_dir

# --- the previous code ---------------------------------------------------------------------------


def reference_reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InputError(f"duplicate key {key!r}: ambiguous, AWS would keep only one", field=key)
        result[key] = value
    return result


def reference_check_shape_limits(document: Any, check_strings: bool = False) -> Any:
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise InputError(f"document nested deeper than {MAX_DEPTH} levels", error="too_deep")
        if nodes > MAX_NODES:
            raise InputError(f"document has more than {MAX_NODES} elements", error="too_large")
        if isinstance(value, dict):
            if check_strings:
                for key in value:
                    bounded_json._check_string(key)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if check_strings:
                bounded_json._check_string(value)
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int):
            if not MIN_INT <= value <= MAX_INT:
                raise InputError("integer out of range: more than 64 bits", error="invalid_number")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InputError("number out of range: infinite or NaN", error="invalid_number")
    return document


def reference_find_placeholders(value: Any, pointer: str = "") -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(reference_find_placeholders(item, f"{pointer}/{escape(key)}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(reference_find_placeholders(item, f"{pointer}/{index}"))
    elif isinstance(value, str):
        found.extend({"path": pointer, "placeholder": match} for match in PLACEHOLDER_RE.findall(value))
    return found


def reference_unknown_keys(value: Any, tree: Any = None, pointer: str = "", limit: int = 20) -> list[Any]:
    tree = fields.KNOWN if tree is None and pointer == "" else tree
    found: list[Any] = []
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += reference_unknown_keys(item, tree, f"{pointer}/{index}", limit - len(found))
    elif isinstance(value, dict) and isinstance(tree, dict):
        for key, item in value.items():
            if len(found) >= limit:
                break
            where = f"{pointer}/{escape(key)}"
            if key in tree:
                found += reference_unknown_keys(item, tree[key], where, limit - len(found))
            else:
                found.append(fields.UnknownKey(where, key, fields._closest(key, sorted(tree))))
    return found[:limit]


def reference_check_case(obj: dict[str, Any], known: dict[str, Any], pointer: str) -> None:
    lowered = {name.lower(): name for name in known}
    for key in obj:
        if key not in known and key.lower() in lowered:
            expected = lowered[key.lower()]
            raise InputError(
                f"unknown field {key!r}: field names are case-sensitive, did you mean {expected!r}?",
                field=f"{pointer}/{escape(key)}",
            )


def reference_check(value: Any, spec: Any, pointer: str) -> None:
    if isinstance(spec, str):
        if not _matches(value, spec):
            raise InputError(f"expected {_article(spec)}, got {_kind_of(value)}", field=pointer or "/")
        if isinstance(value, str) and CONTROL_RE.search(value) and not FREE_TEXT_RE.search(pointer):
            raise InputError(
                "contains a control character (newline, tab, NUL...), which ECS does not expect here", field=pointer
            )
        return
    shape, inner = spec
    if shape == "list":
        if not isinstance(value, list):
            raise InputError(f"expected a list, got {_kind_of(value)}", field=pointer)
        for index, item in enumerate(value):
            reference_check(item, inner, f"{pointer}/{index}")
    elif shape == "map":
        if not isinstance(value, dict):
            raise InputError(f"expected an object, got {_kind_of(value)}", field=pointer)
        for key, item in value.items():
            reference_check(item, inner, f"{pointer}/{escape(key)}")
    elif shape == "object":
        if not isinstance(value, dict):
            raise InputError(f"expected an object, got {_kind_of(value)}", field=pointer or "/")
        reference_check_case(value, inner, pointer)
        for key, item_spec in inner.items():
            if key in value:
                reference_check(value[key], item_spec, f"{pointer}/{escape(key)}")


def outcome(function, *args: Any) -> Any:
    """What a call answers, or the InputError it raises, comparable across implementations."""
    try:
        return ("value", function(*args))
    except InputError as exc:
        return ("error", exc.problem, exc.field, exc.error)


def reference_parse(text: str) -> Any:
    """parse_json as it was: the same steps with the reference hooks."""
    original = bounded_json._reject_duplicates, bounded_json.check_shape_limits
    bounded_json._reject_duplicates = reference_reject_duplicates
    bounded_json.check_shape_limits = reference_check_shape_limits
    try:
        return outcome(parse_json, text)
    finally:
        bounded_json._reject_duplicates, bounded_json.check_shape_limits = original


# --- inputs: the corpus and mutations of it ---------------------------------------------------------


def corpus_documents() -> list[Any]:
    documents = []
    for path in sorted(corpus_dir().rglob("*.json")):
        try:
            documents.append(json.loads(path.read_text()))
        except ValueError:
            continue
    assert documents
    return documents


def strings_of(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in strings_of(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in strings_of(item, (*path, index))]
    return [path] if isinstance(value, str) else []


def set_at(document: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        document = document[step]
    document[path[-1]] = value


def mutations(document: Any, rng: random.Random, extremes: bool) -> list[Any]:
    """The document with placeholders, odd keys, huge and infinite numbers, deep nesting, put in."""
    variants = [document]
    paths = strings_of(document)
    for replacement in ("<IMAGE1>", "prefix-<TASK_ROLE_ARN>-suffix", "<lower>", "<A_1><B_2>", "a/b~c", "\ud800x"):
        if paths:
            changed = copy.deepcopy(document)
            set_at(changed, rng.choice(paths), replacement)
            variants.append(changed)
    if isinstance(document, dict):
        variants.append({**document, "<KEY_ONLY>": "value", "big": 2**64, "small": -(2**63) - 1})
        variants.append({**document, "limit": 2**63 - 1, "float": 1.5, "flag": True, "nothing": None})
    if extremes and isinstance(document, dict):  # once: walking 200,000 elements takes a while
        deep: Any = "bottom"
        for _ in range(MAX_DEPTH + 2):
            deep = [deep]
        variants.append({**document, "deep": deep})
        variants.append({**document, "wide": list(range(MAX_NODES))})
    return variants


def corpus_variants() -> list[Any]:
    rng = random.Random(26)
    documents = corpus_documents()
    return [variant for index, document in enumerate(documents) for variant in mutations(document, rng, index == 0)]


VARIANTS = corpus_variants()


def test_the_limits_walk_answers_as_before_on_the_corpus_and_its_mutations():
    assert len(VARIANTS) > 100
    for variant in VARIANTS:
        for check_strings in (False, True):
            assert outcome(check_shape_limits, variant, check_strings) == outcome(
                reference_check_shape_limits, variant, check_strings
            )


def test_the_placeholder_scan_answers_as_before_on_the_corpus_and_its_mutations():
    found = 0
    for variant in VARIANTS:
        expected = reference_find_placeholders(variant)
        assert find_placeholders(variant) == expected
        found += bool(expected)
    assert found > 10  # the mutations did put placeholders in


def schema_mutations(document: Any, rng: random.Random) -> list[Any]:
    """Type errors, control characters and wrongly cased keys at random places of the document."""
    variants = []
    if not isinstance(document, dict):
        return variants
    paths = strings_of(document)
    for replacement in (7, None, ["x"], {"k": "v"}, "a\nb", "tab\there", "ok"):
        if paths:
            changed = copy.deepcopy(document)
            set_at(changed, rng.choice(paths), replacement)
            variants.append(changed)
    for key in list(document)[:3]:
        variants.append({(k.upper() if k == key else k): v for k, v in document.items()})
    containers = document.get("containerDefinitions")
    if isinstance(containers, list) and containers and isinstance(containers[0], dict):
        changed = copy.deepcopy(document)
        changed["containerDefinitions"][0]["Image"] = "x"
        variants.append(changed)
        changed = copy.deepcopy(document)
        changed["containerDefinitions"][0]["environment"] = [{"name": "A/B~C", "value": "line\nbreak"}]
        variants.append(changed)
    return variants


def test_schema_checks_answer_as_before_on_the_corpus_and_its_mutations():
    rng = random.Random(2026)
    errors = 0
    for variant in VARIANTS + [m for d in corpus_documents() for m in schema_mutations(d, rng)]:
        expected = outcome(reference_check, variant, TASK_DEFINITION, "")
        assert outcome(schema.check, variant, TASK_DEFINITION, "") == expected
        errors += expected[0] == "error"
    assert errors > 20  # the mutations did reach the error paths


def misspelt(document: Any, rng: random.Random) -> list[Any]:
    """Keys the ECS API does not know put in at random objects of the document, up to past the limit."""
    variants = []
    objects = [path for path in [()] + [p[:-1] for p in strings_of(document)] if isinstance(at(document, path), dict)]
    for count in (1, 3, 25):
        changed = copy.deepcopy(document)
        for number in range(count):
            target = at(changed, rng.choice(objects))
            target[rng.choice(["privilege", "Image", "a/b~c", "x" * number, "enviroment"])] = {"nested": [number]}
        variants.append(changed)
    return variants


def at(document: Any, path: tuple) -> Any:
    for step in path:
        document = document[step]
    return document


def test_the_unknown_field_walk_answers_as_before_on_the_corpus_and_its_mutations():
    rng = random.Random(20)
    documents = [d for d in corpus_documents() if isinstance(d, dict)]
    reported = 0
    for variant in VARIANTS + [m for d in documents for m in misspelt(d, rng)]:
        for limit in (20, 1, 0):
            expected = reference_unknown_keys(variant, limit=limit)
            assert fields.unknown_keys(variant, limit=limit) == expected
            reported += len(expected)
        inner = variant.get("containerDefinitions") if isinstance(variant, dict) else None
        tree = fields.KNOWN.get("containerDefinitions")
        assert fields.unknown_keys(inner, tree, "/containerDefinitions") == reference_unknown_keys(
            inner, tree, "/containerDefinitions"
        )
    assert reported > 100  # the mutations did put unknown keys in, past the limit too


def duplicated(text: str, rng: random.Random) -> str:
    """The JSON text with one object key written twice (the second value wins in a plain dict)."""
    at = text.find('"', rng.randrange(max(1, len(text) // 2)))
    end = text.find('":', at)
    if at < 0 or end < 0:
        return text
    key = text[at : end + 1]
    brace = text.rfind("{", 0, at)
    return text[: brace + 1] + f"{key}: 1, " + text[brace + 1 :] if brace >= 0 else text


def test_parsing_answers_as_before_on_the_corpus_and_its_mutations():
    rng = random.Random(62)
    for variant in VARIANTS:
        try:
            text = json.dumps(variant)
        except (ValueError, UnicodeEncodeError):
            continue
        for candidate in (text, duplicated(text, rng), text.replace("1.5", "NaN"), '{"a": 1, "a": 2}'):
            assert outcome(parse_json, candidate) == reference_parse(candidate)


# --- generated documents ---------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False),
    st.text(alphabet=st.sampled_from("ab<>_XYZ019~/\ud800 "), max_size=12),
)
json_documents = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(alphabet=st.sampled_from("ab<>_XY~/"), max_size=6), children, max_size=5),
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_documents)
def test_generated_documents_get_the_same_answers(document):
    for check_strings in (False, True):
        assert outcome(check_shape_limits, document, check_strings) == outcome(
            reference_check_shape_limits, document, check_strings
        )
    assert find_placeholders(document) == reference_find_placeholders(document)
    assert fields.unknown_keys(document) == reference_unknown_keys(document)
    try:
        text = json.dumps(document)
    except (ValueError, UnicodeEncodeError):
        return
    assert outcome(parse_json, text) == reference_parse(text)


@pytest.mark.parametrize(
    "text",
    ['{"a": 1, "b": {"c": 2, "c": 3}}', '{"x": [{"k": 1}, {"k": 1, "j": 2, "k": 3}]}', '{"é": 1, "é": 2}'],
)
def test_the_first_duplicate_key_is_the_one_named(text):
    assert outcome(parse_json, text) == reference_parse(text)
    assert outcome(parse_json, text)[0] == "error"
