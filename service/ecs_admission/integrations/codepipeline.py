"""CodePipeline Invoke (Lambda) action: gate the task definition a pipeline is about to deploy.

Handler: `ecs_admission.integrations.codepipeline.handler`. CodePipeline waits (up to 20 minutes)
for PutJobSuccessResult or PutJobFailureResult, so the handler reports exactly one of them for
every job it can identify, including when its input is garbage or the code itself crashes.

Inputs it understands (docs/pipelines.md "CodePipeline"):
- blue/green (CodeDeployToECS): `taskdef.json` with `<IMAGE1_NAME>` placeholders, `imageDetail.json`
  ({"ImageURI": ...}) from an image artifact, and `appspec.yaml`;
- the standard ECS deploy action: only `imagedefinitions.json`. ECS will register a copy of the
  service's current task definition with the new images, so that copy is what is gated:
  DescribeServices -> DescribeTaskDefinition, images swapped by container name.

The event holds temporary artifact credentials: it is never logged, and every message that leaves
the handler has those secrets scrubbed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import struct
import traceback
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from ecs_admission.config import ConfigError, Settings
from ecs_admission.decision import Decision
from ecs_admission.errors import EngineError, InputError
from ecs_admission.gate import Gate, build_gate
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.inputs.parse import parse_json, parse_yaml
from ecs_admission.integrations.codepipeline_config import PipelineSettings
from ecs_admission.integrations.gate_client import GateClient, GateError

LOG = logging.getLogger("ecs_admission.codepipeline")

MESSAGE_LIMIT = 5000  # FailureDetails.message: 1-5000 characters
SUMMARY_LIMIT = 2048  # ExecutionDetails.summary
MAX_ARTIFACT_BYTES = 50 * 1024 * 1024  # a zip larger than this is not a deploy artifact
# All input artifacts together, and the entries of one: the Lambda has 512 MB, and zipfile keeps
# every entry of the central directory in memory (two 48 MB artifacts of 560,000 entries peaked at
# 780 MB and no job result was sent). A deploy artifact holds a handful of files.
MAX_TOTAL_ARTIFACT_BYTES = 100 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_FILE_BYTES = 1024 * 1024  # a member we read; imagedefinitions.json itself is capped at 100 KB
PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z0-9_]*)>")
APPSPEC_NAMES = ("appspec.yaml", "appspec.yml", "appspec.json")
S3_CONFIG = Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"})


class JobFailure(Exception):
    """Stop and report this job failed, with a CodePipeline FailureDetails type."""

    def __init__(self, message: str, kind: str = "JobFailed"):
        super().__init__(message)
        self.message = message
        self.kind = kind


@dataclass
class ActionConfig:
    """The action's UserParameters (a JSON object; every key optional)."""

    cluster: str | None = None
    service: str | None = None
    gate_url: str | None = None
    dry_run: bool = False
    task_definition_file: str = "taskdef.json"
    image_definitions_file: str = "imagedefinitions.json"
    # Placeholder name -> input artifact holding its imageDetail.json (CodeDeployToECS Image<N>ArtifactName).
    images: dict[str, str] = field(default_factory=dict)

    KEYS = {
        "cluster": "cluster",
        "service": "service",
        "gateUrl": "gate_url",
        "dryRun": "dry_run",
        "taskDefinitionFile": "task_definition_file",
        "imageDefinitionsFile": "image_definitions_file",
        "images": "images",
    }

    @classmethod
    def parse(cls, raw: Any) -> ActionConfig:
        if raw in (None, ""):
            return cls()
        if not isinstance(raw, str):
            raise JobFailure("UserParameters must be a JSON object in a string", "ConfigurationError")
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise JobFailure(f"UserParameters is not JSON: {exc}", "ConfigurationError") from None
        if not isinstance(document, dict):
            raise JobFailure("UserParameters must be a JSON object", "ConfigurationError")
        unknown = sorted(set(document) - set(cls.KEYS))
        if unknown:
            raise JobFailure(
                f"UserParameters has unknown key {unknown[0]!r}; known: {', '.join(cls.KEYS)}", "ConfigurationError"
            )
        values: dict[str, Any] = {}
        for key, attribute in cls.KEYS.items():
            if key not in document:
                continue
            value = document[key]
            expected: type | tuple[type, ...] = bool if key == "dryRun" else dict if key == "images" else str
            if not isinstance(value, expected) or (expected is str and not value):
                raise JobFailure(f"UserParameters {key} must be a non-empty {expected.__name__}", "ConfigurationError")
            values[attribute] = value
        images = values.get("images", {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in images.items()):
            raise JobFailure("UserParameters images maps placeholder names to artifact names", "ConfigurationError")
        values["images"] = {k.strip("<>"): v for k, v in images.items()}
        return cls(**values)


class Artifact:
    """One input artifact: a zip in S3, read with the job's temporary credentials.

    A name held by two members is refused: which of them CodeDeploy or ECS would deploy is not ours
    to guess, and judging one while another is deployed would let a privileged task through.
    """

    def __init__(self, name: str, archive: zipfile.ZipFile):
        self.name = name
        self.archive = archive
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.filename in self.members:
                raise JobFailure(
                    f"input artifact {name} holds more than one member named {info.filename[:200]!r}: "
                    "which one would be deployed is ambiguous, so the artifact is refused"
                )
            self.members[info.filename] = info

    def find(self, filename: str) -> str | None:
        """The member named `filename`: exactly, else the only one with that base name."""
        if filename in self.members:
            others = [name for name in self.members if name != filename and name.rsplit("/", 1)[-1] == filename]
            if others:
                raise JobFailure(self._ambiguous(filename, [filename, *others]))
            return filename
        matches = [name for name in self.members if name.rsplit("/", 1)[-1] == filename]
        if len(matches) > 1:
            raise JobFailure(self._ambiguous(filename, matches))
        return matches[0] if matches else None

    def _ambiguous(self, filename: str, names: list[str]) -> str:
        listed = ", ".join(sorted(names)[:5])
        return (
            f"input artifact {self.name} holds {len(names)} files named {filename} ({listed}): which one "
            "would be deployed is ambiguous; keep one, or name it with taskDefinitionFile in UserParameters"
        )

    def read(self, member: str) -> bytes:
        info = self.members[member]
        if info.file_size > MAX_FILE_BYTES:
            raise JobFailure(f"{self.name}/{member} is {info.file_size} bytes; the limit is {MAX_FILE_BYTES}")
        with self.archive.open(info) as handle:
            return handle.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]


def load_artifacts(job_data: dict[str, Any]) -> list[Artifact]:
    credentials = job_data["artifactCredentials"]
    s3 = boto3.client(
        "s3",
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
        config=S3_CONFIG,
    )
    artifacts = []
    total = 0
    for entry in job_data.get("inputArtifacts") or []:
        location = entry["location"]["s3Location"]
        name = entry.get("name") or location["objectKey"]
        response = s3.get_object(Bucket=location["bucketName"], Key=location["objectKey"])
        if response.get("ContentLength", 0) > MAX_ARTIFACT_BYTES:
            raise JobFailure(f"input artifact {name} is larger than {MAX_ARTIFACT_BYTES} bytes")
        body = response["Body"].read(MAX_ARTIFACT_BYTES + 1)
        total += len(body)
        if len(body) > MAX_ARTIFACT_BYTES:
            raise JobFailure(f"input artifact {name} is larger than {MAX_ARTIFACT_BYTES} bytes")
        if total > MAX_TOTAL_ARTIFACT_BYTES:
            raise JobFailure(f"the input artifacts hold more than {MAX_TOTAL_ARTIFACT_BYTES} bytes together")
        artifacts.append(Artifact(name, open_zip(name, body)))
    return artifacts


def zip_entries(body: bytes) -> int | None:
    """The entry count the zip's end-of-central-directory record declares (None if it has none).

    Read before zipfile builds an object per entry: that is where the memory goes. Zip64 (more than
    65,535 entries, or 4 GB) declares 0xFFFF here, which is over the limit anyway.
    """
    end = body.rfind(b"PK\x05\x06", max(0, len(body) - 22 - 65_535))
    if end < 0 or len(body) < end + 22:
        return None
    return struct.unpack("<H", body[end + 10 : end + 12])[0]


def open_zip(name: str, body: bytes) -> zipfile.ZipFile:
    entries = zip_entries(body)
    if entries is not None and entries > MAX_ENTRIES:
        raise JobFailure(f"input artifact {name} holds {entries} entries; a deploy artifact has {MAX_ENTRIES} at most")
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile:
        raise JobFailure(f"input artifact {name} is not a zip file") from None
    if len(archive.infolist()) > MAX_ENTRIES:  # a record that under-declared its entries
        raise JobFailure(f"input artifact {name} holds more than {MAX_ENTRIES} entries")
    return archive


def _first(artifacts: list[Artifact], filename: str) -> tuple[Artifact, str] | None:
    for artifact in artifacts:
        member = artifact.find(filename)
        if member:
            return artifact, member
    return None


def _parse(artifact: Artifact, member: str) -> Any:
    where = f"{artifact.name}/{member}"
    try:
        return parse_file_bytes(artifact.read(member), member)
    except InputError as exc:
        at = f" at {exc.field}" if exc.field else ""
        raise JobFailure(f"{where}{at}: {exc.problem}") from None


# ---- blue/green: taskdef.json + imageDetail.json + appspec.yaml ------------------------------------


def _image_uris(artifacts: list[Artifact], config: ActionConfig) -> dict[str, str]:
    """Placeholder name -> image URI, from each image artifact's imageDetail.json."""
    mapping = dict(config.images)
    if not mapping:
        found = _first(artifacts, "imageDetail.json")
        if found:
            mapping = {"IMAGE1_NAME": found[0].name}
    uris = {}
    by_name = {artifact.name: artifact for artifact in artifacts}
    for placeholder, artifact_name in mapping.items():
        artifact = by_name.get(artifact_name)
        member = artifact.find("imageDetail.json") if artifact else None
        if artifact is None or member is None:
            raise JobFailure(
                f"no imageDetail.json in input artifact {artifact_name!r} for <{placeholder}>", "ConfigurationError"
            )
        detail = _parse(artifact, member)
        uri = detail.get("ImageURI") if isinstance(detail, dict) else None
        if not isinstance(uri, str) or not uri:
            raise JobFailure(f"{artifact.name}/{member} has no ImageURI")
        uris[placeholder] = uri
    return uris


def _substitute_images(task_definition: dict[str, Any], uris: dict[str, str]) -> None:
    """Replace image placeholders as CodeDeployToECS does; an image still unknown cannot be judged."""
    containers = task_definition.get("containerDefinitions")
    if not isinstance(containers, list):
        return  # the gate's input validation names the problem
    unresolved = []
    for index, container in enumerate(containers):
        if not isinstance(container, dict) or not isinstance(container.get("image"), str):
            continue
        image = PLACEHOLDER_RE.sub(lambda m: uris.get(m.group(1), m.group(0)), container["image"])
        container["image"] = image
        unresolved += [f"/containerDefinitions/{index}/image <{name}>" for name in PLACEHOLDER_RE.findall(image)]
    if unresolved:
        raise JobFailure(
            "image placeholder(s) with no imageDetail.json among the input artifacts: "
            + ", ".join(unresolved)
            + "; add the image artifact to the action's inputs (and map it in UserParameters images)"
        )


def _check_appspec(artifacts: list[Artifact], task_definition: dict[str, Any]) -> None:
    """CodeDeploy fails late when the appspec names a container the task definition lacks: fail now."""
    found = next((f for f in (_first(artifacts, name) for name in APPSPEC_NAMES) if f), None)
    if found is None:
        return
    artifact, member = found
    raw = artifact.read(member)
    try:
        appspec = parse_json(raw) if member.endswith(".json") else parse_yaml(raw)
    except InputError as exc:
        raise JobFailure(f"{artifact.name}/{member}: {exc.problem}") from None
    names = {c.get("name") for c in task_definition.get("containerDefinitions") or [] if isinstance(c, dict)}
    resources = appspec.get("Resources") if isinstance(appspec, dict) else None
    for resource in resources if isinstance(resources, list) else []:
        for target in resource.values() if isinstance(resource, dict) else []:
            properties = target.get("Properties") if isinstance(target, dict) else None
            balancer = properties.get("LoadBalancerInfo") if isinstance(properties, dict) else None
            container = balancer.get("ContainerName") if isinstance(balancer, dict) else None
            if container is not None and container not in names:
                raise JobFailure(
                    f"{artifact.name}/{member} routes traffic to container {container!r}, which the task "
                    f"definition does not define (it has {', '.join(sorted(map(str, names)))})"
                )


def blue_green_task_definition(
    artifacts: list[Artifact], config: ActionConfig, found: tuple[Artifact, str]
) -> dict[str, Any]:
    document = _parse(*found)
    if not isinstance(document, dict):
        raise JobFailure(f"{found[0].name}/{found[1]} is not a task definition (expected a JSON object)")
    _substitute_images(document, _image_uris(artifacts, config))
    _check_appspec(artifacts, document)
    return document


# ---- standard ECS deploy: imagedefinitions.json + the service's current task definition ------------


def _image_definitions(artifact: Artifact, member: str) -> dict[str, str]:
    document = _parse(artifact, member)
    where = f"{artifact.name}/{member}"
    if not isinstance(document, list) or not document:
        raise JobFailure(f'{where} must be a non-empty list of {{"name", "imageUri"}}')
    images: dict[str, str] = {}
    for index, entry in enumerate(document):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("name", "imageUri")):
            raise JobFailure(f'{where}[{index}] must be {{"name": "<container>", "imageUri": "<image URI>"}}')
        images[entry["name"]] = entry["imageUri"]
    return images


def standard_task_definition(config: ActionConfig, found: tuple[Artifact, str]) -> dict[str, Any]:
    images = _image_definitions(*found)
    if not config.cluster or not config.service:
        raise JobFailure(
            "imagedefinitions.json needs the service it deploys to: set cluster and service in UserParameters",
            "ConfigurationError",
        )
    ecs = boto3.client("ecs")
    services = ecs.describe_services(cluster=config.cluster, services=[config.service])
    current = next((s for s in services.get("services", []) if s.get("status") != "INACTIVE"), None)
    if current is None:
        reason = next((f.get("reason") for f in services.get("failures", [])), "not found")
        raise JobFailure(f"service {config.service} in cluster {config.cluster}: {reason}", "ConfigurationError")
    described = ecs.describe_task_definition(taskDefinition=current["taskDefinition"], include=["TAGS"])
    task_definition = dict(described["taskDefinition"])
    if described.get("tags"):
        task_definition["tags"] = described["tags"]
    containers = {c.get("name"): c for c in task_definition.get("containerDefinitions", [])}
    missing = sorted(set(images) - set(containers))
    if missing:
        raise JobFailure(
            f"imagedefinitions.json names container(s) {', '.join(missing)} that {current['taskDefinition']} "
            f"does not define (it has {', '.join(sorted(map(str, containers)))})"
        )
    for name, uri in images.items():
        containers[name]["image"] = uri
    return task_definition


# ---- evaluation and reporting ----------------------------------------------------------------------

_gate: Gate | None = None


def _local_gate(settings: Settings) -> Gate:
    """Compile the policies once per Lambda container, not once per job."""
    global _gate
    if _gate is None:
        _gate = build_gate(settings)
    return _gate


def gate_client(
    config: ActionConfig, settings: Settings, pipeline: PipelineSettings | None = None
) -> GateClient | None:
    """The client of the gate to ask, or None to decide here with the packaged policies.

    UserParameters are edited by whoever can edit the pipeline, and the gate's answer decides the
    deploy, with the gate's bearer token attached: a gateUrl there other than the function's own
    (ECS_ADMISSION_GATE_URL) must name a host in ECS_ADMISSION_CODEPIPELINE_GATE_HOSTS. The token
    never goes over plain http except to loopback: the CLI's guard (token_over_plain_http), refused
    here rather than warned about, since no one reads a Lambda's warnings before the deploy.
    """
    gate_url = config.gate_url or settings.gate_url
    if not gate_url:
        return None
    try:
        client = GateClient(gate_url, token=settings.gate_token, timeout=settings.gate_timeout)
    except ValueError as exc:  # a gate URL that is not one
        raise JobFailure(f"gate URL: {exc}", "ConfigurationError") from None
    pipeline = pipeline or PipelineSettings.from_env()
    host = (client.host or "").lower()
    if config.gate_url and config.gate_url != settings.gate_url and host not in pipeline.gate_hosts:
        allowed = ", ".join(pipeline.gate_hosts) or "none"
        raise JobFailure(
            f"UserParameters gateUrl names host {host[:200]!r}, which this function does not send task definitions "
            f"and its token to (allowed: {allowed}); add it to ECS_ADMISSION_CODEPIPELINE_GATE_HOSTS "
            "(the stack's AllowedGateHosts) or remove gateUrl",
            "ConfigurationError",
        )
    if client.token_over_plain_http:
        scheme = urllib.parse.urlsplit(gate_url).scheme
        raise JobFailure(
            f"the gate URL for host {host[:200]!r} is {scheme}://: the function does not send its bearer token "
            "over plain http; use https",
            "ConfigurationError",
        )
    return client


def evaluate(envelope: dict[str, Any], config: ActionConfig, settings: Settings, source: str) -> Decision:
    try:
        client = gate_client(config, settings)
        if client is not None:
            return client.admit(json.dumps(envelope).encode(), "application/json", dry_run=config.dry_run)
        request = normalise(envelope)
        return _local_gate(settings).decide(request, dry_run=True if config.dry_run else None)
    except InputError as exc:
        # Point into the file the team wrote, not into the envelope built around it here.
        field = exc.field or ""
        field = field.removeprefix("/taskDefinition") if field.startswith("/taskDefinition/") else field
        at = f" at {field}" if field else ""
        raise JobFailure(f"{source}{at}: {exc.problem}") from None
    except EngineError as exc:
        raise JobFailure(f"the policy engine could not decide (failing closed): {exc.reason}") from None
    except GateError as exc:
        raise JobFailure(f"the gate could not decide (failing closed): {exc.reason}") from None


def denial_message(decision: Decision) -> str:
    """Every violated rule, one per line, within CodePipeline's 5,000 characters."""
    family = decision.task_definition.family or "?"
    head = f"ecs-admission denied {family}: {len(decision.violations)} violation(s), decision {decision.decision_id}"
    lines = [head]
    for finding in decision.violations:
        lines.append(
            f"- {finding.rule} [{finding.severity}] {finding.path}: {finding.message} Fix: {finding.remediation}"
        )
    return fit(lines, MESSAGE_LIMIT, decision.decision_id)


def fit(lines: list[str], limit: int, decision_id: str | None = None) -> str:
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    where = f"; decision {decision_id} in the gate's logs has them all" if decision_id else ""
    kept: list[str] = []
    for index, line in enumerate(lines):
        tail = f"\n... {len(lines) - index} more line(s){where}"
        candidate = "\n".join([*kept, line[:1000]])
        if len(candidate) + len(tail) > limit:
            return "\n".join(kept) + tail
        kept.append(line[:1000])
    return "\n".join(kept)[:limit]


def output_variables(decision: Decision) -> dict[str, str]:
    return {
        "decision_id": decision.decision_id,
        "allowed": str(decision.allowed).lower(),
        "violations": str(len(decision.violations)),
        "warnings": str(len(decision.warnings)),
        "mode": decision.mode,
        "family": decision.task_definition.family or "",
        "policy_revision": decision.revision,
    }


def gate_job(job: dict[str, Any], settings: Settings) -> Decision:
    """Everything between the event and the verdict; JobFailure for anything that stops the deploy."""
    data = job["data"]
    config = ActionConfig.parse(data.get("actionConfiguration", {}).get("configuration", {}).get("UserParameters"))
    artifacts = load_artifacts(data)
    if not artifacts:
        raise JobFailure("the action has no input artifacts: give it the build output", "ConfigurationError")
    context = {"account": job.get("accountId"), "region": os.environ.get("AWS_REGION")}
    if found := _first(artifacts, config.task_definition_file):
        task_definition = blue_green_task_definition(artifacts, config, found)
        source = f"{found[0].name}/{found[1]}"
    elif found := _first(artifacts, config.image_definitions_file):
        task_definition = standard_task_definition(config, found)
        source = f"the task definition of service {config.service} with {found[0].name}/{found[1]}"
    else:
        names = ", ".join(a.name for a in artifacts)
        raise JobFailure(
            f"no {config.task_definition_file} (blue/green) or {config.image_definitions_file} (ECS deploy) "
            f"in input artifact(s) {names}"
        )
    context.update({"cluster": config.cluster, "service": config.service})
    envelope = {"taskDefinition": task_definition, "context": {k: v for k, v in context.items() if v}}
    LOG.info("job %s: gating %s: %s", job.get("id"), task_definition.get("family"), source)
    return evaluate(envelope, config, settings, source)


def _secrets(event: Any) -> list[str]:
    try:
        credentials = event["CodePipeline.job"]["data"]["artifactCredentials"]
        return [v for v in credentials.values() if isinstance(v, str) and len(v) >= 8]
    except (KeyError, TypeError, AttributeError):
        return []


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point. Reports the job's result to CodePipeline, whatever happens."""
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    job_id = job.get("id") if isinstance(job, dict) else None
    if not isinstance(job_id, str) or not job_id:
        # Without a job id there is nothing to report to and no job left hanging.
        LOG.error("invoked without a CodePipeline.job id; not a CodePipeline invocation")
        return {"reported": None}
    secrets = _secrets(event)
    codepipeline = boto3.client("codepipeline")
    try:
        settings = Settings.from_env()
        decision = gate_job(job, settings)
    except JobFailure as exc:
        return _fail(codepipeline, job_id, exc.kind, scrub(exc.message, secrets), None)
    except ConfigError as exc:
        return _fail(codepipeline, job_id, "ConfigurationError", f"Lambda configuration: {exc}", None)
    except Exception as exc:
        # Bad input or a bug must not leave the pipeline waiting 20 minutes: report, then log.
        detail = scrub(f"{type(exc).__name__}: {exc}", secrets)[:1000]
        LOG.error("job %s: crashed: %s", job_id, scrub(traceback.format_exc(), secrets))
        return _fail(codepipeline, job_id, "JobFailed", f"ecs-admission could not gate this job ({detail})", None)
    LOG.info(
        "job %s: decision %s allowed=%s enforced=%s violations=%s",
        job_id,
        decision.decision_id,
        decision.allowed,
        decision.enforced,
        ",".join(decision.rule_ids) or "none",
    )
    if decision.violations and decision.enforced:
        return _fail(codepipeline, job_id, "JobFailed", denial_message(decision), decision.decision_id)
    verdict = "allowed" if decision.allowed else "would be denied (dry-run)"
    summary = (
        f"ecs-admission: {decision.task_definition.family or '?'} {verdict}: {len(decision.violations)} violation(s), "
        f"{len(decision.warnings)} warning(s), decision {decision.decision_id}"
    )
    if decision.violations:
        summary += ": " + ", ".join(decision.rule_ids)
    codepipeline.put_job_success_result(
        jobId=job_id,
        executionDetails={
            "summary": summary[:SUMMARY_LIMIT],
            "externalExecutionId": decision.decision_id,
            "percentComplete": 100,
        },
        outputVariables=output_variables(decision),
    )
    return {"reported": "success", "decision_id": decision.decision_id}


def _fail(codepipeline: Any, job_id: str, kind: str, message: str, decision_id: str | None) -> dict[str, Any]:
    LOG.info("job %s: reporting failure (%s): %s", job_id, kind, message.splitlines()[0][:300])
    details: dict[str, str] = {"type": kind, "message": fit(message.splitlines() or ["failed"], MESSAGE_LIMIT)}
    if decision_id:
        details["externalExecutionId"] = decision_id
    codepipeline.put_job_failure_result(jobId=job_id, failureDetails=details)
    return {"reported": "failure", "type": kind, "decision_id": decision_id}
