"""The IAM policy evaluator against cases written from AWS's policy evaluation documentation.

Sources for the table: IAM User Guide "Policy evaluation logic" (explicit deny overrides, implicit
deny, permissions boundaries intersect), "IAM JSON policy elements: Action / NotAction / Resource /
NotResource" (case-insensitive actions, case-sensitive resources, wildcards within ARN segments,
the S3 `*/test/*` example), and "Condition" (conditions are reported, never assumed).
"""

from __future__ import annotations

import datetime
import fnmatch
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_admission.config import Settings
from ecs_admission.facts.evaluator import (
    ALLOWED,
    CONDITIONAL,
    DENIED,
    EXECUTION_BASELINE,
    Request,
    _resource,
    action_matches,
    beyond_baseline,
    covers,
    derive_permissions,
    evaluate,
    intersects,
    is_allowed,
    resource_matches,
    tokens,
)
from ecs_admission.facts.needs import execution_needs, judge_access, needed_actions
from ecs_admission.gate import build_gate
from ecs_admission.iam.documents import normalise_policy_document
from ecs_admission.inputs import normalise

ACCOUNT = "111122223333"


def doc(*statements: dict) -> dict:
    return normalise_policy_document({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


BUCKET_OBJECT = "arn:aws:s3:::amzn-s3-demo-bucket/reports/q1.csv"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf"

# (id, identity policy statements, boundary statements or None, action, resource, expected)
TABLE = [
    ("implicit deny: nothing allows", [], None, "s3:GetObject", BUCKET_OBJECT, DENIED),
    (
        "allow exact action and resource",
        [allow("s3:GetObject", BUCKET_OBJECT)],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        ALLOWED,
    ),
    ("allow other action only", [allow("s3:PutObject", BUCKET_OBJECT)], None, "s3:GetObject", BUCKET_OBJECT, DENIED),
    (
        "allow prefix of a bucket",
        [allow("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/reports/*")],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        ALLOWED,
    ),
    (
        "allow another bucket",
        [allow("s3:GetObject", "arn:aws:s3:::other-bucket/*")],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    (
        "explicit deny overrides allow",
        [allow("s3:*"), deny("s3:GetObject")],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    (
        "deny on another resource leaves the allow",
        [allow("s3:*"), deny("s3:GetObject", "arn:aws:s3:::other/*")],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        ALLOWED,
    ),
    (
        "deny in a list statement among several",
        [allow(["s3:GetObject", "s3:PutObject"]), deny(["iam:*", "s3:Get*"])],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    (
        "NotAction with Allow grants everything else",
        [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        ALLOWED,
    ),
    (
        "NotAction with Allow does not grant the listed service",
        [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        None,
        "iam:CreateUser",
        f"arn:aws:iam::{ACCOUNT}:user/bob",
        DENIED,
    ),
    (
        "NotAction with Deny denies everything else",
        [allow("*"), {"Effect": "Deny", "NotAction": ["iam:Get*", "iam:List*"], "Resource": "*"}],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    (
        "NotAction with Deny leaves the listed actions",
        [allow("*"), {"Effect": "Deny", "NotAction": ["iam:Get*", "iam:List*"], "Resource": "*"}],
        None,
        "iam:ListRoles",
        "*",
        ALLOWED,
    ),
    (
        "NotResource with Allow excludes the listed resource",
        [{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    (
        "NotResource with Allow grants other resources",
        [{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}],
        None,
        "s3:GetObject",
        "arn:aws:s3:::other/x",
        ALLOWED,
    ),
    (
        "NotResource with Deny denies everything but the listed resource",
        [allow("s3:*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}],
        None,
        "s3:GetObject",
        "arn:aws:s3:::other/x",
        DENIED,
    ),
    (
        "action names are case-insensitive",
        [allow("S3:getobject", BUCKET_OBJECT)],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        ALLOWED,
    ),
    (
        "resource ARNs are case-sensitive",
        [allow("s3:GetObject", "arn:aws:s3:::AMZN-S3-DEMO-BUCKET/*")],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    ("service wildcard", [allow("iam:*")], None, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/x", ALLOWED),
    ("wildcard at the end of the action", [allow("iam:Pass*")], None, "iam:PassRole", "*", ALLOWED),
    ("wildcard inside the action", [allow("s3:*Object")], None, "s3:ListBucket", "arn:aws:s3:::b", DENIED),
    ("question mark is one character", [allow("iam:?assRole")], None, "iam:PassRole", "*", ALLOWED),
    ("question mark is exactly one character", [allow("iam:??assRole")], None, "iam:PassRole", "*", DENIED),
    ("star matches every action", [allow("*")], None, "kms:Decrypt", "*", ALLOWED),
    (
        "a statement without Resource matches nothing",
        [{"Effect": "Allow", "Action": "*"}],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    (
        "allow under a condition is conditional",
        [allow("s3:GetObject", Condition={"Bool": {"aws:SecureTransport": "true"}})],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        CONDITIONAL,
    ),
    (
        "a deny that might apply makes an allow conditional",
        [allow("s3:*"), deny("s3:GetObject", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}})],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        CONDITIONAL,
    ),
    (
        "an unconditional deny beats a conditional allow",
        [allow("s3:*", Condition={"Bool": {"aws:SecureTransport": "true"}}), deny("s3:*")],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    (
        "a conditional deny without any allow is still an implicit deny",
        [deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}})],
        None,
        "s3:GetObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    (
        "a policy variable in the resource is conditional",
        [allow("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/*")],
        None,
        "s3:GetObject",
        "arn:aws:s3:::amzn-s3-demo-bucket/alice/x",
        CONDITIONAL,
    ),
    (
        "boundary intersects: both allow",
        [allow("s3:*")],
        [allow("s3:GetObject")],
        "s3:GetObject",
        BUCKET_OBJECT,
        ALLOWED,
    ),
    (
        "boundary intersects: boundary lacks it",
        [allow("s3:*")],
        [allow("s3:GetObject")],
        "s3:PutObject",
        BUCKET_OBJECT,
        DENIED,
    ),
    ("boundary alone grants nothing", [], [allow("*")], "s3:GetObject", BUCKET_OBJECT, DENIED),
    ("deny in the boundary denies", [allow("*")], [allow("*"), deny("s3:*")], "s3:GetObject", BUCKET_OBJECT, DENIED),
    (
        "conditional boundary makes it conditional",
        [allow("*")],
        [allow("*", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})],
        "s3:GetObject",
        BUCKET_OBJECT,
        CONDITIONAL,
    ),
]


@pytest.mark.parametrize(
    ("identity", "boundary", "action", "resource", "expected"), [case[1:] for case in TABLE], ids=[c[0] for c in TABLE]
)
def test_policy_evaluation_table(identity, boundary, action, resource, expected):
    documents = [doc(*identity)] if identity else []
    bound = doc(*boundary) if boundary is not None else None
    assert is_allowed(documents, action, resource, bound) == expected


def test_statements_split_over_several_documents():
    documents = [doc(allow("s3:*")), doc(deny("s3:GetObject", BUCKET_OBJECT))]
    assert is_allowed(documents, "s3:GetObject", BUCKET_OBJECT) == DENIED
    assert is_allowed(documents, "s3:PutObject", BUCKET_OBJECT) == ALLOWED


def test_single_statement_object_and_string_values_are_accepted():
    document = normalise_policy_document(
        {"Statement": {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SECRET}}
    )
    assert is_allowed([document], "secretsmanager:GetSecretValue", SECRET) == ALLOWED


# -- ARN wildcards -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        "amzn-s3-demo-bucket/1/test/object.jpg",
        "amzn-s3-demo-bucket/1/2/test/object.jpg",
        "amzn-s3-demo-bucket/1/2/test/3/object.jpg",
        "amzn-s3-demo-bucket/1///test///object.jpg",
        "amzn-s3-demo-bucket/1/test/.jpg",
        "amzn-s3-demo-bucket//test/object.jpg",
        "amzn-s3-demo-bucket/1/test/",
    ],
)
def test_iam_user_guide_s3_wildcard_example_matches(obj):
    assert resource_matches("arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", f"arn:aws:s3:::{obj}")


@pytest.mark.parametrize("obj", ["amzn-s3-demo-bucket/1-test/object.jpg", "amzn-s3-demo-bucket/test/object.jpg"])
def test_iam_user_guide_s3_wildcard_example_does_not_match(obj):
    assert not resource_matches("arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", f"arn:aws:s3:::{obj}")


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("*", "arn:aws:iam::111122223333:role/x", True),
        ("arn:aws:iam::*:role/x", "arn:aws:iam::111122223333:role/x", True),
        ("arn:aws:s3:::example?bucket/*", "arn:aws:s3:::example1bucket/a", True),
        ("arn:aws:s3:::example?bucket/*", "arn:aws:s3:::example12bucket/a", False),
        # A star that ends its segment expands across the colons that follow it.
        ("arn:aws:logs:*:*:*", "arn:aws:logs:us-east-1:1:log-group:/ecs/web:log-stream:ecs/web/1", True),
        (
            "arn:aws:logs:us-east-1:1:log-group:/ecs/web:*",
            "arn:aws:logs:us-east-1:1:log-group:/ecs/web:log-stream:a",
            True,
        ),
        # A star inside a segment stays inside it.
        ("arn:aws:secretsmanager:us-east-1:1:secret:db*Ef", "arn:aws:secretsmanager:us-east-1:1:secret:db:x:Ef", False),
        (
            "arn:aws:secretsmanager:us-east-1:1:secret:db*Ef",
            "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf",
            True,
        ),
        # A question mark is one character, never the colon between segments.
        ("arn:aws:ssm:us-east-1:1:parameter/a?b", "arn:aws:ssm:us-east-1:1:parameter/a:b", False),
        ("arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:role/app2", False),
    ],
)
def test_resource_wildcards(pattern, resource, expected):
    assert resource_matches(pattern, resource) is expected


# -- requests about sets ------------------------------------------------------------------------


def test_every_member_of_a_set_must_be_allowed():
    streams = "arn:aws:logs:us-east-1:1:log-group:/ecs/web:log-stream:ecs/web/*"
    request = Request("logs:PutLogEvents", streams, resource_is_pattern=True)
    group = doc(allow("logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:/ecs/web:*"))
    one_stream = doc(allow("logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:/ecs/web:log-stream:ecs/web/abc"))
    assert evaluate([group], request).decision == ALLOWED
    assert evaluate([one_stream], request).decision == DENIED
    # A deny on one member denies the set.
    assert evaluate([group, doc(deny("logs:*", streams[:-1] + "abc"))], request).decision == DENIED


def test_some_member_request_is_conditional_when_only_part_is_allowed():
    partial = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-??????"
    request = Request("secretsmanager:GetSecretValue", partial, resource_is_pattern=True, mode="some")
    assert evaluate([doc(allow("secretsmanager:GetSecretValue", "*"))], request).decision == ALLOWED
    assert evaluate([doc(allow("secretsmanager:GetSecretValue", SECRET))], request).decision == CONDITIONAL
    assert evaluate([doc(allow("secretsmanager:GetSecretValue", SECRET + "x"))], request).decision == DENIED


# -- derived facts --------------------------------------------------------------------------------


def test_admin_equivalent():
    assert derive_permissions([doc(allow("*"))], None)["admin_equivalent"]
    assert derive_permissions([doc(allow("iam:*"))], None)["admin_equivalent"]
    # A deny on one bucket does not make an administrator less of one.
    assert derive_permissions([doc(allow("*"), deny("s3:DeleteBucket", "arn:aws:s3:::prod"))], None)["admin_equivalent"]
    assert not derive_permissions([doc(allow("*"), deny("*"))], None)["admin_equivalent"]
    assert not derive_permissions([doc(allow("s3:*"))], None)["admin_equivalent"]
    assert not derive_permissions([doc(allow("*", "arn:aws:s3:::bucket/*"))], None)["admin_equivalent"]
    assert not derive_permissions([doc(allow("*"))], doc(allow("s3:*")))["admin_equivalent"]


def _paths(*statements, boundary=None):
    return {p["id"] for p in derive_permissions([doc(*statements)], boundary)["escalation_paths"]}


def test_escalation_paths():
    ecs = allow(["iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"], "*")
    assert _paths(ecs) == {"PassExistingRoleToNewECSTaskViaRunTask"}
    assert "PutRolePolicy" in _paths(allow("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/*"))
    assert _paths(allow("iam:PassRole")) == set()
    assert "UpdateRolePolicyToAssumeIt" not in _paths(allow("iam:UpdateAssumeRolePolicy"))
    assert "UpdateRolePolicyToAssumeIt" in _paths(allow(["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"]))
    assert "AttachRolePolicy" in _paths(allow("iam:*"))
    assert _paths(allow("iam:*"), deny("iam:*")) == set()
    assert _paths(allow("*"), boundary=doc(allow("s3:*"))) == set()


def test_conditional_escalation_is_reported_and_marked():
    statement = allow(
        ["iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:CreateService"],
        Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
    )
    paths = derive_permissions([doc(statement)], None)["escalation_paths"]
    assert [p["id"] for p in paths] == ["PassExistingRoleToNewECSService"]
    assert "condition" in paths[0]["description"]


def test_passrole_and_assumerole_on_any():
    assert derive_permissions([doc(allow("iam:PassRole"))], None)["passrole_any"]
    assert derive_permissions([doc(allow("iam:*"))], None)["passrole_any"]
    assert not derive_permissions([doc(allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/app"))], None)[
        "passrole_any"
    ]
    # The documented mitigation for PassRole on * is the iam:PassedToService condition.
    passed_to = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert not derive_permissions([doc(allow("iam:PassRole", Condition=passed_to))], None)["passrole_any"]
    assert derive_permissions([doc(allow("sts:AssumeRole"))], None)["assumerole_any"]
    assert not derive_permissions([doc(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/x"))], None)[
        "assumerole_any"
    ]


def test_wildcard_data_access():
    permissions = derive_permissions(
        [doc(allow(["secretsmanager:GetSecretValue", "kms:Decrypt"]), allow("ssm:GetParameters", "arn:aws:ssm:*:*:*"))],
        None,
        region="us-east-1",
        account=ACCOUNT,
    )
    assert permissions["wildcard_data_access"] == [
        {"action": "secretsmanager:GetSecretValue", "resource": "*"},
        {"action": "kms:Decrypt", "resource": "*"},
        {"action": "ssm:GetParameters", "resource": "arn:aws:ssm:*:*:*"},
    ]
    scoped = derive_permissions(
        [doc(allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-*"))], None
    )
    assert scoped["wildcard_data_access"] == []


def test_beyond_execution_baseline():
    managed = doc(allow(list(EXECUTION_BASELINE)))
    assert beyond_baseline([managed], None, EXECUTION_BASELINE) == []
    broad = doc(allow(list(EXECUTION_BASELINE)), allow(["s3:*", "secretsmanager:GetSecretValue"]))
    assert beyond_baseline([broad], None, EXECUTION_BASELINE) == ["s3:*", "secretsmanager:GetSecretValue"]
    needed = [*EXECUTION_BASELINE, "secretsmanager:GetSecretValue"]
    assert beyond_baseline([broad], None, needed) == ["s3:*"]
    # A boundary that removes the extra grant leaves nothing beyond the baseline.
    assert beyond_baseline([broad], doc(allow(needed)), needed) == []
    assert beyond_baseline([doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})], None, needed) == [
        "NotAction iam:*"
    ]


# -- wildcard matching properties ---------------------------------------------------------------

ALPHABET = "ab/-"
WILD = ALPHABET + "*?"


def fnmatch_reference(pattern: str, text: str, ignore_case: bool) -> bool:
    # fnmatch also knows [...] classes; the alphabets here never contain "[".
    return re.fullmatch(fnmatch.translate(pattern), text, re.IGNORECASE if ignore_case else 0) is not None


def segment_reference(pattern: str, text: str) -> bool:
    """The IAM user guide's rule written as a regex: `*` ending a segment crosses colons."""
    parts = []
    for index, char in enumerate(pattern):
        if char == "*":
            nxt = pattern[index + 1 : index + 2]
            parts.append(".*" if nxt in ("", ":") else "[^:]*")
        elif char == "?":
            parts.append("[^:]")
        else:
            parts.append(re.escape(char))
    return re.fullmatch("".join(parts), text, re.DOTALL) is not None


@given(st.text(ALPHABET + ":", max_size=12), st.text(ALPHABET + ":", max_size=12))
def test_a_pattern_without_wildcards_matches_only_itself(pattern, text):
    assert resource_matches(pattern, text) is (pattern == text)
    assert action_matches(pattern, text) is (pattern.lower() == text.lower())


@given(st.text(ALPHABET + ":*?", max_size=20))
def test_star_matches_everything(text):
    assert resource_matches("*", text)
    assert action_matches("*", text)


@given(st.text(WILD, max_size=10), st.text(ALPHABET + "AB", max_size=12))
def test_matching_agrees_with_fnmatch_without_colons(pattern, text):
    assert resource_matches(pattern, text) is fnmatch_reference(pattern, text, ignore_case=False)
    assert action_matches(pattern, text) is fnmatch_reference(pattern, text, ignore_case=True)


@given(st.text(WILD + ":", max_size=10), st.text(ALPHABET + ":", max_size=12))
def test_resource_matching_agrees_with_the_segment_rule(pattern, text):
    assert resource_matches(pattern, text) is segment_reference(pattern, text)


@given(st.text(WILD + ":", max_size=8), st.text(ALPHABET + ":", max_size=10))
def test_intersection_with_a_literal_is_matching(pattern, text):
    assert intersects(_resource(pattern, True), _resource(text, False)) is resource_matches(pattern, text)


def _expand(pattern: str, rng: random.Random) -> str:
    out = []
    for index, char in enumerate(pattern):
        if char == "*":
            crosses = pattern[index + 1 : index + 2] in ("", ":")
            pool = ALPHABET + (":" if crosses else "")
            out.append("".join(rng.choice(pool) for _ in range(rng.randint(0, 3))))
        elif char == "?":
            out.append(rng.choice(ALPHABET))
        else:
            out.append(char)
    return "".join(out)


@settings(max_examples=200)
@given(st.text(WILD + ":", max_size=8), st.text(WILD + ":", max_size=8), st.integers(0, 2**32))
def test_covers_is_sound_and_intersects_finds_witnesses(outer, inner, seed):
    rng = random.Random(seed)
    outer_tokens, inner_tokens = _resource(outer, True), _resource(inner, True)
    samples = [_expand(inner, rng) for _ in range(5)]
    if covers(outer_tokens, inner_tokens):
        assert all(resource_matches(outer, sample) for sample in samples)
    if any(resource_matches(outer, sample) for sample in samples):
        assert intersects(outer_tokens, inner_tokens)
    assert intersects(outer_tokens, inner_tokens) is intersects(inner_tokens, outer_tokens)


def test_pathological_patterns_stay_fast():
    # Backtracking matchers take exponential time on these; the automaton is linear per state.
    pattern = "arn:aws:s3:::" + "*a" * 40 + "*b"
    assert not resource_matches(pattern, "arn:aws:s3:::" + "a" * 2000)
    assert tokens.cache_info().maxsize == 4096


# -- what the execution role must allow, and the caller-supplied path end to end ---------------

TASK = {
    "family": "payments",
    "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/payments-exec",
    "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/payments-task",
    "containerDefinitions": [
        {
            "name": "api",
            "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/payments-api:1.4.2",
            "secrets": [
                {"name": "DB", "valueFrom": f"{SECRET}:password::"},
                {"name": "TOKEN", "valueFrom": "/payments/token"},
                {"name": "KEY", "valueFrom": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api-key"},
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/payments",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs",
                },
            },
            "environmentFiles": [{"value": "arn:aws:s3:::payments-config/api.env", "type": "s3"}],
        },
        {
            "name": "sidecar",
            "image": "registry.example.com/agent:2",
            "repositoryCredentials": {"credentialsParameter": "registry-login"},
        },
    ],
}


def _needs():
    return {(n.purpose, n.action, n.resource, n.path) for n in execution_needs(TASK, "us-east-1", ACCOUNT)}


def test_execution_needs_cover_every_field_that_uses_the_role():
    repo = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/payments-api"
    streams = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/payments:log-stream:ecs/api/*"
    assert _needs() == {
        ("secret", "secretsmanager:GetSecretValue", SECRET, "/containerDefinitions/0/secrets/0/valueFrom"),
        (
            "parameter",
            "ssm:GetParameters",
            f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/payments/token",
            "/containerDefinitions/0/secrets/1/valueFrom",
        ),
        (
            "secret",
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api-key-??????",
            "/containerDefinitions/0/secrets/2/valueFrom",
        ),
        ("ecr-pull", "ecr:GetAuthorizationToken", "*", "/containerDefinitions/0/image"),
        ("ecr-pull", "ecr:BatchGetImage", repo, "/containerDefinitions/0/image"),
        ("ecr-pull", "ecr:GetDownloadUrlForLayer", repo, "/containerDefinitions/0/image"),
        ("logs", "logs:CreateLogStream", streams, "/containerDefinitions/0/logConfiguration/options/awslogs-group"),
        ("logs", "logs:PutLogEvents", streams, "/containerDefinitions/0/logConfiguration/options/awslogs-group"),
        (
            "environment-file",
            "s3:GetObject",
            "arn:aws:s3:::payments-config/api.env",
            "/containerDefinitions/0/environmentFiles/0/value",
        ),
        (
            "environment-file",
            "s3:GetBucketLocation",
            "arn:aws:s3:::payments-config",
            "/containerDefinitions/0/environmentFiles/0/value",
        ),
        (
            "private-registry",
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:registry-login-??????",
            "/containerDefinitions/1/repositoryCredentials/credentialsParameter",
        ),
    }


def test_needs_skip_placeholders_and_public_images():
    task = {"containerDefinitions": [{"name": "a", "image": "<IMAGE1_NAME>"}, {"name": "b", "image": "nginx:1.27"}]}
    assert execution_needs(task, "us-east-1", ACCOUNT) == []


def test_needs_skip_a_valuefrom_that_is_wholly_a_template_expression():
    # `ValueFrom: !Ref TokenSecretArn` (a parameter without a default): not a parameter named "${!Ref ...}".
    secrets = [{"name": "T", "valueFrom": "${!Ref TokenSecretArn}"}, {"name": "U", "valueFrom": "${!Sub arn:x}"}]
    assert execution_needs({"containerDefinitions": [{"name": "a", "secrets": secrets}]}, "us-east-1", ACCOUNT) == []


def test_needs_with_unknown_region_are_existential():
    task = {"containerDefinitions": [{"name": "a", "secrets": [{"name": "T", "valueFrom": "token"}]}]}
    (need,) = execution_needs(task, None, None)
    assert need.resource == "arn:aws:ssm:*:*:parameter/token" and need.mode == "some"
    exact = doc(allow("ssm:GetParameters", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/token"))
    assert judge_access([need], [exact], None)[0]["decision"] == CONDITIONAL


def test_needed_actions_add_kms_for_secrets():
    needs = execution_needs(TASK, "us-east-1", ACCOUNT)
    assert "kms:Decrypt" in needed_actions(needs)
    assert "kms:Decrypt" not in needed_actions([n for n in needs if n.purpose == "ecr-pull"])


EXECUTION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": list(EXECUTION_BASELINE), "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-*"],
        },
        {
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/payments/*",
        },
    ],
}


def test_caller_facts_get_permissions_and_access():
    body = {
        "taskDefinition": TASK,
        "roles": {
            TASK["executionRoleArn"]: {"policies": [EXECUTION_POLICY]},
            TASK["taskRoleArn"]: {"policies": [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]},
        },
        "context": {"account": ACCOUNT, "region": "us-east-1"},
    }
    gate = build_gate(Settings(iam_lookup="off"))
    roles = gate.input_document(normalise(body), now=datetime.datetime(2026, 1, 1))["task_roles"]
    execution, task = roles["executionRoleArn"], roles["taskRoleArn"]
    assert task["permissions"]["admin_equivalent"] is True and task["access"] is None
    decisions = {(a["purpose"], a["action"], a["path"]): a["decision"] for a in execution["access"]}
    assert (
        decisions[("secret", "secretsmanager:GetSecretValue", "/containerDefinitions/0/secrets/0/valueFrom")] == ALLOWED
    )
    assert decisions[("parameter", "ssm:GetParameters", "/containerDefinitions/0/secrets/1/valueFrom")] == ALLOWED
    assert (
        decisions[("secret", "secretsmanager:GetSecretValue", "/containerDefinitions/0/secrets/2/valueFrom")] == DENIED
    )
    assert (
        decisions[("logs", "logs:PutLogEvents", "/containerDefinitions/0/logConfiguration/options/awslogs-group")]
        == ALLOWED
    )
    assert decisions[("environment-file", "s3:GetObject", "/containerDefinitions/0/environmentFiles/0/value")] == DENIED
    permissions = execution["permissions"]
    assert permissions["admin_equivalent"] is False
    assert permissions["beyond_execution_baseline"] == []
    assert permissions["wildcard_data_access"] == []


def test_caller_facts_without_policies_leave_permissions_null():
    body = {"taskDefinition": TASK, "roles": {TASK["taskRoleArn"]: {"trustPolicy": {"Statement": []}}}}
    gate = build_gate(Settings(iam_lookup="off"))
    roles = gate.input_document(normalise(body), now=datetime.datetime(2026, 1, 1))["task_roles"]
    assert roles["taskRoleArn"]["permissions"] is None and roles["taskRoleArn"]["access"] is None
    assert roles["executionRoleArn"]["status"] == "unknown"
    assert "ECS_ADMISSION_IAM_LOOKUP=off" in roles["executionRoleArn"]["reason"]
