"""A small IAM policy evaluator: may these identity policies (within this boundary) do A on R?

Why Python rather than Rego functions: the answers need glob containment and intersection
(does `arn:aws:logs:*:*:log-group:/ecs/*` cover every stream the agent will write?), which is a
memoised automaton walk, which Rego, without loops or memoisation, would express poorly and
slowly. Here it is one module with one test table, and the Rego rules read only its answers
(`permissions`, `access`) as facts; facts/judge.py judges each distinct role content once.

Semantics (AWS "Policy evaluation logic" for identity-based policies and permissions boundaries):

- An explicit Deny wins; otherwise an Allow is needed; otherwise the request is implicitly denied.
- A permissions boundary intersects: a request is allowed only if the identity policies and the
  boundary both allow it; a Deny in either denies.
- `Action`/`NotAction` match case-insensitively with `*` and `?`; `Resource`/`NotResource` match
  case-sensitively with `*` and `?` inside an ARN segment. Per the IAM user guide a `*` that is
  the last character of a segment may expand across the colons that follow; any other `*`, and
  every `?`, stays within its segment.
- A statement with a `Condition` (or a policy variable such as `${aws:username}` in its resource)
  applies only sometimes: an Allow that needs it makes the answer `conditional`, and so does a
  Deny that might apply. Conditions are never assumed true or ignored.
- A statement without `Resource` or `NotResource` is invalid in an identity policy (IAM refuses to
  store it), so it matches nothing.

A request names an action and a resource, each either a concrete string or a pattern standing
for a set (`*` for "every resource", `arn:...:log-stream:ecs/web/*` for every stream of a
container). `mode` says what is asked of the set: see `Request`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ecs_admission.facts.wildcards import Token, action_tokens, charge_work, covers, intersects, resource_tokens

ALLOWED, DENIED, CONDITIONAL = "allowed", "denied", "conditional"
Decision = Literal["allowed", "denied", "conditional"]

# every: the request is allowed only if every member of the set is (a concrete string is a set of one).
# some: an existential need (one unknown member, e.g. a secret named by partial ARN): allowed when
#       every member is, conditional when only some could be.
# power_all / power_some: "does the policy grant this power on every / on some resource?" A Deny
#       removes a power only if it covers the whole of it (a Deny on one bucket leaves `*` on `*`
#       an administrator).
Mode = Literal["every", "some", "power_all", "power_some"]

_VARIABLE_RE = re.compile(r"\$\{[^}]*\}")

# ---------------------------------------------------------------------------------------------
# Statements and requests
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    # Whether the action / resource strings are patterns standing for sets (else literal strings).
    action_is_pattern: bool = False
    resource_is_pattern: bool = False
    mode: Mode = "every"


@dataclass(frozen=True)
class StatementMatch:
    """How one statement relates to a request: covers all of it, touches some of it, or neither."""

    effect: str
    covers: bool
    touches: bool
    conditional: bool
    statement: dict[str, Any]


def _service(text: str, fold: bool) -> str | None:
    """The literal `service` of `service:...` (None when a wildcard comes first): an index key."""
    head, colon, _ = text.partition(":")
    if not colon or "*" in head or "?" in head:
        return None
    return head.lower() if fold else head


class _Patterns:
    """One Action/Resource list, compiled once: a set of literal entries and wildcard entries by service.

    A pattern whose service is literal can only match strings of that service, so a probe looks at
    that service's entries and the few whose service is a wildcard; managed policies such as
    ReadOnlyAccess (thousands of actions) stay cheap to ask.
    """

    def __init__(self, patterns: list[str], tokenise: Callable[[str, bool], tuple[Token, ...]], fold: bool):
        charge_work(sum(len(text) for text in patterns))  # tokenising is work too: a character a step
        self.fold = fold
        self.literals = {p.lower() if fold else p for p in patterns if "*" not in p and "?" not in p}
        self.by_service: dict[str | None, list[tuple[Token, ...]]] = {}
        for text in patterns:
            self.by_service.setdefault(_service(text, fold), []).append(tokenise(text, True))

    def _candidates(self, subject_text: str) -> Iterable[tuple[Token, ...]]:
        key = _service(subject_text, self.fold)
        if key is None:
            return [p for group in self.by_service.values() for p in group]
        return [*self.by_service.get(key, []), *self.by_service.get(None, [])]

    def covers(self, text: str, subject: tuple[Token, ...], literal: bool) -> bool:
        if literal and (text.lower() if self.fold else text) in self.literals:
            return True
        return any(covers(p, subject) for p in self._candidates(text))

    def touches(self, text: str, subject: tuple[Token, ...], literal: bool) -> bool:
        if literal:
            return self.covers(text, subject, literal)
        return any(intersects(p, subject) for p in self._candidates(text))


@dataclass
class _Statement:
    statement: dict[str, Any]
    effect: str
    conditional: bool
    action: tuple[_Patterns | None, bool]  # (patterns, negated)
    resource: tuple[_Patterns | None, bool]


def _element(statement: dict[str, Any], positive: str, negative: str, tokenise: Any, fold: bool) -> Any:
    if positive in statement:
        return _Patterns(statement[positive], tokenise, fold), False
    if negative in statement:
        return _Patterns(statement[negative], tokenise, fold), True
    return None, False


def _compile(statement: dict[str, Any]) -> _Statement:
    conditional = "Condition" in statement
    matched = statement
    resources = statement.get("Resource")
    if resources is not None and any("${" in r for r in resources):
        # A policy variable makes the resource depend on the request context: match it as a
        # wildcard and report the statement as conditional.
        matched = {**statement, "Resource": [_VARIABLE_RE.sub("*", r) for r in resources]}
        conditional = True
    return _Statement(
        statement=statement,
        effect=statement["Effect"],
        conditional=conditional,
        action=_element(statement, "Action", "NotAction", action_tokens, True),
        resource=_element(matched, "Resource", "NotResource", resource_tokens, False),
    )


class PolicySet:
    """Normalised policy documents compiled for repeated questions (one per role and request)."""

    def __init__(self, documents: Iterable[dict[str, Any] | None]):
        self.statements = [_compile(s) for doc in documents if doc for s in doc.get("Statement", [])]


def _element_match(
    element: tuple[_Patterns | None, bool], text: str, subject: tuple[Token, ...], literal: bool
) -> tuple[bool, bool]:
    """(covers, touches) of one element for the subject."""
    patterns, negated = element
    if patterns is None:
        return False, False
    if not negated:
        return patterns.covers(text, subject, literal), patterns.touches(text, subject, literal)
    # NotX applies to what it does not list: it covers the subject when no entry touches it,
    # and touches it unless a single entry covers it all.
    return not patterns.touches(text, subject, literal), not patterns.covers(text, subject, literal)


def _match(compiled: _Statement, request: Request) -> StatementMatch:
    action = action_tokens(request.action, request.action_is_pattern)
    action_covers, action_touches = _element_match(
        compiled.action, request.action, action, not request.action_is_pattern
    )
    resource_covers = resource_touches = False
    if action_touches:
        resource = resource_tokens(request.resource, request.resource_is_pattern)
        resource_covers, resource_touches = _element_match(
            compiled.resource, request.resource, resource, not request.resource_is_pattern
        )
    return StatementMatch(
        effect=compiled.effect,
        covers=action_covers and resource_covers,
        touches=action_touches and resource_touches,
        conditional=compiled.conditional,
        statement=compiled.statement,
    )


def match_statement(statement: dict[str, Any], request: Request) -> StatementMatch:
    return _match(_compile(statement), request)


@dataclass
class Evaluation:
    decision: Decision
    allows: list[dict[str, Any]] = field(default_factory=list)
    denies: list[dict[str, Any]] = field(default_factory=list)


def _statements(documents: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [s for doc in documents if doc for s in doc.get("Statement", [])]


def _evaluate_set(policies: PolicySet, request: Request) -> Evaluation:
    """Decision of one policy set (identity policies, or the boundary) for the request."""
    matches = [_match(s, request) for s in policies.statements]
    matches = [m for m in matches if m.touches]  # neither covers nor touches: irrelevant
    mode = request.mode
    # What makes an Allow count in full, and what makes a Deny count at all / in full.
    allow_full = [m for m in matches if m.effect == "Allow" and (m.touches if mode == "power_some" else m.covers)]
    allow_partial = [m for m in matches if m.effect == "Allow" and mode == "some" and not m.covers]
    if mode == "every":
        deny_hit = [m for m in matches if m.effect == "Deny"]
        deny_partial: list[StatementMatch] = []
    else:
        deny_hit = [m for m in matches if m.effect == "Deny" and m.covers]
        deny_partial = [m for m in matches if m.effect == "Deny" and mode == "some" and not m.covers]
    evaluation = Evaluation(
        DENIED, allows=[m.statement for m in allow_full + allow_partial], denies=[m.statement for m in deny_hit]
    )
    if any(not m.conditional for m in deny_hit):
        return evaluation
    deny_maybe = bool(deny_hit) or bool(deny_partial)
    if any(not m.conditional for m in allow_full):
        evaluation.decision = CONDITIONAL if deny_maybe else ALLOWED
    elif allow_full or allow_partial:
        evaluation.decision = CONDITIONAL
    return evaluation


def _policy_set(value: Any) -> PolicySet:
    return value if isinstance(value, PolicySet) else PolicySet(value)


def evaluate(
    documents: Iterable[dict[str, Any] | None] | PolicySet,
    request: Request,
    boundary: dict[str, Any] | PolicySet | None = None,
) -> Evaluation:
    """Decide a request against normalised identity policy documents and an optional boundary."""
    identity = _evaluate_set(_policy_set(documents), request)
    if boundary is None or identity.decision == DENIED:
        return identity
    bounded = _evaluate_set(boundary if isinstance(boundary, PolicySet) else PolicySet([boundary]), request)
    if bounded.decision == DENIED:
        return Evaluation(DENIED, allows=identity.allows, denies=identity.denies + bounded.denies)
    decision: Decision = ALLOWED if identity.decision == bounded.decision == ALLOWED else CONDITIONAL
    return Evaluation(decision, allows=identity.allows, denies=identity.denies + bounded.denies)


def is_allowed(
    documents: Iterable[dict[str, Any] | None],
    action: str,
    resource: str,
    boundary: dict[str, Any] | None = None,
) -> Decision:
    """The plain question for a concrete action and resource."""
    return evaluate(documents, Request(action, resource), boundary).decision


# ---------------------------------------------------------------------------------------------
# Derived facts for the policies (`permissions` in docs/policies.md "The policy input")
# ---------------------------------------------------------------------------------------------

# The Rhino Security Labs privilege-escalation methods as Cloudsplaining encodes them
# (cloudsplaining/shared/constants.py), plus the ECS ones it added from pathfinding.cloud. A path is
# reported when every action in it is granted on some resource (a condition narrows when, not what).
ESCALATION_PATHS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "CreateNewPolicyVersion",
        ("iam:CreatePolicyVersion",),
        "create a new default version of a policy it is attached to",
    ),
    (
        "SetExistingDefaultPolicyVersion",
        ("iam:SetDefaultPolicyVersion",),
        "switch a policy to a more permissive old version",
    ),
    ("CreateAccessKey", ("iam:CreateAccessKey",), "create access keys for another user"),
    ("CreateLoginProfile", ("iam:CreateLoginProfile",), "set a console password for another user"),
    ("UpdateLoginProfile", ("iam:UpdateLoginProfile",), "change another user's console password"),
    ("AttachUserPolicy", ("iam:AttachUserPolicy",), "attach any managed policy to a user"),
    ("AttachGroupPolicy", ("iam:AttachGroupPolicy",), "attach any managed policy to a group"),
    ("AttachRolePolicy", ("iam:AttachRolePolicy",), "attach any managed policy to a role, including itself"),
    ("PutUserPolicy", ("iam:PutUserPolicy",), "write an inline policy on a user"),
    ("PutGroupPolicy", ("iam:PutGroupPolicy",), "write an inline policy on a group"),
    ("PutRolePolicy", ("iam:PutRolePolicy",), "write an inline policy on a role, including itself"),
    ("AddUserToGroup", ("iam:AddUserToGroup",), "add a user to a more privileged group"),
    (
        "UpdateRolePolicyToAssumeIt",
        ("iam:UpdateAssumeRolePolicy", "sts:AssumeRole"),
        "rewrite a role's trust policy and assume that role",
    ),
    ("CreateEC2WithExistingIP", ("iam:PassRole", "ec2:RunInstances"), "launch an instance with a more privileged role"),
    (
        "PassExistingRoleToNewLambdaThenInvoke",
        ("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"),
        "create and invoke a Lambda function running as a more privileged role",
    ),
    (
        "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo",
        ("iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
        "create a Lambda function with a more privileged role and trigger it from a stream",
    ),
    (
        "PassExistingRoleToNewGlueDevEndpoint",
        ("iam:PassRole", "glue:CreateDevEndpoint"),
        "create a Glue dev endpoint running as a more privileged role",
    ),
    (
        "UpdateExistingGlueDevEndpoint",
        ("glue:UpdateDevEndpoint",),
        "take over an existing Glue dev endpoint and its role",
    ),
    (
        "PassExistingRoleToCloudFormation",
        ("iam:PassRole", "cloudformation:CreateStack"),
        "create a stack that runs as a more privileged role",
    ),
    (
        "PassExistingRoleToNewDataPipeline",
        ("iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"),
        "create a Data Pipeline that runs as a more privileged role",
    ),
    (
        "EditExistingLambdaFunctionWithRole",
        ("lambda:UpdateFunctionCode",),
        "replace the code of a function with a more privileged role",
    ),
    (
        "PassExistingRoleToNewECSService",
        ("iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:CreateService"),
        "register a task definition with a more privileged role and run it as a service",
    ),
    (
        "PassExistingRoleToNewECSTaskViaRunTask",
        ("iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"),
        "register a task definition with a more privileged role and run it",
    ),
    (
        "PassExistingRoleToNewECSTaskViaStartTask",
        ("iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:StartTask"),
        "register a task definition with a more privileged role and start it",
    ),
    (
        "ECSExecuteCommandOnRunningTask",
        ("ecs:ExecuteCommand", "ecs:DescribeTasks"),
        "open a shell in another running task and use its role",
    ),
)

# AmazonECSTaskExecutionRolePolicy, version v1 (the only version): what every execution role may do.
EXECUTION_BASELINE = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
)

DATA_PLANE_READS = (
    ("secretsmanager:GetSecretValue", "secretsmanager", "secret:*"),
    ("kms:Decrypt", "kms", "key/*"),
    ("ssm:GetParameter", "ssm", "parameter/*"),
    ("ssm:GetParameters", "ssm", "parameter/*"),
    ("ssm:GetParametersByPath", "ssm", "parameter/*"),
)


def _power(documents: PolicySet, boundary: PolicySet | None, action: str, resource: str, mode: Mode) -> Evaluation:
    return evaluate(documents, Request(action, resource, True, True, mode), boundary)


def _describe_resources(statement: dict[str, Any]) -> str:
    if "Resource" in statement:
        return ", ".join(statement["Resource"])
    return "NotResource " + ", ".join(statement.get("NotResource", []))


def derive_permissions(
    documents: list[dict[str, Any]],
    boundary: dict[str, Any] | None,
    needed_actions: Iterable[str] = (),
    partition: str = "aws",
    region: str | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    """The `permissions` object for a role whose policies are known."""
    identity = PolicySet(documents)
    bound = PolicySet([boundary]) if boundary is not None else None
    admin = any(_power(identity, bound, action, "*", "power_all").decision != DENIED for action in ("*", "iam:*"))
    paths = []
    for path_id, actions, description in ESCALATION_PATHS:
        decisions = [_power(identity, bound, action, "*", "power_some").decision for action in actions]
        if DENIED in decisions:
            continue
        suffix = " (some of these actions only under a condition)" if CONDITIONAL in decisions else ""
        paths.append({"id": path_id, "actions": list(actions), "description": description + suffix})
    scope = f"{region or '*'}:{account or '*'}"
    wildcard = []
    for action, service, resource in DATA_PLANE_READS:
        evaluation = _power(identity, bound, action, f"arn:{partition}:{service}:{scope}:{resource}", "power_all")
        if evaluation.decision == ALLOWED:
            wildcard.append({"action": action, "resource": _describe_resources(evaluation.allows[0])})
    return {
        "admin_equivalent": admin,
        "escalation_paths": paths,
        "passrole_any": _power(identity, bound, "iam:PassRole", "*", "power_all").decision == ALLOWED,
        "assumerole_any": _power(identity, bound, "sts:AssumeRole", "*", "power_all").decision == ALLOWED,
        "wildcard_data_access": wildcard,
        "beyond_execution_baseline": beyond_baseline(identity, bound, [*EXECUTION_BASELINE, *needed_actions]),
    }


def beyond_baseline(
    documents: list[dict[str, Any]] | PolicySet,
    boundary: dict[str, Any] | PolicySet | None,
    allowed_actions: Iterable[str],
) -> list[str]:
    """Action patterns granted beyond `allowed_actions`.

    Without a catalogue of every AWS action, a wildcard cannot be proven to stay inside the
    list, so any wildcard grant counts as beyond it; a literal action counts when it is not in
    the list. A grant that the boundary or a covering Deny removes does not count.
    """
    identity = _policy_set(documents)
    bound = boundary if isinstance(boundary, PolicySet) or boundary is None else PolicySet([boundary])
    allowed = {action.lower() for action in allowed_actions}
    denies = [s for s in identity.statements if s.effect == "Deny"]
    beyond: list[str] = []
    seen: set[str] = set()
    for compiled in identity.statements:
        statement = compiled.statement
        if compiled.effect != "Allow":
            continue
        # Without Denies or a boundary, a statement grants each of its actions wherever its resources reach.
        grants_somewhere = _element_match(compiled.resource, "*", resource_tokens("*", True), False)[1]
        if "NotAction" in statement:
            candidates = ["NotAction " + ", ".join(statement["NotAction"])]
            probes = ["*"]
        else:
            candidates = [a for a in statement.get("Action", []) if a.lower() not in allowed or "*" in a or "?" in a]
            probes = candidates
        # Only this statement can grant the candidate here; only Denies and the boundary can take it away.
        reduced = PolicySet([])
        reduced.statements = [compiled, *denies]
        unopposed = not denies and bound is None
        for candidate, probe in zip(candidates, probes, strict=True):
            if candidate in seen:
                continue
            if (unopposed and grants_somewhere) or _power(reduced, bound, probe, "*", "power_some").decision != DENIED:
                beyond.append(candidate)
                seen.add(candidate)
    return beyond
