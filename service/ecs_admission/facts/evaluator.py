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
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

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
# The work budget. Statements alone do not bound the work: one statement of 200 many-star patterns
# against 200 secret ARNs is 40,000 automaton runs (38 s). Every comparison is charged what it
# costs, in steps: the length of both sides, plus one step per automaton state advanced over a
# character (per product-automaton node explored, for an intersection). A caller may give a whole
# request a budget (`work_budget`); past it the comparison stops and WorkBudgetExceeded is raised.
# ---------------------------------------------------------------------------------------------


class WorkBudgetExceeded(Exception):
    """The evaluation needed more steps than its budget allows (docs/hardening.md)."""

    def __init__(self, limit: int):
        super().__init__(f"judging these policies needs more than {limit:,} pattern-matching steps")
        self.limit = limit


@dataclass
class WorkBudget:
    limit: int
    spent: int = 0

    @property
    def remaining(self) -> int:
        return self.limit - self.spent

    def charge(self, steps: int) -> None:
        self.spent += steps
        if self.spent > self.limit:
            raise WorkBudgetExceeded(self.limit)


_BUDGET: ContextVar[WorkBudget | None] = ContextVar("ecs_admission_evaluator_budget", default=None)


@contextmanager
def work_budget(limit: int) -> Iterator[WorkBudget]:
    """Every comparison made inside the block (in this context) shares `limit` steps.

    Inside another budget (a template's task definitions, each judged with its own), the block gets
    at most what the outer one has left, and what it spends is the outer one's too.
    """
    outer = _BUDGET.get()
    budget = WorkBudget(limit if outer is None else min(limit, outer.remaining))
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)
        if outer is not None:
            outer.spent += budget.spent


def _charged(run: Callable[[Sequence[Token], Sequence[Token], int], tuple[bool, int]]) -> Callable[..., bool]:
    """Run a comparison within what is left of the budget, and charge what it cost."""

    def compare(left: Sequence[Token], right: Sequence[Token]) -> bool:
        budget = _BUDGET.get()
        if budget is None:
            return run(left, right, sys.maxsize)[0]
        answer, steps = run(left, right, budget.remaining)
        budget.charge(steps)  # raises once past the limit: a cut-short answer is never used
        return answer

    compare.__doc__ = run.__doc__
    compare.__name__ = run.__name__.lstrip("_")
    return compare

# ---------------------------------------------------------------------------------------------
# Wildcard patterns as token lists. A token is (kind, char, crosses): kind "lit", "one" (?) or
# "star" (*); `crosses` says whether it may produce ":" (segment semantics for resources).
# ---------------------------------------------------------------------------------------------
Token = tuple[str, str, bool]


@lru_cache(maxsize=4096)
def tokens(text: str, *, pattern: bool, segmented: bool, fold: bool) -> tuple[Token, ...]:
    """Tokenise a pattern (wildcards active) or a literal string (every character literal)."""
    if fold:
        text = text.lower()
    result: list[Token] = []
    for index, char in enumerate(text):
        if pattern and char == "*":
            nxt = text[index + 1] if index + 1 < len(text) else None
            # Segment semantics: only a star ending its segment may run across later colons.
            crosses = (not segmented) or nxt is None or nxt == ":"
            result.append(("star", "", crosses))
        elif pattern and char == "?":
            result.append(("one", "", not segmented))
        else:
            result.append(("lit", char, True))
    return tuple(result)


def _accepts(token: Token, char: str) -> bool:
    kind, literal, crosses = token
    if kind == "lit":
        return literal == char
    return crosses or char != ":"


def _closure(states: set[int], pattern: Sequence[Token]) -> set[int]:
    """Add the states reachable by letting stars match the empty string."""
    stack = list(states)
    while stack:
        state = stack.pop()
        if state < len(pattern) and pattern[state][0] == "star" and state + 1 not in states:
            states.add(state + 1)
            stack.append(state + 1)
    return states


@lru_cache(maxsize=8192)
def _affixes(pattern: tuple[Token, ...]) -> tuple[str, str]:
    """The literal text before the first and after the last wildcard."""
    prefix = []
    for kind, char, _ in pattern:
        if kind != "lit":
            break
        prefix.append(char)
    suffix = []
    for kind, char, _ in reversed(pattern):
        if kind != "lit":
            break
        suffix.append(char)
    return "".join(prefix), "".join(reversed(suffix))


def _affixes_compatible(left: tuple[Token, ...], right: tuple[Token, ...]) -> bool:
    """Cheap necessary condition for two patterns to share a string: their literal ends agree."""
    (left_prefix, left_suffix), (right_prefix, right_suffix) = _affixes(left), _affixes(right)
    return (left_prefix.startswith(right_prefix) or right_prefix.startswith(left_prefix)) and (
        left_suffix.endswith(right_suffix) or right_suffix.endswith(left_suffix)
    )


@_charged
def covers(pattern: Sequence[Token], subject: Sequence[Token], allowance: int) -> tuple[bool, int]:
    """True if every string `subject` stands for matches `pattern` (sound containment test).

    A literal subject is the classic glob match. A subject's `*` may only be absorbed by a
    pattern `*` at least as free to cross colons, and a subject `?` only by a `?` or `*`: so a
    "yes" here is a proof, and a "no" errs towards not covered (fail closed).
    Runs as an NFA simulation: O(len(pattern) x len(subject)), no backtracking blow-up; stops
    once its steps pass `allowance`. Answers (covered, steps).
    """
    steps = len(pattern) + len(subject)
    if steps > allowance:
        return False, steps
    if isinstance(pattern, tuple) and isinstance(subject, tuple) and not _affixes_compatible(pattern, subject):
        return False, steps
    states = _closure({0}, pattern)
    for kind, char, crosses in subject:
        steps += len(states)
        if steps > allowance:
            return False, steps
        following: set[int] = set()
        for state in states:
            if state >= len(pattern):
                continue
            token = pattern[state]
            if kind == "lit":
                if _accepts(token, char):
                    following.add(state if token[0] == "star" else state + 1)
            elif kind == "one":
                if token[0] == "one" and (token[2] or not crosses):
                    following.add(state + 1)
                elif token[0] == "star" and (token[2] or not crosses):
                    following.add(state)
            elif token[0] == "star" and (token[2] or not crosses):
                following.add(state)
        if not following:
            return False, steps
        states = _closure(following, pattern)
    return len(pattern) in states, steps


@_charged
def intersects(left: Sequence[Token], right: Sequence[Token], allowance: int) -> tuple[bool, int]:
    """True if some string matches both patterns (product-automaton reachability). Answers
    (intersect, steps), and stops once its steps pass `allowance`."""
    steps = len(left) + len(right)
    if steps > allowance:
        return False, steps
    if left == right:
        return True, steps
    if isinstance(left, tuple) and isinstance(right, tuple) and not _affixes_compatible(left, right):
        return False, steps
    start = (0, 0)
    seen = {start}
    stack = [start]
    end = (len(left), len(right))
    while stack:
        steps += 1
        if steps > allowance:
            return False, steps
        i, j = stack.pop()
        if (i, j) == end:
            return True, steps
        moves: list[tuple[int, int]] = []
        a = left[i] if i < len(left) else None
        b = right[j] if j < len(right) else None
        if a and a[0] == "star":
            moves.append((i + 1, j))
        if b and b[0] == "star":
            moves.append((i, j + 1))
        if a and b and _common_char(a, b):
            moves.append((i if a[0] == "star" else i + 1, j if b[0] == "star" else j + 1))
        for move in moves:
            if move not in seen:
                seen.add(move)
                stack.append(move)
    return False, steps


def _common_char(a: Token, b: Token) -> bool:
    if a[0] == "lit" and b[0] == "lit":
        return a[1] == b[1]
    if a[0] == "lit":
        return _accepts(b, a[1])
    if b[0] == "lit":
        return _accepts(a, b[1])
    return True  # two wildcards always share some non-colon character


def action_matches(pattern: str, action: str) -> bool:
    """`iam:Pass*` matches `IAM:PassRole`: actions compare case-insensitively."""
    return covers(_action(pattern, True), _action(action, False))


def resource_matches(pattern: str, resource: str) -> bool:
    """`arn:aws:s3:::bucket/*` matches `arn:aws:s3:::bucket/a/b`: case-sensitive, segment-aware."""
    return covers(_resource(pattern, True), _resource(resource, False))


def _action(text: str, pattern: bool) -> tuple[Token, ...]:
    return tokens(text, pattern=pattern, segmented=False, fold=True)


def _resource(text: str, pattern: bool) -> tuple[Token, ...]:
    return tokens(text, pattern=pattern, segmented=True, fold=False)


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
        budget = _BUDGET.get()
        if budget is not None:  # tokenising is work too: a character a step
            budget.charge(sum(len(text) for text in patterns))
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
        action=_element(statement, "Action", "NotAction", _action, True),
        resource=_element(matched, "Resource", "NotResource", _resource, False),
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
    action = _action(request.action, request.action_is_pattern)
    action_covers, action_touches = _element_match(
        compiled.action, request.action, action, not request.action_is_pattern
    )
    resource_covers = resource_touches = False
    if action_touches:
        resource = _resource(request.resource, request.resource_is_pattern)
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
        grants_somewhere = _element_match(compiled.resource, "*", _resource("*", True), False)[1]
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
