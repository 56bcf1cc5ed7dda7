"""The request path's second round of cheaper steps (issue 26) gives the answers the code before it
gave: the schema walk's fast path, the task definition written as JSON once for the size quota, the
placeholder scan and the decision record's digest, and the null-dropping copy. Each reference below
is the previous code, kept verbatim as the oracle; every comparison covers errors too (any
exception, not only InputError)."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs import fields, normalise, schema, shapes
from ecs_admission.inputs.schema import (
    MAX_CONTAINERS,
    MAX_ENVIRONMENT_FILES,
    MAX_IMAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_TAGS,
    MAX_TASK_DEFINITION_BYTES,
    TASK_DEFINITION,
    _over,
    _required_string,
    canonical_json,
)
from ecs_admission.inputs.shapes import PLACEHOLDER_RE, _walk_placeholders, drop_nulls, find_placeholders
from ecs_admission.parsing import bounded_json
from ecs_admission.parsing.bounded_json import MAX_DEPTH, MAX_INT, MAX_NODES, MIN_INT, check_shape_limits
from ecs_admission.report.records import input_digest
from tests.inputs.test_hot_path_differential import corpus_documents, misspelt, schema_mutations, strings_of

# --- the previous code ---------------------------------------------------------------------------


def reference_check(value: Any, spec: Any, pointer: str) -> None:
    schema._check(value, spec, (None, pointer))  # the walk every value took before the fast path


def reference_check_quotas(task_definition: dict[str, Any]) -> None:
    containers = task_definition["containerDefinitions"]
    _over(MAX_CONTAINERS, len(containers), "/containerDefinitions")
    _over(MAX_TAGS, len(task_definition.get("tags") or ()), "/tags")
    if isinstance(task_definition.get("family"), str):
        _over(MAX_NAME_CHARS, len(task_definition["family"]), "/family")
    for index, container in enumerate(containers):
        pointer = f"/containerDefinitions/{index}"
        for key in ("name", "image"):
            _required_string(container, key, pointer)
        _over(MAX_NAME_CHARS, len(container["name"]), f"{pointer}/name")
        _over(MAX_IMAGE_CHARS, len(container["image"]), f"{pointer}/image")
        _over(MAX_ENVIRONMENT_FILES, len(container.get("environmentFiles") or ()), f"{pointer}/environmentFiles")
    size = len(json.dumps(task_definition, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace"))
    _over(MAX_TASK_DEFINITION_BYTES, size, "/")


def reference_validate(task_definition: Any) -> None:
    if not isinstance(task_definition, dict):
        raise InputError(f"task definition must be an object, got {schema._kind_of(task_definition)}", field="/")
    if "containerDefinitions" not in task_definition:
        raise InputError("missing: not an ECS task definition (no containerDefinitions)", field="/containerDefinitions")
    containers = task_definition["containerDefinitions"]
    if isinstance(containers, list):
        _over(MAX_CONTAINERS, len(containers), "/containerDefinitions")
    reference_check(task_definition, TASK_DEFINITION, "")
    if not containers:
        raise InputError("must hold at least one container definition", field="/containerDefinitions")
    reference_check_quotas(task_definition)


def reference_find_placeholders(value: Any, pointer: str = "") -> list[dict[str, str]]:
    if not pointer:
        try:
            if not PLACEHOLDER_RE.search(json.dumps(value, ensure_ascii=False)):
                return []
        except (TypeError, ValueError):
            pass
    return _walk_placeholders(value, pointer)


def reference_input_digest(task_definition: Any) -> str:
    canonical = json.dumps(task_definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def reference_drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reference_drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [reference_drop_nulls(item) for item in value]
    return value


def outcome(function, *args: Any, **kwargs: Any) -> Any:
    """What a call answers or raises (any exception, by type and text), comparable across implementations."""
    try:
        return ("value", function(*args, **kwargs))
    except InputError as exc:
        return ("error", exc.problem, exc.field, exc.error)
    except Exception as exc:
        return ("exception", type(exc).__name__, str(exc))


# --- inputs: the corpus, task definitions in it, and mutations of them --------------------------------


class Text(str):
    """A str subclass: the fast walk reads exact types only, so it must leave this to the full walk."""


class Number(int):
    pass


def task_definitions() -> list[dict[str, Any]]:
    """The task definitions of the corpus's documents, however they are wrapped."""
    found = []
    for document in corpus_documents():
        if not isinstance(document, dict):
            continue
        candidate = document
        for key in ("taskDefinition", "taskDefinition"):
            if "containerDefinitions" not in candidate and isinstance(candidate.get(key), dict):
                candidate = candidate[key]
        if "containerDefinitions" in candidate:
            found.append(drop_nulls(candidate))
    assert len(found) >= 10
    return found


def leaves_and_nodes(value: Any, path: tuple = ()) -> list[tuple]:
    paths = [path] if path else []
    if isinstance(value, dict):
        paths += [p for key, item in value.items() for p in leaves_and_nodes(item, (*path, key))]
    elif isinstance(value, list):
        paths += [p for index, item in enumerate(value) for p in leaves_and_nodes(item, (*path, index))]
    return paths


REPLACEMENTS = [
    7,
    -1,
    2**40,
    True,
    False,
    1.5,
    None,
    "x",
    "",
    "a\nb",
    "tab\there",
    "nul\x00",
    "del\x7f",
    "é<IMAGE1_NAME>",
    [],
    {},
    ["x"],
    [7],
    {"k": "v"},
    {"name": 1},
    [{"name": "n", "value": "v\n"}],
    Text("t"),
    Number(3),
    ("tuple",),
    {1: "int key"},
]


def mutated(task_definition: dict[str, Any], rng: random.Random, count: int) -> list[dict[str, Any]]:
    """The task definition with values of every JSON type (and a few that are not) put in at random
    places, keys written in another case, unknown keys added, fields removed."""
    variants = []
    paths = leaves_and_nodes(task_definition)
    for _ in range(count):
        changed = copy.deepcopy(task_definition)
        for _ in range(rng.choice((1, 1, 2, 3))):
            path = rng.choice(paths)
            try:
                parent = changed
                for step in path[:-1]:
                    parent = parent[step]
                what = rng.random()
                if what < 0.6:
                    parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
                elif what < 0.75 and isinstance(path[-1], str):
                    parent[rng.choice([path[-1].upper(), path[-1].lower(), path[-1].capitalize()])] = parent[path[-1]]
                elif what < 0.9 and isinstance(parent, dict):
                    parent[rng.choice(["unknownField", "Name", "IMAGE", "dockerlabels", "x"])] = "value"
                else:
                    del parent[path[-1]]
            except (KeyError, IndexError, TypeError):
                continue
        variants.append(changed)
    return variants


TASK_DEFINITIONS = task_definitions()
MUTATED = [m for index, td in enumerate(TASK_DEFINITIONS) for m in mutated(td, random.Random(index), 60)]


def free_text_variants(task_definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Control characters where they are legitimate (environment values, commands, labels, log options)
    and where they are not: the fast walk leaves both to the full walk, which decides."""
    variants = []
    for key, value in (
        ("environment", [{"name": "A", "value": "line\nbreak"}]),
        ("command", ["sh", "-c", "echo a\nb"]),
        ("dockerLabels", {"a/b~c": "x\ty"}),
        ("logConfiguration", {"logDriver": "awslogs", "options": {"k": "v\r\n"}}),
        ("environment", [{"name": "A\n", "value": "v"}]),
        ("user", "root\x00"),
    ):
        changed = copy.deepcopy(task_definition)
        changed["containerDefinitions"][0][key] = value
        variants.append(changed)
    return variants


# --- the schema walk ---------------------------------------------------------------------------------


def test_the_schema_walk_answers_as_before_on_task_definitions_and_their_mutations():
    rng = random.Random(2027)
    documents = [d for d in corpus_documents() if isinstance(d, dict)]
    candidates = (
        TASK_DEFINITIONS
        + MUTATED
        + [v for td in TASK_DEFINITIONS for v in free_text_variants(td)]
        + documents
        + [m for d in documents for m in schema_mutations(d, rng)]
    )
    results: dict[str, int] = {}
    for candidate in candidates:
        expected = outcome(reference_check, candidate, TASK_DEFINITION, "")
        assert outcome(schema.check, candidate, TASK_DEFINITION, "") == expected, candidate
        results[expected[0]] = results.get(expected[0], 0) + 1
    # Both ends were reached: accepted documents, refused ones (and the AttributeError a non-string key
    # of a checked object has always raised).
    assert results["value"] > 100 and results["error"] > 300 and results.get("exception", 0) > 0


def test_the_fast_walk_accepts_the_valid_task_definitions_itself():
    # Without this the comparison above would pass with a fast walk that always defers to the full one.
    node = schema._compiled(TASK_DEFINITION)
    valid = [td for td in TASK_DEFINITIONS if outcome(reference_check, td, TASK_DEFINITION, "")[0] == "value"]
    assert len(valid) >= 10
    assert all(schema._valid(td, node) for td in valid if "\n" not in json.dumps(td))


def test_the_schema_walk_checks_other_specs_as_before():
    for spec, value in (
        (schema.CONTAINER, {"name": "x", "cpu": True}),
        (schema.STR, "a\nb"),
        (schema.STR, 7),
        (schema.STR_LIST, ["a", Text("b")]),
        (("map", schema.STR), {"a": 1}),
        (schema.LOG_CONFIGURATION, {"options": {"k": "v"}, "LogDriver": "x"}),
    ):
        assert outcome(schema.check, value, spec, "/p") == outcome(reference_check, value, spec, "/p")


# --- the task definition written once -----------------------------------------------------------------


def oversized(task_definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Around ECS's 64 KiB, in ASCII and in multi-byte text, with a lone surrogate, with keys that do not sort."""
    variants = []
    for filler in ("a", "é", "€", "\U0001f600"):
        for size in (60_000, 66_000):
            changed = copy.deepcopy(task_definition)
            changed["containerDefinitions"][0]["command"] = [filler * (size // len(filler.encode()))]
            variants.append(changed)
    changed = copy.deepcopy(task_definition)
    changed["containerDefinitions"][0]["command"] = ["lone \ud800 surrogate <IMAGE1_NAME>"]
    variants.append(changed)
    changed = copy.deepcopy(task_definition)
    changed["containerDefinitions"][0]["dockerLabels"] = {1: "a", "b": "c"}
    variants.append(changed)
    changed = copy.deepcopy(task_definition)
    changed["placementConstraints"] = [{2: "x", 1: "y"}]
    variants.append(changed)
    return variants


def written_once_candidates() -> list[Any]:
    return TASK_DEFINITIONS + MUTATED + [v for td in TASK_DEFINITIONS[:4] for v in oversized(td)]


def test_validation_answers_as_before_and_hands_back_the_canonical_text():
    results: dict[str, int] = {}
    for candidate in written_once_candidates():
        expected = outcome(reference_validate, candidate)
        got = outcome(schema.validate_task_definition, candidate)
        results[expected[0]] = results.get(expected[0], 0) + 1
        if expected[0] != "value":
            assert got == expected, candidate
            continue
        assert got[0] == "value"
        assert got[1] == canonical_json(candidate)
        if got[1] is not None:
            assert got[1] == json.dumps(candidate, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert results["value"] > 100 and results["error"] > 100


def test_the_size_quota_is_measured_as_before_at_its_edge():
    errors = 0
    for candidate in [v for td in TASK_DEFINITIONS for v in oversized(td)]:
        expected, got = outcome(reference_check_quotas, candidate), outcome(schema.check_quotas, candidate)
        assert got[0] == expected[0]
        if expected[0] != "value":
            assert got == expected  # the same limit, count and field
            errors += 1
    assert errors >= len(TASK_DEFINITIONS) * 4  # past 64 KiB in every alphabet


def test_the_placeholder_scan_reads_the_canonical_text_as_it_read_its_own():
    found = 0
    for candidate in written_once_candidates():
        if not isinstance(candidate, dict):
            continue
        expected = reference_find_placeholders(candidate)
        assert find_placeholders(candidate, text=canonical_json(candidate)) == expected
        found += bool(expected)
    assert found > 20


def test_the_digest_of_the_canonical_text_is_the_digest():
    for candidate in written_once_candidates():
        expected = outcome(reference_input_digest, candidate)
        canonical = canonical_json(candidate)
        assert outcome(input_digest, candidate, canonical) == expected
        assert outcome(input_digest, candidate) == expected


def envelopes(task_definition: dict[str, Any]) -> list[Any]:
    """The task definition in every shape normalise reads."""
    described = {**task_definition, "revision": 3, "status": "ACTIVE", "taskDefinitionArn": "arn:x"}
    return [
        task_definition,
        {"taskDefinition": described, "tags": [{"key": "k", "value": "v"}]},
        {"taskDefinition": task_definition, "context": {"region": "us-east-1"}},
        {"taskDefinition": {"taskDefinition": described}, "dryRun": True},
        {
            "apiVersion": shapes.REVIEW_API_VERSION,
            "kind": "AdmissionReview",
            "request": {"uid": "u-1", "object": {"taskDefinition": task_definition, "fix": True}},
        },
        {
            "apiVersion": shapes.REVIEW_API_VERSION,
            "kind": "AdmissionReview",
            "request": {"uid": "u", "object": described},
        },
    ]


def reference_normalise(document: Any) -> Any:
    """normalise as it was: the same steps with the previous validation, placeholder scan and null drop."""
    saved = shapes.validate_task_definition, shapes.find_placeholders, shapes.drop_nulls
    shapes.validate_task_definition = reference_validate
    shapes.find_placeholders = lambda value, text=None: reference_find_placeholders(value)
    shapes.drop_nulls = reference_drop_nulls
    try:
        return outcome(normalise, document)
    finally:
        shapes.validate_task_definition, shapes.find_placeholders, shapes.drop_nulls = saved


def test_normalise_answers_as_before_in_every_shape():
    rng = random.Random(5)
    count = 0
    for candidate in TASK_DEFINITIONS + rng.sample(MUTATED, 150):
        for document in envelopes(candidate):
            expected = reference_normalise(copy.deepcopy(document))
            got = outcome(normalise, copy.deepcopy(document))
            assert got == expected  # AdmissionRequest equality leaves `canonical` out
            if got[0] == "value":
                request = got[1]
                assert request.canonical == canonical_json(request.task_definition)
                assert input_digest(request.task_definition, request.canonical) == reference_input_digest(
                    request.task_definition
                )
                count += 1
    assert count > 100


def test_deciding_leaves_the_task_definition_as_its_canonical_text_says(app):
    """The record's digest is of the text written when the request was normalised: the gate must not
    change the task definition on the way (it reads it; the engine writes its own copy)."""
    gate = app.extensions["ecs_admission"]["gate"]
    for candidate in TASK_DEFINITIONS:
        for document in envelopes(candidate)[:3]:
            try:
                request = normalise(copy.deepcopy(document))
            except InputError:
                continue
            gate.decide(request)
            assert request.canonical == canonical_json(request.task_definition)


# --- the null-dropping copy ---------------------------------------------------------------------------


def with_nulls(document: Any, rng: random.Random) -> list[Any]:
    variants = [document]
    for _ in range(5):
        changed = copy.deepcopy(document)
        for path in rng.sample(leaves_and_nodes(changed), min(4, len(leaves_and_nodes(changed)))):
            try:
                parent = changed
                for step in path[:-1]:
                    parent = parent[step]
                parent[path[-1]] = None
            except (KeyError, IndexError, TypeError):
                continue
        variants.append(changed)
    return variants


def test_drop_nulls_copies_as_before():
    rng = random.Random(9)
    candidates = [v for d in corpus_documents() for v in with_nulls(d, rng)] + MUTATED[:300]
    candidates += [
        None,
        1,
        "s",
        [None, [None, {"a": None}]],
        {"a": (None, 1)},
        Text("t"),
        {"a": {"b": None, "c": [{}]}},
    ]
    for candidate in candidates:
        expected = reference_drop_nulls(candidate)
        got = drop_nulls(candidate)
        assert got == expected and repr(got) == repr(expected)
        assert not shares_containers(got, candidate)


def shares_containers(copied: Any, original: Any) -> bool:
    """True if the copy holds (or is) one of the original's dicts or lists: callers may change the copy."""
    originals = {id(node) for node in walk(original) if isinstance(node, dict | list)}
    return any(id(node) in originals for node in walk(copied) if isinstance(node, dict | list))


def walk(value: Any) -> list[Any]:
    nodes = [value]
    if isinstance(value, dict):
        nodes += [n for item in value.values() for n in walk(item)]
    elif isinstance(value, list | tuple):
        nodes += [n for item in value for n in walk(item)]
    return nodes


def test_the_documents_strings_reach_the_mutations():
    assert sum(len(strings_of(td)) for td in TASK_DEFINITIONS) > 200


# --- the limits walk ------------------------------------------------------------------------------


def reference_limits(document: Any, check_strings: bool = False) -> Any:
    """check_shape_limits before its fast walk (the walk that now only runs when the fast one defers)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise InputError(f"document nested deeper than {MAX_DEPTH} levels", error="too_deep")
        if nodes > MAX_NODES:
            raise InputError(f"document has more than {MAX_NODES} elements", error="too_large")
        kind = type(value)
        if kind is str:
            if check_strings:
                bounded_json._check_string(value)
        elif kind is dict:
            if check_strings:
                for key in value:
                    bounded_json._check_string(key)
            stack.extend([(item, depth + 1) for item in value.values()])
        elif kind is list:
            stack.extend([(item, depth + 1) for item in value])
        elif kind is int:
            if not MIN_INT <= value <= MAX_INT:
                raise InputError("integer out of range: more than 64 bits", error="invalid_number")
        elif kind is bool or value is None:
            pass
        elif isinstance(value, dict):
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


def nested(depth: int, bottom: Any, wrap: Any = list) -> Any:
    """A document `depth` levels deep (the root is level 1), `bottom` at the last level."""
    value = bottom
    for _ in range(depth - 1):
        value = [value] if wrap is list else {"k": value}
    return value


def limit_edges() -> list[Any]:
    """Every limit at its edge and one past it, alone and beside another problem the walk may meet first."""
    edges: list[Any] = []
    for wrap in (list, dict):
        for depth in (MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1):
            for bottom in ("s", [], {}, [1], {"a": None}, 2**63, 1e308 * 10):
                edges.append(nested(depth, bottom, wrap))
                edges.append({"before": 2**64, "deep": nested(depth, bottom, wrap), "after": float("-inf")})
    for count in (MAX_NODES - 2, MAX_NODES - 1, MAX_NODES):  # the root and the list: count + 2 nodes
        edges.append({"wide": [0] * count})
        edges.append({"wide": [0] * count, "big": -(2**63) - 1})
        edges.append([{"x": [0] * (count - 2)}])
    for value in (MAX_INT, MAX_INT + 1, MIN_INT, MIN_INT - 1, float("inf"), float("nan"), -0.0, 1e308):
        edges += [[value], {"v": value}, [[[value]], "s"], value]
    edges += [Number(2**70), [Number(2**70)], [Text("s")], {"t": ("tuple", 2**64)}, [{1, 2}], [b"bytes"], [object()]]
    edges += [[True, False, None, 1, 1.5, "s", [], {}], {"a": {"b": {"c": [1, [2, [3]]]}}}, [], {}, "", None]
    return edges


def test_the_limits_walk_answers_as_before_at_every_edge_and_on_the_corpus():
    candidates = limit_edges() + corpus_documents() + TASK_DEFINITIONS + MUTATED
    results: dict[str, int] = {}
    for candidate in candidates:
        for check_strings in (False, True):
            expected = outcome(reference_limits, candidate, check_strings)
            got = outcome(check_shape_limits, candidate, check_strings)
            assert got[0] == expected[0] and (got[0] == "value" or got == expected)
            if got[0] == "value":
                assert got[1] is candidate
            results[expected[1] if expected[0] == "error" else expected[0]] = 1 + results.get(
                expected[1] if expected[0] == "error" else expected[0], 0
            )
    assert len(results) >= 5  # accepted, too deep, too large, integer and float out of range all reached


def test_the_fast_limits_walk_accepts_the_corpus_itself():
    for document in corpus_documents() + TASK_DEFINITIONS:
        if isinstance(document, dict | list):
            assert bounded_json._within(document, 1, MAX_NODES - 1) >= 0


# --- the unknown-field walk ---------------------------------------------------------------------------


def reference_unknown_keys(value: Any, tree: Any = None, pointer: str = "", limit: int = 20) -> list[Any]:
    """unknown_keys before its fast walk: _collect over every document."""
    tree = fields.KNOWN if tree is None and pointer == "" else tree
    found: list[Any] = []
    if limit > 0:
        fields._collect(value, tree, pointer, [], found, limit)
    return found


class Mapping(dict):
    pass


class Sequence(list):
    pass


def test_the_unknown_field_walk_answers_as_before():
    rng = random.Random(21)
    documents = [d for d in corpus_documents() if isinstance(d, dict)]
    candidates = TASK_DEFINITIONS + MUTATED + documents + [m for d in documents for m in misspelt(d, rng)]
    for td in TASK_DEFINITIONS[:5]:
        for odd in (Mapping({"privilege": True}), Sequence([{"privilege": True}]), Mapping(), Sequence()):
            changed = copy.deepcopy(td)
            changed["containerDefinitions"][0]["linuxParameters"] = odd
            candidates += [changed, {**changed, "containerDefinitions": Sequence(changed["containerDefinitions"])}]
        candidates.append(Mapping(td))
    candidates += [[], {}, None, "s", [[{"x": 1}]], [{"family": "f", "unknown": [1]}]]
    reported = 0
    for candidate in candidates:
        for limit in (20, 1, 0):
            expected = outcome(reference_unknown_keys, candidate, limit=limit)
            assert outcome(fields.unknown_keys, candidate, limit=limit) == expected
            reported += len(expected[1]) if expected[0] == "value" else 0
        inner = candidate.get("containerDefinitions") if isinstance(candidate, dict) else None
        tree = fields.KNOWN.get("containerDefinitions")
        assert outcome(fields.unknown_keys, inner, tree, "/containerDefinitions") == outcome(
            reference_unknown_keys, inner, tree, "/containerDefinitions"
        )
    assert reported > 200


def test_the_fast_unknown_field_walk_accepts_the_known_fields_itself():
    clean = [td for td in TASK_DEFINITIONS if not reference_unknown_keys(td)]
    assert len(clean) >= 5
    assert all(fields._all_known(td, fields.KNOWN) for td in clean)
