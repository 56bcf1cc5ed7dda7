"""The CloudFormation resolver under hostile templates: malformed intrinsics, cycles, expansion (issue 12)."""

from __future__ import annotations

import json
import time
import urllib.request
from urllib.error import HTTPError

import pytest

from ecs_admission.errors import InputError
from ecs_admission.inputs.cloudformation import MAX_RESOLVE_STEPS, MAX_RESOLVED_CHARS, load_template
from ecs_admission.inputs.parse import parse_yaml
from tests.conftest import serving


def task_definition(family: str, extra: str = "") -> str:
    return (
        f"{extra}Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n"
        f"      Family: {family}\n      ContainerDefinitions: [{{Name: app, Image: nginx}}]\n"
    )


def refused(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        load_template(parse_yaml(text))
    return caught.value


def test_fn_not_without_a_condition_names_the_path():
    error = refused(task_definition("!If [C, a, b]", "Conditions:\n  C: {'Fn::Not': []}\n"))
    assert error.field == "/Conditions/C/Fn::Not" and "Fn::Not takes one condition" in error.problem


def test_split_with_an_empty_delimiter_names_the_path():
    error = refused(task_definition("!Select [0, !Split ['', abc]]"))
    assert error.field == "/Resources/T/Properties/Family/Fn::Select/1/Fn::Split/0"
    assert "delimiter" in error.problem


@pytest.mark.parametrize(
    ("extra", "family", "cycle"),
    [
        (
            "Resources_:\n",
            "!Ref Repo",
            "!Ref Repo -> !Ref Repo",
        ),
        (
            "",
            "!Sub '${Repo}'",
            "!Ref Repo -> !Ref Repo",
        ),
        (
            "Mappings:\n  M:\n    a: {b: !FindInMap [M, a, b]}\n",
            "!FindInMap [M, a, b]",
            "!FindInMap [M, a, b] -> !FindInMap [M, a, b]",
        ),
        (
            "Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\n",
            "!If [A, x, y]",
            "!Condition A -> !Condition B -> !Condition A",
        ),
    ],
)
def test_a_name_that_refers_to_itself_is_a_cycle(extra, family, cycle):
    text = task_definition(family, extra.replace("Resources_:\n", ""))
    # Repo's name is itself: a Ref, or a Sub of itself.
    name = "!Sub '${Repo}'" if "Sub" in family else "!Ref Repo"
    text += f"  Repo:\n    Type: AWS::ECR::Repository\n    Properties:\n      RepositoryName: {name}\n"
    error = refused(text)
    assert cycle in error.problem and "refers back to itself" in error.problem
    assert error.error == "template_cycle"


def doubling(levels: int) -> str:
    """Each mapping level joins the next one twice: 2**levels evaluations from a 2.5 KB template."""
    lines = ["Mappings:", "  M:"]
    for level in range(levels):
        lines.append(
            f"    L{level}: {{v: !Join ['', [!FindInMap [M, L{level + 1}, v], !FindInMap [M, L{level + 1}, v]]]}}"
        )
    lines.append(f"    L{levels}: {{v: ab}}")
    return task_definition("!FindInMap [M, L0, v]", "\n".join(lines) + "\n")


def test_exponential_expansion_is_refused_quickly():
    text = doubling(21)
    assert len(text) < 2700
    started = time.perf_counter()
    error = refused(text)
    elapsed = time.perf_counter() - started
    assert "MAX_RESOLVE_STEPS" in error.problem or "MAX_RESOLVED_CHARS" in error.problem
    assert error.error == "template_too_complex"
    assert elapsed < 0.5, elapsed


def test_long_strings_hit_the_size_budget():
    big = "x" * 50_000
    levels = [
        f"    L{i}: {{v: !Join ['', [!FindInMap [M, L{i + 1}, v], !FindInMap [M, L{i + 1}, v]]]}}" for i in range(6)
    ]
    text = task_definition(
        "!FindInMap [M, L0, v]", "Mappings:\n  M:\n" + "\n".join(levels) + f"\n    L6: {{v: {big}}}\n"
    )
    error = refused(text)
    assert "MAX_RESOLVED_CHARS" in error.problem and str(MAX_RESOLVED_CHARS) in error.problem


def test_a_few_levels_still_resolve():
    (judged,) = load_template(parse_yaml(doubling(4))).task_definitions
    assert judged.request.task_definition["family"] == "ab" * 16
    assert MAX_RESOLVE_STEPS > 1_000


def test_served_gate_answers_400_within_a_second_and_keeps_its_worker(tmp_path):
    log = (tmp_path / "server.log").open("w")
    with serving({"ECS_ADMISSION_IAM_LOOKUP": "off"}, stderr=log) as served:
        url = f"http://127.0.0.1:{served.port}/v1/admit"
        for body in (doubling(21), task_definition("!If [C, a, b]", "Conditions:\n  C: {'Fn::Not': []}\n")):
            request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/yaml"})
            started = time.perf_counter()
            with pytest.raises(HTTPError) as caught:
                urllib.request.urlopen(request, timeout=10)
            elapsed = time.perf_counter() - started
            assert caught.value.code == 400, caught.value.read()
            problem = json.loads(caught.value.read())
            assert problem["field"] and problem["detail"]
            assert elapsed < 1.0, elapsed
        with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/healthz", timeout=5) as answer:
            assert answer.status == 200
    log.close()
    assert "WORKER TIMEOUT" not in (tmp_path / "server.log").read_text()


def test_many_combinations_of_a_large_task_definition_hit_the_step_budget():
    names = [f"P{i}" for i in range(6)]  # 2**6 = 64 combinations, each resolving 1,000 variables
    text = "Parameters:\n" + "".join(f"  {n}: {{Type: String}}\n" for n in names)
    text += "Conditions:\n" + "".join(f"  C{n}: !Equals [!Ref {n}, x]\n" for n in names)
    text += "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: app\n"
    text += "      ContainerDefinitions:\n        - Name: app\n          Image: nginx\n          Environment:\n"
    text += "".join(f"            - {{Name: V{i}, Value: v}}\n" for i in range(1000))
    # Both branches alike: every combination gives the same task definition, so none is refused as a variant.
    text += "".join(f"            - {{Name: {n}, Value: !If [C{n}, a, a]}}\n" for n in names)
    started = time.perf_counter()
    error = refused(text)
    assert "MAX_RESOLVE_STEPS" in error.problem and error.field
    # About 0.6 s on a loaded 2-core machine; the bound only catches a runaway, not a regression of speed.
    assert time.perf_counter() - started < 5.0
