"""The IAM policy evaluator against cases written from AWS's policy evaluation documentation.

Sources for the table: IAM User Guide "Policy evaluation logic" (explicit deny overrides, implicit
deny, permissions boundaries intersect), "IAM JSON policy elements: Action / NotAction / Resource /
NotResource" (case-insensitive actions, case-sensitive resources, wildcards within ARN segments,
the S3 `*/test/*` example), and "Condition" (conditions are reported, never assumed).
"""

from __future__ import annotations

import pytest

from ecs_admission.facts.evaluator import (
    ALLOWED,
    CONDITIONAL,
    DENIED,
    EXECUTION_BASELINE,
    Request,
    beyond_baseline,
    derive_permissions,
    evaluate,
    is_allowed,
)
from ecs_admission.facts.wildcards import resource_matches
from ecs_admission.iam.documents import normalise_policy_document

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
