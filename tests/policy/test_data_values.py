"""Policy data and METADATA are read as OPA reads them: JSON values only, an unquoted YAML date kept
as the text written. A date in a data file stopped the loader with a traceback before."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from ecs_admission.policy.loader import PolicyError, load_policy_set
from tests.conftest import REPO


@pytest.fixture
def policy_dir(tmp_path):
    target = tmp_path / "policies"
    shutil.copytree(REPO / "rego", target)
    return target


def test_an_unquoted_date_in_a_data_file_is_the_text_written(policy_dir):
    (policy_dir / "teams.yaml").write_text(
        "payments:\n  since: 2024-01-01\n  reviewed: 2024-1-5\n  at: 2001-12-14t21:59:43.10-05:00\n"
    )
    policy = load_policy_set(policy_dir)
    assert policy.data["ecs"]["teams"] == {
        "payments": {"since": "2024-01-01", "reviewed": "2024-1-5", "at": "2001-12-14t21:59:43.10-05:00"}
    }


def test_an_unquoted_expiry_date_still_reads_as_the_day_it_names(policy_dir):
    config = (policy_dir / "config.yaml").read_text()
    assert "\nexemptions:\n" in config
    (policy_dir / "config.yaml").write_text(
        config.replace(
            "\nexemptions:\n",
            "\nexemptions:\n  - {rule: ECS-ISO-002, family: web, justification: legacy, ticket: OPS-1,"
            " expires: 2027-3-31}\n",
        )
    )
    exemption = load_policy_set(policy_dir).data["ecs"]["config"]["exemptions"][0]
    assert exemption["expires"] == "2027-03-31"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("blob: !!binary aGVsbG8=\n", "/blob: a bytes is not a JSON value"),
        ("members: !!set {a, b}\n", "/members: a set is not a JSON value"),
        ("limits:\n  1: one\n  '1': uno\n", "/limits: the key '1' is written twice (once unquoted)"),
        ("ratio: .inf\n", "/ratio: inf is not a JSON number"),
    ],
)
def test_a_value_json_cannot_hold_is_refused_naming_the_file_and_place(policy_dir, text, named):
    (policy_dir / "teams.yaml").write_text(text)
    with pytest.raises(PolicyError) as raised:
        load_policy_set(policy_dir)
    assert str(raised.value).startswith(f"teams.yaml: {named}")


def test_a_key_yaml_reads_as_a_number_is_its_json_text(policy_dir):
    (policy_dir / "ports.yaml").write_text("names:\n  443: https\n  true: yes\n  ~: none\n  8080: http\n")
    assert load_policy_set(policy_dir).data["ecs"]["ports"] == {
        "names": {"443": "https", "true": True, "null": "none", "8080": "http"}
    }


def test_not_a_number_in_a_json_data_file_is_refused(policy_dir):
    (policy_dir / "limits.json").write_text('{"ratio": NaN}')
    with pytest.raises(PolicyError, match=r"^limits.json: /ratio: nan is not a JSON number"):
        load_policy_set(policy_dir)


def test_check_with_a_dated_data_file_decides_and_a_binary_one_exits_3_naming_it(policy_dir):
    env = {"ECS_ADMISSION_IAM_LOOKUP": "off", "ECS_ADMISSION_POLICY_CACHE": "off", "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "ecs_admission.cli", "check", "--format", "json", "--policy-dir", str(policy_dir)]
    (policy_dir / "teams.yaml").write_text("payments:\n  since: 2024-01-01\n")
    done = subprocess.run([*command, str(REPO / "examples" / "taskdef.json")], capture_output=True, text=True, env=env)
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)
    (policy_dir / "teams.yaml").write_text("blob: !!binary aGVsbG8=\n")
    done = subprocess.run([*command, str(REPO / "examples" / "taskdef.json")], capture_output=True, text=True, env=env)
    assert done.returncode == 3  # the policies do not load: the engine cannot decide (docs/cli.md)
    assert "Traceback" not in done.stderr
    assert "policies not loaded: teams.yaml: /blob: a bytes is not a JSON value" in done.stderr


def test_a_metadata_field_yaml_alone_can_hold_is_refused_as_unknown(policy_dir):
    module = policy_dir / "hardening.rego"
    text = module.read_text()
    assert "# custom:\n#   id: " in text
    module.write_text(text.replace("# custom:\n#   id: ", "# custom:\n#   blob: !!binary aGVsbG8=\n#   id: ", 1))
    with pytest.raises(PolicyError) as raised:
        load_policy_set(policy_dir)
    assert str(raised.value).startswith("hardening.rego:") and "unknown key custom.blob" in str(raised.value)
