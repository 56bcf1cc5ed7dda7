"""parsing/compact_json.py writes the text the standard library wrote before it, and where orjson cannot
(or would write something else), the standard library still answers, or fails, as it always did."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_admission.errors import InputError
from ecs_admission.inputs import parse_file_bytes
from ecs_admission.parsing import compact_json
from tests.conftest import EXAMPLES, corpus_dir


def stdlib(value: Any, sort_keys: bool = False, default: Any = None) -> bytes:
    """What the encoders this module replaced wrote: compact, UTF-8 as it is."""
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=default).encode()


# Every JSON value but floats, whose spelling may differ (1e16 / 1e+16) but not their value.
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text()
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5), max_leaves=40
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_the_text_is_the_standard_librarys_byte_for_byte(document):
    # Lone surrogates are the standard library's to refuse (below); every other string is written alike.
    try:
        expected = stdlib(document)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            compact_json.dumps(document)
        return
    assert compact_json.dumps(document) == expected
    assert compact_json.dumps(document, sort_keys=True) == stdlib(document, sort_keys=True)
    assert compact_json.loads(compact_json.dumps(document)) == document


@settings(max_examples=200, deadline=None)
@given(st.lists(finite_floats, max_size=8))
def test_floats_are_the_same_numbers(numbers):
    assert json.loads(compact_json.dumps(numbers)) == numbers


def corpus_documents() -> dict[str, Any]:
    """Every corpus and example file the parsing layer accepts (what it refuses is never written)."""
    files = [path for path in sorted(corpus_dir().rglob("*")) if path.suffix in {".json", ".yaml", ".yml"}]
    documents = {}
    for path in files + sorted(EXAMPLES.glob("*.json")):
        try:
            documents[f"{path.parent.name}/{path.name}"] = parse_file_bytes(path.read_bytes(), path.name)
        except InputError:
            continue
    return documents


CORPUS = corpus_documents()


def test_the_corpus_has_documents_to_compare():
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_documents_are_written_as_before(name):
    document = CORPUS[name]
    assert compact_json.dumps(document) == stdlib(document)
    assert compact_json.dumps(document, sort_keys=True) == stdlib(document, sort_keys=True)


# --- what orjson cannot write goes to the standard library ------------------------------------------


def test_an_integer_beyond_64_bits_is_written_by_the_standard_library():
    document = {"cpu": 2**70, "memory": -(2**64)}
    assert compact_json.dumps(document) == stdlib(document)


def test_keys_that_are_not_strings_are_written_as_the_standard_library_writes_them():
    document = {7: "seven", True: "yes", None: "none", 2.5: "x"}
    assert compact_json.dumps(document) == stdlib(document)
    # Sorting mixed keys fails in the standard library, and so here.
    with pytest.raises(TypeError):
        compact_json.dumps({1: "a", "b": 2}, sort_keys=True)


def test_a_lone_surrogate_fails_as_it_did():
    with pytest.raises(UnicodeEncodeError):
        compact_json.dumps({"name": "\ud800"})


def test_dates_and_dataclasses_go_to_default_as_in_the_standard_library():
    @dataclasses.dataclass
    class Need:
        action: str

    document = [dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC), dt.date(2026, 12, 7), Need("s3:GetObject")]
    assert compact_json.dumps(document, default=str) == stdlib(document, default=str)
    with pytest.raises(TypeError):
        compact_json.dumps(document)  # no default: refused, as json.dumps refuses it
    with pytest.raises(TypeError):
        compact_json.dumps({"circular": object()})


def test_without_orjson_the_standard_library_writes_everything(monkeypatch):
    # A package built for another Python (the Lambda zip's cp314 wheel under 3.11) or a platform without
    # an orjson wheel: the same text, from the standard library.
    monkeypatch.setattr(compact_json, "orjson", None)
    document = {"family": "web", "cpu": 2**70, "tags": [{"key": "é", "value": None}], "ok": True}
    assert compact_json.dumps(document) == stdlib(document)
    assert compact_json.dumps(document, sort_keys=True) == stdlib(document, sort_keys=True)
    assert compact_json.loads(compact_json.dumps(document)) == document
    with pytest.raises(UnicodeEncodeError):
        compact_json.dumps({"name": "\ud800"})
