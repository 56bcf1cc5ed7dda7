"""What the ECS agent must do with the execution role before the task's containers start.

Each need names the action, the resource, and the JSON pointer of the task-definition field that
causes it, so a rule can say "/containerDefinitions/0/secrets/1/valueFrom needs
secretsmanager:GetSecretValue on ..., which the execution role does not grant". Sources: the ECS
developer guide pages on the task execution role, secrets (Secrets Manager and SSM Parameter
Store), private registry authentication, awslogs, and environment files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ecs_admission.facts.evaluator import Mode, PolicySet, Request, evaluate
from ecs_admission.iam.partitions import partition_of_region
from ecs_admission.inputs.shapes import PLACEHOLDER_RE

ECR_IMAGE_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+?)(?::[\w.-]+)?(?:@[\w:]+)?$"
)
# A full secret ARN ends in "-" and the six random characters Secrets Manager appends.
SECRET_SUFFIX_RE = re.compile(r"-[A-Za-z0-9]{6}$")
SECRETS_REFERENCE_PREFIX = "/aws/reference/secretsmanager/"
KMS_DECRYPT = "kms:Decrypt"


def _checkable(value: object) -> bool:
    """A value a need can be derived from: not a pipeline placeholder, not an unresolved template expression."""
    return isinstance(value, str) and not PLACEHOLDER_RE.search(value) and not value.startswith("!")


@dataclass(frozen=True)
class Need:
    purpose: str  # secret | parameter | ecr-pull | logs | environment-file | private-registry
    action: str
    resource: str
    path: str
    # The resource stands for a set (a wildcard the need covers), rather than one ARN.
    pattern: bool = False
    # "every": all of the set is needed; "some": one unknown member of it (a partial secret ARN).
    mode: Mode = "every"

    def key(self) -> tuple[str, str, str, str, bool, str]:
        """Every field, for a cache key (dataclasses.astuple copies deeply and costs ten times more)."""
        return (self.purpose, self.action, self.resource, self.path, self.pattern, self.mode)


def _secret_need(purpose: str, value: str, path: str, partition: str, region: str, account: str) -> Need | None:
    """A Secrets Manager reference: full or partial ARN (maybe with JSON-key/version suffixes), or a name."""
    if value.startswith("arn:"):
        parts = value.split(":")
        if len(parts) < 7 or parts[2] != "secretsmanager" or parts[5] != "secret":
            return None
        base = ":".join(parts[:7])  # drop json-key:version-stage:version-id
        name = parts[6]
    else:
        # A bare name is a secret in the task's own account and Region.
        name = value
        base = f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}"
    if SECRET_SUFFIX_RE.search(name) and value.startswith("arn:"):
        return Need(purpose, "secretsmanager:GetSecretValue", base, path, pattern="*" in base, mode=_mode(base))
    # A partial ARN names one secret whose random suffix is unknown.
    return Need(purpose, "secretsmanager:GetSecretValue", base + "-??????", path, pattern=True, mode="some")


def _mode(resource: str) -> Mode:
    # "*" stands in for an unknown Region or account: the need is one member of the set, not all.
    return "some" if "*" in resource else "every"


def _value_from_needs(value: str, path: str, partition: str, region: str, account: str) -> list[Need]:
    """A `valueFrom`: a Secrets Manager ARN, an SSM parameter ARN, or a parameter name."""
    if value.startswith("${!"):
        # Wholly a template expression decided at deploy time (ECS-TPL-001 says so): not even the
        # service it names is known, and reading it as a parameter name would invent a need.
        return []
    if value.startswith("arn:"):
        service = value.split(":")[2] if value.count(":") >= 2 else ""
        if service == "secretsmanager":
            need = _secret_need("secret", value, path, partition, region, account)
            return [need] if need else []
        if service == "ssm":
            return [Need("parameter", "ssm:GetParameters", value, path)]
        return []
    # A name (or /path/name) is an SSM parameter in the task's own account and Region.
    name = value if value.startswith("/") else "/" + value
    resource = f"arn:{partition}:ssm:{region}:{account}:parameter{name}"
    needs = [Need("parameter", "ssm:GetParameters", resource, path, pattern="*" in resource, mode=_mode(resource))]
    if name.startswith(SECRETS_REFERENCE_PREFIX):
        # An SSM reference to a Secrets Manager secret needs both reads.
        secret = _secret_need("secret", name[len(SECRETS_REFERENCE_PREFIX) :], path, partition, region, account)
        needs.extend([secret] if secret else [])
    return needs


def _ecr_needs(image: str, path: str) -> list[Need]:
    match = ECR_IMAGE_RE.match(image)
    if not match:
        return []
    partition = "aws-cn" if match["cn"] else partition_of_region(match["region"])
    repository = f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
    return [
        Need("ecr-pull", "ecr:GetAuthorizationToken", "*", path, pattern=True),
        Need("ecr-pull", "ecr:BatchGetImage", repository, path),
        Need("ecr-pull", "ecr:GetDownloadUrlForLayer", repository, path),
    ]


def _log_needs(container: dict[str, Any], index: int, partition: str, region: str, account: str) -> list[Need]:
    configuration = container.get("logConfiguration") or {}
    options = configuration.get("options") or {}
    group = options.get("awslogs-group")
    if configuration.get("logDriver") != "awslogs" or not _checkable(group):
        return []
    log_region = options.get("awslogs-region")
    log_region = log_region if _checkable(log_region) and log_region else region
    prefix, name = options.get("awslogs-stream-prefix"), container.get("name")
    # Streams are named prefix/container-name/task-id (or the container id without a prefix).
    stream = f"{prefix}/{name if _checkable(name) else '*'}/*" if _checkable(prefix) and prefix else "*"
    group_arn = f"arn:{partition}:logs:{log_region}:{account}:log-group:{group}"
    streams = f"{group_arn}:log-stream:{stream}"
    path = f"/containerDefinitions/{index}/logConfiguration/options/awslogs-group"
    mode = _mode(f"{log_region}:{account}")
    needs = [
        Need("logs", "logs:CreateLogStream", streams, path, pattern=True, mode=mode),
        Need("logs", "logs:PutLogEvents", streams, path, pattern=True, mode=mode),
    ]
    if str(options.get("awslogs-create-group", "")).lower() == "true":
        needs.append(Need("logs", "logs:CreateLogGroup", f"{group_arn}:*", path, pattern=True, mode=mode))
    return needs


def _environment_file_needs(value: str, path: str) -> list[Need]:
    match = re.match(r"^arn:(aws[\w-]*):s3:::([^/]+)/.+$", value)
    if not match:
        return []
    return [
        Need("environment-file", "s3:GetObject", value, path),
        Need("environment-file", "s3:GetBucketLocation", f"arn:{match[1]}:s3:::{match[2]}", path),
    ]


def execution_needs(
    task_definition: dict[str, Any], region: str | None, account: str | None, partition: str = "aws"
) -> list[Need]:
    """Every permission the agent needs from the execution role for this task definition.

    An unknown Region or account becomes "*", and the need is then "some member of the set".
    Fields still holding pipeline placeholders (<IMAGE1_NAME>) are skipped: there is nothing to check yet.
    """
    region_part, account_part = region or "*", account or "*"
    needs: list[Need] = []
    for index, container in enumerate(task_definition.get("containerDefinitions") or []):
        if not isinstance(container, dict):
            continue
        prefix = f"/containerDefinitions/{index}"
        for j, secret in enumerate(container.get("secrets") or []):
            value = secret.get("valueFrom")
            if _checkable(value):
                where = f"{prefix}/secrets/{j}/valueFrom"
                needs += _value_from_needs(value, where, partition, region_part, account_part)
        log_configuration = container.get("logConfiguration") or {}
        for j, secret in enumerate(log_configuration.get("secretOptions") or []):
            value = secret.get("valueFrom")
            if _checkable(value):
                where = f"{prefix}/logConfiguration/secretOptions/{j}/valueFrom"
                needs += _value_from_needs(value, where, partition, region_part, account_part)
        credentials = (container.get("repositoryCredentials") or {}).get("credentialsParameter")
        if _checkable(credentials):
            where = f"{prefix}/repositoryCredentials/credentialsParameter"
            need = _secret_need("private-registry", credentials, where, partition, region_part, account_part)
            needs += [need] if need else []
        image = container.get("image")
        if _checkable(image):
            needs += _ecr_needs(image, f"{prefix}/image")
        needs += _log_needs(container, index, partition, region_part, account_part)
        for j, environment_file in enumerate(container.get("environmentFiles") or []):
            value = environment_file.get("value")
            if _checkable(value) and environment_file.get("type", "s3") == "s3":
                needs += _environment_file_needs(value, f"{prefix}/environmentFiles/{j}/value")
    return needs


def needed_actions(needs: list[Need]) -> list[str]:
    """The actions the needs use, plus kms:Decrypt when secrets are read (customer-managed keys)."""
    actions = sorted({need.action for need in needs})
    if any(need.purpose in ("secret", "parameter", "private-registry") for need in needs):
        actions.append(KMS_DECRYPT)
    return actions


def judge_access(
    needs: list[Need], documents: list[dict[str, Any]], boundary: dict[str, Any] | None
) -> list[dict[str, str]]:
    """The `access` list: each need with the execution role's decision on it."""
    identity = PolicySet(documents)
    bound = PolicySet([boundary]) if boundary is not None else None
    result = []
    for need in needs:
        request = Request(need.action, need.resource, resource_is_pattern=need.pattern, mode=need.mode)
        result.append(
            {
                "purpose": need.purpose,
                "action": need.action,
                "resource": need.resource,
                "path": need.path,
                "decision": evaluate(identity, request, bound).decision,
            }
        )
    return result
