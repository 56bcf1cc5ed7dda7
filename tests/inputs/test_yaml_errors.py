"""A YAML syntax error keeps its real location and the parser's own words (issue 21).

An unclosed quote on line 4 was reported as "found unexpected end of stream at line 6": true, but the
place to fix is line 4, which PyYAML names as its context ("while scanning a quoted scalar"). In a
METADATA annotation the lines were the annotation's, not the .rego file's.
"""

from __future__ import annotations

import pytest

from ecs_admission.cli.commands import main
from ecs_admission.errors import InputError
from ecs_admission.inputs.parse import parse_yaml
from ecs_admission.policy.loader import PolicyError, load_policy_set
from ecs_admission.policy.metadata import MetadataError, annotations

UNCLOSED = 'family: a\ncontainerDefinitions:\n- name: x\n  image: "nginx\n  cpu: 1\n'


def problem(text: str) -> str:
    with pytest.raises(InputError) as refused:
        parse_yaml(text)
    assert refused.value.error == "invalid_yaml"
    return refused.value.problem


def test_an_unclosed_quote_names_where_it_opened_and_where_the_parser_gave_up():
    assert problem(UNCLOSED) == (
        "not valid YAML: while scanning a quoted scalar at line 4 column 10, "
        "found unexpected end of stream at line 6 column 1"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: b\n c: d\n", "mapping values are not allowed in this context at line 2 column 3"),
        (
            "a:\n  - b\n c: d\n",
            "while parsing a block mapping at line 1 column 1, did not find expected key at line 3 column 2",
        ),
        (
            "a: [1, 2\nb: 3\n",
            "while parsing a flow sequence at line 1 column 4, did not find expected ',' or ']' at line 2 column 2",
        ),
    ],
)
def test_other_syntax_errors_keep_the_parsers_words_and_places(text, expected):
    assert problem(text).endswith(expected), problem(text)


def test_the_cli_prints_it_with_the_file(tmp_path, capsys):
    path = tmp_path / "taskdef.yaml"
    path.write_text(UNCLOSED)
    assert main(["check", str(path)]) == 2
    assert "while scanning a quoted scalar at line 4 column 10" in capsys.readouterr().err


def test_a_metadata_error_is_placed_in_the_rego_file():
    lines = ["package acme", "", "# METADATA", "# title: x", "# custom:", '#   id: "ACME-1', "#   severity: high"]
    source = "\n".join([*lines, "findings := set()", ""])
    with pytest.raises(MetadataError) as refused:
        annotations("acme.rego", source)
    message = str(refused.value).replace("METADATA is not valid YAML: ", "")
    # Line 6 of the file, column 9: where the quote opens in `#   id: "ACME-1`.
    assert message.startswith("acme.rego:3: while scanning a quoted scalar at line 6 column 9,")
    assert "<unicode string>" not in message


def test_a_config_yaml_error_names_the_file_and_place(tmp_path):
    (tmp_path / "acme.rego").write_text("package ecs.checks.acme\n\nimport rego.v1\n\nfindings := set()\n")
    (tmp_path / "config.yaml").write_text("enforcement:\n  ECS-ISO-002: 'warn\n")
    with pytest.raises(PolicyError) as refused:
        load_policy_set(tmp_path)
    assert "config.yaml: not valid YAML: while scanning a quoted scalar at line 2 column 16" in str(refused.value)
