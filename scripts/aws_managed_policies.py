"""Regenerate service/ecs_admission/facts/aws_managed_policies.json from moto's AWS managed-policy dump.

moto (a test dependency) ships every AWS managed policy as IAM publishes it (ListPolicies +
GetPolicyVersion of the default version: document, DefaultVersionId, CreateDate, UpdateDate).
The gate ships the few the permission rules reason about, so a role that names them is judged
without an IAM lookup. Run: .venv/bin/python scripts/aws_managed_policies.py
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from moto.iam.aws_managed_policies import aws_managed_policies_data

OUT = Path(__file__).resolve().parents[1] / "service/ecs_admission/facts/aws_managed_policies.json"

# Why each matters (docs/iam-facts-templates.md): administrator or near it (ECS-PERM-001), an
# escalation path (ECS-PERM-002/003/004), reads of every secret/parameter/key (ECS-PERM-005), or
# what execution and task roles commonly hold (ECS-PERM-006, the execution role's access).
NAMES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "ReadOnlyAccess",
    "AmazonECS_FullAccess",
    "AWSLambda_FullAccess",
    "AmazonEC2FullAccess",
    "AWSCloudFormationFullAccess",
    "AWSGlueConsoleFullAccess",
    "AWSDataPipeline_FullAccess",
    "AmazonS3FullAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonDynamoDBFullAccess",
    "AmazonSQSFullAccess",
    "AmazonSNSFullAccess",
    "SecretsManagerReadWrite",
    "AmazonSSMReadOnlyAccess",
    "AmazonSSMFullAccess",
    "AmazonSSMManagedInstanceCore",
    "AWSKeyManagementServicePowerUser",
    "AmazonECSTaskExecutionRolePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEC2ContainerRegistryPowerUser",
    "AmazonEC2ContainerRegistryFullAccess",
    "CloudWatchLogsFullAccess",
    "CloudWatchAgentServerPolicy",
    "CloudWatchFullAccess",
    "CloudWatchFullAccessV2",
    "CloudWatchLambdaInsightsExecutionRolePolicy",
    "AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess",
    "AWSAppMeshEnvoyAccess",
    "AmazonEC2ContainerServiceforEC2Role",
    "AmazonEC2ContainerServiceRole",
    "AmazonEC2ContainerServiceAutoscaleRole",
    "AWSCodeDeployRoleForECS",
)


def main() -> None:
    data = aws_managed_policies_data
    dump = json.loads(data) if isinstance(data, str) else data
    policies = {}
    for name in NAMES:
        entry = dump[name]
        policies[name] = {
            "path": entry["Path"],
            "version_id": entry["DefaultVersionId"],
            "created": entry["CreateDate"],
            "updated": entry["UpdateDate"],
            "document": entry["Document"],
        }
    body = {
        "source": f"moto {version('moto')} moto/iam/aws_managed_policies.py (IAM ListPolicies + GetPolicyVersion)",
        "policies": policies,
    }
    OUT.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    print(f"{OUT}: {len(policies)} policies")


if __name__ == "__main__":
    main()
