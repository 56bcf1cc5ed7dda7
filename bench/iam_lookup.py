"""Cost of a cold and a warm (cached) IAM role lookup, against moto's server on 127.0.0.1.

    python bench/iam_lookup.py [--rounds 20]

Starts moto (MOTO_IAM_LOAD_MANAGED_POLICIES=true), creates an execution role with an AWS-managed,
a customer-managed and an inline policy plus a permissions boundary, then times:

- client creation: the first boto3 IAM and STS clients of a worker (paid once per worker);
- cold lookup: a fresh cache with clients already made (GetCallerIdentity once, then GetRole,
  ListAttachedRolePolicies, GetPolicy+GetPolicyVersion per managed policy and the boundary,
  ListRolePolicies, GetRolePolicy);
- warm lookup: the same role from the per-worker cache.

Moto answers on loopback, so the cold numbers are a floor: against IAM itself each call adds a
network round trip (typically tens of milliseconds). Prints medians; no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")

import boto3
from moto.server import ThreadedMotoServer

from ecs_admission.config import Settings
from ecs_admission.facts.iam import IamLookup

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def policy(action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def seed(endpoint: str) -> str:
    iam = boto3.client("iam", endpoint_url=endpoint)
    boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=policy("*"))["Policy"]["Arn"]
    arn = iam.create_role(RoleName="exec", AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary=boundary)[
        "Role"
    ]["Arn"]
    iam.attach_role_policy(
        RoleName="exec", PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    )
    custom = iam.create_policy(PolicyName="secrets", PolicyDocument=policy("secretsmanager:GetSecretValue"))["Policy"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName="exec", PolicyArn=custom)
    iam.put_role_policy(RoleName="exec", PolicyName="inline", PolicyDocument=policy("s3:GetObject"))
    return arn


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    arn = seed(os.environ["AWS_ENDPOINT_URL"])
    settings = Settings(iam_lookup="on")

    started = time.perf_counter()
    lookup = IamLookup(settings)
    lookup.client("iam"), lookup.client("sts")
    clients = time.perf_counter() - started
    lookup.lookup([arn], lookup.deadline())  # warm moto itself (first-request costs on the server side)

    cold, warm = [], []
    for _ in range(args.rounds):
        fresh = IamLookup(settings)
        fresh._clients = lookup._clients  # clients exist already: measure the lookup, not client creation
        started = time.perf_counter()
        facts = fresh.lookup([arn], fresh.deadline())[arn]
        cold.append(time.perf_counter() - started)
        assert facts["status"] == "known", facts
        for _ in range(20):
            started = time.perf_counter()
            fresh.lookup([arn], fresh.deadline())
            warm.append(time.perf_counter() - started)
    # The whole decision with lookups on: cold (new gate, first request) and warm (cached role).
    from ecs_admission.gate import build_gate
    from ecs_admission.inputs import normalise

    request = normalise({"executionRoleArn": arn, "containerDefinitions": [{"name": "a", "image": "nginx"}]})
    gate = build_gate(settings)
    decisions = [gate.decide(request) for _ in range(args.rounds)]
    server.stop()
    first, rest = decisions[0], decisions[1:]
    print(f"decide(), first request of a worker: {first.duration_ms:.2f} ms (iam {first.timings_ms['iam']:.2f} ms)")
    warm_decide = statistics.median(d.duration_ms for d in rest)
    warm_iam = statistics.median(d.timings_ms["iam"] for d in rest)
    print(f"decide(), warm, median of {len(rest)}: {warm_decide:.2f} ms (iam facts and judging {warm_iam:.2f} ms)")
    print(f"client creation (once per worker): {ms(clients)}")
    print(f"cold lookup (GetCallerIdentity + 10 IAM reads), median of {len(cold)}: {ms(statistics.median(cold))}")
    print(f"warm lookup (cache hit), median of {len(warm)}: {ms(statistics.median(warm))}")


if __name__ == "__main__":
    main()
