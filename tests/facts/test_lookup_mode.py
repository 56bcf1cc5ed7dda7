"""ECS_ADMISSION_IAM_LOOKUP=auto decides as boto3's session did, importing less: nothing of botocore
when no Region can be configured anywhere, and botocore's session without boto3 otherwise."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ecs_admission.config import ConfigError, Settings
from ecs_admission.facts.iam import LookupMode, configured_region, resolve_mode
from tests.conftest import EXAMPLES, REPO, free_port

CLEARED = (
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def boto3_mode(settings: Settings) -> LookupMode:
    """The rule as it was written with boto3's session (the reference)."""
    import boto3

    session = boto3.session.Session()
    if not configured_region(settings, session):
        return LookupMode(False, "IAM lookups are off: no AWS Region is configured (ECS_ADMISSION_IAM_LOOKUP=auto)")
    if session.get_credentials() is None:
        return LookupMode(False, "IAM lookups are off: no AWS credentials were found (ECS_ADMISSION_IAM_LOOKUP=auto)")
    return LookupMode(True, "ECS_ADMISSION_IAM_LOOKUP=auto found an AWS Region and credentials")


CONFIGS = {
    "none": None,
    "no region": "[default]\noutput = json\n",
    "region": "[default]\nregion = eu-west-1\n",
    "profile region": "[default]\noutput = json\n[profile ci]\nregion = eu-central-1\n",
}
CREDENTIALS = {
    "none": None,
    "file": "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x\n",
    "region only": "[default]\nregion = eu-north-1\n",  # botocore merges these profiles into the config's
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("credentials", CREDENTIALS)
@pytest.mark.parametrize(
    "environment",
    [{}, {"AWS_REGION": "us-east-1"}, {"AWS_DEFAULT_REGION": "us-west-2"}, {"AWS_PROFILE": "ci"},
     {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}, {"AWS_DEFAULT_REGION": ""}],
)
@pytest.mark.parametrize("region_setting", [None, "ap-south-1"])
def test_auto_decides_as_boto3_did(tmp_path, monkeypatch, config, credentials, environment, region_setting):
    for key in CLEARED:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never the instance metadata service
    aws = tmp_path / ".aws"
    aws.mkdir()
    if CONFIGS[config] is not None:
        (aws / "config").write_text(CONFIGS[config])
    if CREDENTIALS[credentials] is not None:
        (aws / "credentials").write_text(CREDENTIALS[credentials])
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = Settings(iam_lookup="auto", default_region=region_setting)
    assert _answer(resolve_mode, settings) == _answer(boto3_mode, settings)


def _answer(mode, settings):
    from botocore.exceptions import BotoCoreError

    try:
        return mode(settings)
    except (BotoCoreError, ConfigError):
        # A profile that does not exist: boto3's session raised botocore's error (a traceback from
        # `check`); resolve_mode refuses the configuration in one line (the test below).
        return "configuration refused"


def test_an_aws_profile_that_does_not_exist_is_a_configuration_error_in_one_line(tmp_path, monkeypatch):
    for key in CLEARED:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    with pytest.raises(ConfigError, match=r"config profile \(nosuch\) could not be found"):
        resolve_mode(Settings(iam_lookup="auto"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_PROFILE": "nosuch", "ECS_ADMISSION_AUTH": "none"}
    for command in (["check", str(EXAMPLES / "taskdef.json")], ["serve", "--port", str(free_port())]):
        result = subprocess.run(
            [sys.executable, "-m", "ecs_admission.cli", *command],
            capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
        )
        assert result.returncode == 2, (command, result.stderr[-800:])
        assert "Traceback" not in result.stderr
        assert "configuration error: the AWS configuration cannot be read" in result.stderr.strip().splitlines()[-1]


PROBE = """
import json, sys
from ecs_admission.cli import main
code = main(["check", sys.argv[1], "--format", "json"])
loaded = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("botocore", "boto3", "s3transfer")})
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def _probe(tmp_path, **environment):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", **environment}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(EXAMPLES / "taskdef.json")],
        capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    decision = json.loads(result.stdout)
    return report, decision


def test_auto_without_any_region_imports_no_botocore(tmp_path):
    report, decision = _probe(tmp_path)
    assert report == {"code": 1, "loaded": []}
    assert "no AWS Region is configured" in json.dumps(decision)


def test_auto_with_a_region_reads_credentials_with_botocore_alone(tmp_path):
    report, decision = _probe(tmp_path, AWS_REGION="us-east-1", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    assert report == {"code": 1, "loaded": ["botocore"]}
    assert "no AWS credentials were found" in json.dumps(decision)
