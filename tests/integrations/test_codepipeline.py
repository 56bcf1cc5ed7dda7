"""The CodePipeline Invoke (Lambda) handler, invoked with real-shaped events against moto over HTTP.

S3 artifacts and ECS services live in moto's server; CodePipeline's job-result calls go to the
recording proxy in front of it (moto does not implement them; see tests/support/moto_proxy.py). The
handler runs unmodified: boto3 finds the proxy through AWS_ENDPOINT_URL, as it would find any
endpoint override.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
import zipfile

import boto3
import pytest

from ecs_admission.integrations import codepipeline
from ecs_admission.integrations.codepipeline import ActionConfig, JobFailure, fit, handler, scrub
from tests.support.codepipeline import IMAGE, role_actions, taskdef
from tests.support.moto_proxy import aws_proxy
from tests.support.pipeline_servers import closed_port, gate_server

REGION = "us-east-1"
ACCOUNT = "111122223333"
BUCKET = "codepipeline-us-east-1-artifacts"
FUNCTION_KEY = "AKIAFUNCTIONROLE0001"  # the Lambda's own role
ARTIFACT_KEY = "ASIAARTIFACTCREDS001"  # the job's temporary artifact credentials
ARTIFACT_SECRET = "artifact-secret-access-key-do-not-log"
ARTIFACT_TOKEN = "artifact-session-token-do-not-log-IQoJb3JpZ2luX2VjE"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

APPSPEC = """version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo:
          ContainerName: "api"
          ContainerPort: 8080
"""


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def aws():
    with aws_proxy() as proxy:
        seed = boto3.client(
            "s3", region_name=REGION, endpoint_url=proxy.moto_url, aws_access_key_id="seed", aws_secret_access_key="x"
        )
        seed.create_bucket(Bucket=BUCKET)
        yield proxy


@pytest.fixture()
def env(aws, monkeypatch):
    """The Lambda's environment: its own role's credentials and region; AWS reached through the proxy."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "ECS_ADMISSION_GATE_URL", "ECS_ADMISSION_POLICY_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FUNCTION_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "function-secret")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    # The test gates listen on loopback; a UserParameters gateUrl must name an allowed host.
    monkeypatch.setenv("ECS_ADMISSION_CODEPIPELINE_GATE_HOSTS", "127.0.0.1")
    aws.calls.clear()
    return aws


def seed_client(aws, service: str):
    return boto3.client(
        service, region_name=REGION, endpoint_url=aws.moto_url, aws_access_key_id="seed", aws_secret_access_key="x"
    )


def put_artifact(aws, name: str, files: dict[str, str | bytes]) -> dict:
    key = f"payments-pipeline/{name[:8]}/{uuid.uuid4().hex[:7]}.zip"
    seed_client(aws, "s3").put_object(Bucket=BUCKET, Key=key, Body=zip_bytes(files))
    return {
        "name": name,
        "revision": None,
        "location": {"type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": key}},
    }


def event(aws, artifacts: list[dict], user_parameters: dict | str | None = None) -> dict:
    job_id = str(uuid.uuid4())
    aws.jobs.add(job_id)
    configuration = {"FunctionName": "ecs-admission-gate"}
    if user_parameters is not None:
        configuration["UserParameters"] = (
            user_parameters if isinstance(user_parameters, str) else json.dumps(user_parameters)
        )
    return {
        "CodePipeline.job": {
            "id": job_id,
            "accountId": ACCOUNT,
            "data": {
                "actionConfiguration": {"configuration": configuration},
                "inputArtifacts": artifacts,
                "outputArtifacts": [],
                "artifactCredentials": {
                    "accessKeyId": ARTIFACT_KEY,
                    "secretAccessKey": ARTIFACT_SECRET,
                    "sessionToken": ARTIFACT_TOKEN,
                    "expirationTime": 1767225600000,
                },
            },
        }
    }


def result_of(aws, evt: dict):
    job_id = evt["CodePipeline.job"]["id"]
    return aws.reported[job_id]


def blue_green(aws, td: dict, appspec: str = APPSPEC, image: str = IMAGE) -> list[dict]:
    return [
        put_artifact(aws, "BuildArtifact", {"taskdef.json": json.dumps(td, indent=2), "appspec.yaml": appspec}),
        put_artifact(
            aws, "ImageArtifact", {"imageDetail.json": json.dumps({"ImageURI": image, "ImageTags": ["1.4.2"]})}
        ),
    ]


# ---- blue/green ---------------------------------------------------------------------------------


def test_blue_green_denied_reports_failure_listing_the_rules(env):
    evt = event(env, blue_green(env, taskdef(privileged=True)))
    assert handler(evt, None)["reported"] == "failure"
    call = result_of(env, evt)
    assert call.operation == "PutJobFailureResult"
    details = call.body["failureDetails"]
    assert details["type"] == "JobFailed"
    assert "ECS-ISO-002 [critical] /containerDefinitions/0/privileged" in details["message"]
    assert len(details["message"]) <= 5000 and UUID_RE.match(details["externalExecutionId"])
    # Artifacts were read with the job's credentials; the result was reported with the function's own.
    s3_calls = [c for c in env.calls if c.service == "s3"]
    assert len(s3_calls) == 2 and {c.access_key for c in s3_calls} == {ARTIFACT_KEY}
    assert call.access_key == FUNCTION_KEY and call.service == "codepipeline"


def test_blue_green_allowed_reports_success_with_output_variables(env):
    evt = event(env, blue_green(env, taskdef()))
    assert handler(evt, None)["reported"] == "success"
    call = result_of(env, evt)
    assert call.operation == "PutJobSuccessResult"
    variables = call.body["outputVariables"]
    assert variables["allowed"] == "true" and variables["violations"] == "0" and int(variables["warnings"]) >= 0
    assert UUID_RE.match(variables["decision_id"]) and variables["family"] == "payments-api"
    assert call.body["executionDetails"]["externalExecutionId"] == variables["decision_id"]
    assert "payments-api allowed" in call.body["executionDetails"]["summary"]
    assert len(env.results()) == 1  # exactly one result per job


def test_image_placeholder_is_substituted_before_the_gate_sees_it(env):
    with gate_server() as gate:
        evt = event(env, blue_green(env, taskdef()), {"gateUrl": gate.url})
        handler(evt, None)
    (request,) = [r for r in gate.requests if r.path == "/v1/admit"]
    envelope = json.loads(request.body)
    assert envelope["taskDefinition"]["containerDefinitions"][0]["image"] == IMAGE
    assert envelope["context"] == {"account": ACCOUNT, "region": REGION}
    assert result_of(env, evt).operation == "PutJobSuccessResult"


def test_unmapped_image_placeholder_fails_closed(env):
    td = taskdef()
    td["containerDefinitions"].append({"name": "sidecar", "image": "<IMAGE2_NAME>", "essential": False})
    evt = event(env, blue_green(env, td))
    handler(evt, None)
    message = result_of(env, evt).body["failureDetails"]["message"]
    assert "/containerDefinitions/1/image <IMAGE2_NAME>" in message


def test_images_mapping_from_user_parameters(env):
    td = taskdef()
    td["containerDefinitions"].append({"name": "sidecar", "image": "<IMAGE2_NAME>", "essential": False})
    artifacts = [
        *blue_green(env, td),
        put_artifact(env, "SidecarImage", {"imageDetail.json": json.dumps({"ImageURI": "public.ecr.aws/x/y:1"})}),
    ]
    evt = event(env, artifacts, {"images": {"IMAGE1_NAME": "ImageArtifact", "<IMAGE2_NAME>": "SidecarImage"}})
    handler(evt, None)
    assert result_of(env, evt).operation == "PutJobSuccessResult"


def test_appspec_naming_a_missing_container_fails(env):
    evt = event(env, blue_green(env, taskdef(), appspec=APPSPEC.replace('"api"', '"web"')))
    handler(evt, None)
    message = result_of(env, evt).body["failureDetails"]["message"]
    assert "routes traffic to container 'web'" in message and "it has api" in message


def test_dry_run_reports_success_with_the_verdict(env):
    evt = event(env, blue_green(env, taskdef(privileged=True)), {"dryRun": True})
    handler(evt, None)
    call = result_of(env, evt)
    assert call.operation == "PutJobSuccessResult"
    assert call.body["outputVariables"]["allowed"] == "false" and call.body["outputVariables"]["mode"] == "dry-run"
    assert "would be denied (dry-run)" in call.body["executionDetails"]["summary"]
    assert "ECS-ISO-002" in call.body["executionDetails"]["summary"]


# ---- standard ECS deploy: imagedefinitions.json -------------------------------------------------


@pytest.fixture()
def service(env):
    """A running service in moto whose current task definition the deploy action would copy."""
    ecs = seed_client(env, "ecs")
    name = f"svc-{uuid.uuid4().hex[:6]}"
    ecs.create_cluster(clusterName="prod")

    def make(privileged: bool) -> str:
        container = {"name": "api", "image": "payments-api:old", "memory": 512}
        if privileged:
            container["privileged"] = True
        ecs.register_task_definition(
            family=name,
            networkMode="awsvpc",
            executionRoleArn="arn:aws:iam::111122223333:role/exec",
            containerDefinitions=[container, {"name": "log-router", "image": "fluent-bit:old", "memory": 128}],
            tags=[{"key": "team", "value": "payments"}],
        )
        ecs.create_service(cluster="prod", serviceName=name, taskDefinition=name, desiredCount=1)
        return name

    return make


def image_definitions(*pairs: tuple[str, str]) -> str:
    return json.dumps([{"name": n, "imageUri": u} for n, u in pairs])


def test_standard_deploy_gates_the_service_task_definition_with_new_images(env, service):
    name = service(privileged=True)
    artifacts = [put_artifact(env, "BuildArtifact", {"imagedefinitions.json": image_definitions(("api", IMAGE))})]
    evt = event(env, artifacts, {"cluster": "prod", "service": name})
    handler(evt, None)
    call = result_of(env, evt)
    assert call.operation == "PutJobFailureResult" and "ECS-ISO-002" in call.body["failureDetails"]["message"]
    ecs_calls = [c for c in env.calls if c.service == "ecs"]
    assert [c.operation for c in ecs_calls] == ["DescribeServices", "DescribeTaskDefinition"]
    assert {c.access_key for c in ecs_calls} == {FUNCTION_KEY}
    assert ecs_calls[1].body == {
        "taskDefinition": f"arn:aws:ecs:{REGION}:123456789012:task-definition/{name}:1",
        "include": ["TAGS"],
    }


def test_standard_deploy_sends_the_rebuilt_task_definition(env, service):
    name = service(privileged=False)
    artifacts = [put_artifact(env, "BuildArtifact", {"build/imagedefinitions.json": image_definitions(("api", IMAGE))})]
    with gate_server() as gate:
        evt = event(env, artifacts, {"cluster": "prod", "service": name, "gateUrl": gate.url})
        handler(evt, None)
    assert result_of(env, evt).operation == "PutJobSuccessResult"
    envelope = json.loads(next(r for r in gate.requests if r.path == "/v1/admit").body)
    td = envelope["taskDefinition"]
    assert [c["image"] for c in td["containerDefinitions"]] == [IMAGE, "fluent-bit:old"]
    assert td["tags"] == [{"key": "team", "value": "payments"}]
    assert envelope["context"] == {"account": ACCOUNT, "region": REGION, "cluster": "prod", "service": name}


def test_standard_deploy_unknown_container_fails(env, service):
    name = service(privileged=False)
    artifacts = [put_artifact(env, "BuildArtifact", {"imagedefinitions.json": image_definitions(("web", IMAGE))})]
    evt = event(env, artifacts, {"cluster": "prod", "service": name})
    handler(evt, None)
    assert "names container(s) web" in result_of(env, evt).body["failureDetails"]["message"]


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({}, "set cluster and service in UserParameters"),
        ({"cluster": "prod", "service": "no-such-service"}, "no-such-service in cluster prod: MISSING"),
    ],
)
def test_standard_deploy_configuration_errors(env, params, expect):
    artifacts = [put_artifact(env, "BuildArtifact", {"imagedefinitions.json": image_definitions(("api", IMAGE))})]
    evt = event(env, artifacts, params)
    handler(evt, None)
    details = result_of(env, evt).body["failureDetails"]
    assert details["type"] == "ConfigurationError" and expect in details["message"]


# ---- it never leaves a job hanging --------------------------------------------------------------


def garbage_cases(aws) -> list[tuple[str, dict, str, str]]:
    """(case, event, expected failure type, expected message fragment)"""
    cases = []
    evt = event(aws, [])
    evt["CodePipeline.job"]["data"] = "garbage"
    cases.append(("data is a string", evt, "JobFailed", "could not gate this job (AttributeError"))
    evt = event(aws, [])
    del evt["CodePipeline.job"]["data"]["artifactCredentials"]
    cases.append(("no artifact credentials", evt, "JobFailed", "KeyError: 'artifactCredentials'"))
    missing = put_artifact(aws, "BuildArtifact", {"taskdef.json": "{}"})
    missing["location"]["s3Location"]["objectKey"] = "does/not/exist.zip"
    cases.append(("artifact missing in S3", event(aws, [missing]), "JobFailed", "NoSuchKey"))
    notzip = put_artifact(aws, "BuildArtifact", {})
    seed_client(aws, "s3").put_object(
        Bucket=BUCKET, Key=notzip["location"]["s3Location"]["objectKey"], Body=b"\x00garbage"
    )
    cases.append(("artifact is not a zip", event(aws, [notzip]), "JobFailed", "is not a zip file"))
    broken = put_artifact(aws, "BuildArtifact", {"taskdef.json": "{not json"})
    cases.append(
        ("taskdef.json is not JSON", event(aws, [broken]), "JobFailed", "BuildArtifact/taskdef.json: not valid JSON")
    )
    wrong = put_artifact(
        aws, "BuildArtifact", {"taskdef.json": '{"containerDefinitions": {"a": 1}}', "imageDetail.json": "{}"}
    )
    cases.append(("imageDetail without ImageURI", event(aws, [wrong]), "JobFailed", "has no ImageURI"))
    shape = put_artifact(aws, "BuildArtifact", {"taskdef.json": '{"containerDefinitions": "web"}'})
    cases.append(
        (
            "not a task definition",
            event(aws, [shape]),
            "JobFailed",
            "BuildArtifact/taskdef.json at /containerDefinitions: expected a list",
        )
    )
    other = put_artifact(aws, "BuildArtifact", {"README.md": "hello"})
    cases.append(
        ("nothing to gate", event(aws, [other]), "JobFailed", "no taskdef.json (blue/green) or imagedefinitions")
    )
    cases.append(("no input artifacts", event(aws, []), "ConfigurationError", "no input artifacts"))
    cases.append(("UserParameters not JSON", event(aws, [other], "{cluster: prod"), "ConfigurationError", "not JSON"))
    cases.append(("unknown parameter", event(aws, [other], {"clustr": "prod"}), "ConfigurationError", "'clustr'"))
    cases.append(("wrong parameter type", event(aws, [other], {"dryRun": "yes"}), "ConfigurationError", "dryRun"))
    return cases


def test_crash_on_garbage_still_reports_a_failure(env, caplog):
    caplog.set_level(logging.INFO)
    for case, evt, kind, fragment in garbage_cases(env):
        outcome = handler(evt, None)
        call = result_of(env, evt)
        assert outcome["reported"] == "failure", case
        assert call.operation == "PutJobFailureResult", case
        assert call.body["failureDetails"]["type"] == kind, case
        assert fragment in call.body["failureDetails"]["message"], (case, call.body["failureDetails"]["message"])
    assert len(env.results()) == len(env.reported.keys() & {c.body["jobId"] for c in env.results()})
    logged = caplog.text + json.dumps([c.body for c in env.calls if c.body])
    for secret in (ARTIFACT_SECRET, ARTIFACT_TOKEN):
        assert secret not in logged


def test_invalid_gate_configuration_fails_closed(env, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_GATE_TIMEOUT", "soon")
    evt = event(env, blue_green(env, taskdef()))
    handler(evt, None)
    details = result_of(env, evt).body["failureDetails"]
    assert details["type"] == "ConfigurationError" and "ECS_ADMISSION_GATE_TIMEOUT" in details["message"]


def test_unreachable_gate_fails_the_job(env):
    evt = event(env, blue_green(env, taskdef()), {"gateUrl": f"http://127.0.0.1:{closed_port()}"})
    handler(evt, None)
    message = result_of(env, evt).body["failureDetails"]["message"]
    assert "could not decide (failing closed)" in message and "unreachable" in message


def test_gate_from_environment_with_token(env, monkeypatch):
    with gate_server() as gate:
        gate.token = "lambda-token"
        monkeypatch.setenv("ECS_ADMISSION_GATE_URL", gate.url)
        monkeypatch.setenv("ECS_ADMISSION_GATE_TOKEN", "lambda-token")
        evt = event(env, blue_green(env, taskdef(privileged=True)))
        handler(evt, None)
    assert gate.requests[0].headers["authorization"] == "Bearer lambda-token"
    assert "ECS-ISO-002" in result_of(env, evt).body["failureDetails"]["message"]


def test_a_gate_url_in_user_parameters_must_name_an_allowed_host(env, monkeypatch):
    """Whoever edits the pipeline must not point the gate token, and the verdict, at their own server (issue 21)."""
    monkeypatch.setenv("ECS_ADMISSION_GATE_TOKEN", "lambda-token")
    with gate_server() as gate:
        rogue = gate.url.replace("127.0.0.1", "localhost")
        evt = event(env, blue_green(env, taskdef(privileged=True)), {"gateUrl": rogue})
        handler(evt, None)
        assert gate.requests == []  # nothing was sent: no token, no task definition
    details = result_of(env, evt).body["failureDetails"]
    assert details["type"] == "ConfigurationError"
    assert "'localhost'" in details["message"] and "ECS_ADMISSION_CODEPIPELINE_GATE_HOSTS" in details["message"]
    monkeypatch.delenv("ECS_ADMISSION_CODEPIPELINE_GATE_HOSTS")
    with gate_server() as gate:  # the function's own gate URL, repeated in UserParameters, is fine
        monkeypatch.setenv("ECS_ADMISSION_GATE_URL", gate.url)
        evt = event(env, blue_green(env, taskdef(privileged=True)), {"gateUrl": gate.url})
        handler(evt, None)
    assert gate.requests and "ECS-ISO-002" in result_of(env, evt).body["failureDetails"]["message"]


def test_the_token_never_goes_over_plain_http_to_another_host(env, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_CODEPIPELINE_GATE_HOSTS", "gate.example.com")
    monkeypatch.setenv("ECS_ADMISSION_GATE_TOKEN", "lambda-token")
    evt = event(env, blue_green(env, taskdef(privileged=True)), {"gateUrl": "http://gate.example.com"})
    handler(evt, None)  # refused before any connection is attempted
    details = result_of(env, evt).body["failureDetails"]
    assert details["type"] == "ConfigurationError" and "plain http" in details["message"]
    monkeypatch.setenv("ECS_ADMISSION_GATE_URL", "http://gate.example.com")  # the function's own URL too
    evt = event(env, blue_green(env, taskdef(privileged=True)))
    handler(evt, None)
    assert "plain http" in result_of(env, evt).body["failureDetails"]["message"]


def test_two_members_of_one_name_are_refused_not_one_of_them_judged(env):
    """A privileged taskdef.json first, a clean one last: only the last was judged, and allowed (issue 21)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("taskdef.json", json.dumps(taskdef(privileged=True)))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("taskdef.json", json.dumps(taskdef()))
        archive.writestr("appspec.yaml", APPSPEC)
    key = f"payments-pipeline/dup/{uuid.uuid4().hex[:7]}.zip"
    seed_client(env, "s3").put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    build = {"name": "BuildArtifact", "location": {"s3Location": {"bucketName": BUCKET, "objectKey": key}}}
    evt = event(env, [build, blue_green(env, taskdef())[1]])
    handler(evt, None)
    call = result_of(env, evt)
    assert call.operation == "PutJobFailureResult"
    assert "more than one member named 'taskdef.json'" in call.body["failureDetails"]["message"]
    # Two files of that name in different folders are as ambiguous.
    evt = event(env, [put_artifact(env, "BuildArtifact", {"a/taskdef.json": "{}", "b/taskdef.json": "{}"})])
    handler(evt, None)
    assert "holds 2 files named taskdef.json" in result_of(env, evt).body["failureDetails"]["message"]


def test_an_artifact_of_too_many_entries_is_refused_before_it_is_read(env):
    """560,000 entries peaked at 780 MB in a 512 MB Lambda and no result was sent; now refused from its header."""
    import tracemalloc

    entries = codepipeline.MAX_ENTRIES + 1
    body = zip_bytes({f"f{i}": b"" for i in range(entries)})
    tracemalloc.start()
    with pytest.raises(JobFailure, match=f"holds {entries} entries"):
        codepipeline.open_zip("BuildArtifact", body)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1024 * 1024, peak  # the central directory was never parsed into objects
    key = f"payments-pipeline/many/{uuid.uuid4().hex[:7]}.zip"
    seed_client(env, "s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    build = {"name": "BuildArtifact", "location": {"s3Location": {"bucketName": BUCKET, "objectKey": key}}}
    evt = event(env, [build])
    handler(evt, None)
    assert "entries" in result_of(env, evt).body["failureDetails"]["message"]  # a job result, always


def test_no_job_id_reports_nothing(env):
    assert handler({"not": "a job"}, None) == {"reported": None}
    assert handler("garbage", None) == {"reported": None}
    assert env.results() == []


def test_a_failed_report_raises_so_lambda_retries(env):
    env.fail_job_results = True
    try:
        evt = event(env, blue_green(env, taskdef()))
        with pytest.raises(Exception, match="PutJobSuccessResult"):
            handler(evt, None)
    finally:
        env.fail_job_results = False


def test_long_denials_fit_in_5000_characters(env):
    td = taskdef(privileged=False, image=IMAGE)
    # ECS allows 10 containers: many violations each (privileged, and every dangerous capability).
    capabilities = ["SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "SYS_RAWIO", "SYS_PTRACE", "DAC_READ_SEARCH", "BPF"]
    td["containerDefinitions"] = [
        {
            "name": f"container-with-a-long-name-{i:03d}",
            "image": IMAGE,
            "privileged": True,
            "linuxParameters": {"capabilities": {"add": capabilities}},
        }
        for i in range(10)
    ]
    evt = event(env, [put_artifact(env, "BuildArtifact", {"taskdef.json": json.dumps(td)})])
    handler(evt, None)
    message = result_of(env, evt).body["failureDetails"]["message"]
    assert 4000 < len(message) <= 5000
    assert re.match(r"ecs-admission denied payments-api: \d\d violation\(s\)", message)
    assert re.search(r"\.\.\. \d+ more line\(s\); decision [0-9a-f-]{36} in the gate's logs has them all$", message)


# ---- units --------------------------------------------------------------------------------------


def test_fit_keeps_whole_lines_and_the_limit():
    lines = [f"line {i} " + "x" * 90 for i in range(100)]
    text = fit(lines, 1000, "d-1")
    assert len(text) <= 1000 and text.endswith("more line(s); decision d-1 in the gate's logs has them all")
    assert fit(["short"], 1000) == "short"


def test_scrub_and_config_parsing():
    assert scrub(f"error near {ARTIFACT_SECRET}!", [ARTIFACT_SECRET]) == "error near ***!"
    config = ActionConfig.parse('{"cluster": "c", "service": "s", "dryRun": true, "images": {"<IMAGE1_NAME>": "A"}}')
    assert (config.cluster, config.service, config.dry_run, config.images) == ("c", "s", True, {"IMAGE1_NAME": "A"})
    assert ActionConfig.parse("") == ActionConfig()
    for raw in ("[]", '{"images": {"A": 1}}', '{"cluster": ""}', 5):
        with pytest.raises(JobFailure):
            ActionConfig.parse(raw)


def test_handler_is_the_documented_entry_point():
    assert codepipeline.handler is handler


# ---- the function's calls against its role (deploy/codepipeline/gate-lambda.yaml) ---------------


def test_every_call_the_function_makes_is_allowed_by_its_role(env, service):
    # Run both input styles, then check each call signed with the function's own key against the role.
    name = service(privileged=True)
    standard = [put_artifact(env, "BuildArtifact", {"imagedefinitions.json": image_definitions(("api", IMAGE))})]
    handler(event(env, standard, {"cluster": "prod", "service": name}), None)
    handler(event(env, blue_green(env, taskdef())), None)
    made = {f"{c.service}:{c.operation}" for c in env.calls if c.access_key == FUNCTION_KEY}
    assert made == {
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "codepipeline:PutJobFailureResult",
        "codepipeline:PutJobSuccessResult",
    }
    assert made <= role_actions()
    assert all(c.service == "s3" for c in env.calls if c.access_key == ARTIFACT_KEY)
