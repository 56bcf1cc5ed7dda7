"""Role facts from a warm IAM cache: the roles created in moto's IAM and the server's cache warmed."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

ROLE_NAME_RE = re.compile(r"[^\w+=,.@-]")


@contextlib.contextmanager
def moto_iam(envelopes: list[dict[str, Any]]) -> Iterator[tuple[dict[str, str], list[dict[str, Any]]]]:
    """moto's IAM on 127.0.0.1 holding the envelopes' roles; yields the server's environment and the
    envelopes without inline roles, their role ARNs moved into moto's account (a lookup never
    crosses accounts)."""
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        iam = session.client("iam", endpoint_url=aws["AWS_ENDPOINT_URL"])
        account = session.client("sts", endpoint_url=aws["AWS_ENDPOINT_URL"]).get_caller_identity()["Account"]
        created: dict[str, str] = {}
        looked_up = []
        for envelope in envelopes:
            task = dict(envelope["taskDefinition"])
            for field in ("taskRoleArn", "executionRoleArn"):
                arn = task.get(field)
                facts = envelope["roles"].get(arn) if isinstance(arn, str) else None
                if facts is None:
                    continue
                name = ROLE_NAME_RE.sub("-", arn.rsplit("/", 1)[-1])[:64]
                if name not in created:
                    created[name] = iam.create_role(
                        RoleName=name, AssumeRolePolicyDocument=json.dumps(facts["trustPolicy"])
                    )["Role"]["Arn"]
                    for index, document in enumerate(facts["policies"]):
                        iam.put_role_policy(
                            RoleName=name, PolicyName=f"inline-{index}", PolicyDocument=json.dumps(document)
                        )
                task[field] = created[name]
            looked_up.append(
                {
                    **envelope,
                    "taskDefinition": task,
                    "roles": {},
                    "context": {"account": account, "region": "us-east-1"},
                }
            )
        env = {**aws, "ECS_ADMISSION_IAM_LOOKUP": "on", "ECS_ADMISSION_IAM_CACHE_TTL": "3600"}
        yield env, looked_up
    finally:
        moto.stop()


def iam_cache_misses(port: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("ecs_admission_iam_cache_misses_total")
    )


def warm_iam_cache(port: int, bodies: list[bytes], rounds: int = 20) -> None:
    """Post every body several times from 8 concurrent clients until a whole pass looks nothing up.

    Each worker keeps its own cache and the kernel picks which one accepts a connection; only
    concurrent requests keep every worker busy enough to see every body (one request at a time
    tends to land on the same worker again)."""

    def post(body: bytes) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/v1/admit?dry_run=true", body=body, headers={"Content-Type": "application/json"})
        connection.getresponse().read()
        connection.close()

    with ThreadPoolExecutor(8) as pool:
        for _ in range(rounds):
            before = iam_cache_misses(port)
            list(pool.map(post, bodies * 8))
            if iam_cache_misses(port) == before:
                return
    print("bench: warning: the IAM cache was still missing after the warm-up; cache numbers include lookups")
