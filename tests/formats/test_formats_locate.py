"""The JSON pointer -> line locator behind annotations and SARIF regions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_admission.formats.locate import SourceLocator, index_json, join_pointer, split_pointer
from tests.conftest import EXAMPLES


def line_of(text: str, pointer: str, name: str = "x.json") -> int | None:
    return SourceLocator(text.encode(), name).line(pointer)


def test_pointer_tokens_round_trip_rfc6901_escapes():
    assert split_pointer("") == []
    assert split_pointer("/a~1b/c~0d/0") == ["a/b", "c~d", "0"]
    assert join_pointer(["a/b", "c~d", "0"]) == "/a~1b/c~0d/0"
    with pytest.raises(ValueError):
        split_pointer("no-leading-slash")


def test_example_json_lines():
    text = (EXAMPLES / "taskdef.json").read_text()
    lines = text.splitlines()
    for pointer, needle in (
        ("/containerDefinitions/0/privileged", '"privileged": true'),
        ("/containerDefinitions/0/secrets", '"secrets"'),
        ("/taskRoleArn", '"taskRoleArn"'),
        ("/containerDefinitions/0/secrets/0/valueFrom", '"valueFrom"'),
    ):
        line = line_of(text, pointer)
        assert line is not None and needle in lines[line - 1], pointer


def test_missing_field_falls_back_to_nearest_parent():
    text = '{\n  "family": "x",\n  "containerDefinitions": [\n    {\n      "name": "a"\n    }\n  ]\n}\n'
    assert line_of(text, "/executionRoleArn") == 1
    assert line_of(text, "/containerDefinitions/0/privileged") == 4
    assert line_of(text, "/containerDefinitions/7/privileged") == 3


def test_tricky_json_strings_and_keys():
    text = (
        '{"containerDefinitions": [\n'
        '  {"name": "a\\"}{[", "image": "x"},\n'
        '  {"name": "b",\n'
        '   "dockerLabels": {"a/b": "1", "c~d": "2", "\\u00e9": "3"},\n'
        '   "privileged": true}\n'
        "]}"
    )
    assert line_of(text, "/containerDefinitions/1") == 3
    assert line_of(text, "/containerDefinitions/1/privileged") == 5
    assert line_of(text, "/containerDefinitions/1/dockerLabels/a~1b") == 4
    assert line_of(text, "/containerDefinitions/1/dockerLabels/c~0d") == 4
    assert line_of(text, "/containerDefinitions/1/dockerLabels/\u00e9") == 4


def test_byte_order_mark_and_compact_json():
    assert line_of('\ufeff{"containerDefinitions": [{"privileged": true}]}', "/containerDefinitions/0/privileged") == 1


@pytest.mark.parametrize(
    ("wrapper", "name"),
    [
        (lambda td: {"taskDefinition": td, "tags": []}, "describe"),
        (lambda td: {"taskDefinition": td, "context": {"account": "111122223333"}}, "envelope"),
        (
            lambda td: {
                "apiVersion": "ecs-admission/v1",
                "kind": "AdmissionReview",
                "request": {"uid": "1", "object": td},
            },
            "review",
        ),
        (
            lambda td: {
                "apiVersion": "ecs-admission/v1",
                "kind": "AdmissionReview",
                "request": {"uid": "1", "object": {"taskDefinition": td, "dryRun": True}},
            },
            "review+envelope",
        ),
    ],
)
def test_pointer_is_found_under_every_input_shape(wrapper, name):
    td = json.loads((EXAMPLES / "taskdef.json").read_text())
    text = json.dumps(wrapper(td), indent=2)
    line = line_of(text, "/containerDefinitions/0/privileged")
    assert line is not None and '"privileged": true' in text.splitlines()[line - 1], name


def test_yaml_lines_with_comments_flow_style_and_block_scalars():
    text = (
        "# comment\n"
        "family: web\n"
        "containerDefinitions:\n"
        "  - name: app\n"
        "    command: |\n"
        "      echo one\n"
        "      echo two\n"
        "    privileged: true\n"
        "  - {name: side, image: x, privileged: true}\n"
    )
    assert line_of(text, "/containerDefinitions/0/privileged", "t.yaml") == 8
    assert line_of(text, "/containerDefinitions/1", "t.yaml") == 9
    assert line_of(text, "/containerDefinitions/1/privileged", "t.yml") == 9
    assert line_of(text, "/executionRoleArn", "t.yaml") == 2  # first line of the mapping
    assert line_of(text, "/containerDefinitions/0/secrets", "t.yaml") == 4


def test_yaml_envelope_root():
    text = "taskDefinition:\n  family: x\n  containerDefinitions:\n    - name: a\n      privileged: true\n"
    assert line_of(text, "/containerDefinitions/0/privileged", "e.yaml") == 5


def test_example_yaml_file():
    text = (EXAMPLES / "taskdef.yaml").read_text()
    line = line_of(text, "/executionRoleArn", "taskdef.yaml")
    assert line is not None and text.splitlines()[line - 1].startswith("executionRoleArn:")


def test_unlocatable_sources_give_none_not_an_exception():
    assert line_of("{not json", "/a") is None
    assert line_of("\xff", "/a") is None
    assert SourceLocator(b"\xff\xfe", "x.json").line("/a") is None
    assert line_of("a: [unclosed", "/a", "x.yaml") is None
    assert line_of("{}", "not-a-pointer") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=25,
)


def pointers(value, prefix=""):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from pointers(item, prefix + join_pointer([key]))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from pointers(item, f"{prefix}/{index}")


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_index_covers_every_pointer_and_points_at_the_key(document):
    text = json.dumps(document, indent=2)
    index = index_json(text)
    assert set(index) == set(pointers(document))
    lines = text.splitlines()
    for pointer, line in index.items():
        tokens = split_pointer(pointer)
        parent = document
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
        if tokens and isinstance(parent, dict):
            # With indent=2 every member starts its own line with its JSON-encoded key.
            assert lines[line - 1].lstrip().startswith(json.dumps(tokens[-1]) + ":"), (pointer, line)
    compact = index_json(json.dumps(document))
    assert set(compact.values()) <= {1}
