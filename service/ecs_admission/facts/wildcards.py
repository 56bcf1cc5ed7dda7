"""Wildcard patterns for the IAM evaluator (facts/evaluator.py): IAM's `*` and `?` as token lists,
whether one pattern covers or meets another (a memoised automaton walk), and the work budget that
bounds those walks for one request.

Actions match case-insensitively; resources case-sensitively, with `*` and `?` inside an ARN
segment, except that a `*` ending a segment may expand across the colons that follow (IAM user
guide). Every comparison is charged the steps it takes against the current budget (`work_budget`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

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


def charge_work(steps: int) -> None:
    """Charge `steps` of other work (tokenising a policy's patterns) to the current budget, if any."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge(steps)


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
    return covers(action_tokens(pattern, True), action_tokens(action, False))


def resource_matches(pattern: str, resource: str) -> bool:
    """`arn:aws:s3:::bucket/*` matches `arn:aws:s3:::bucket/a/b`: case-sensitive, segment-aware."""
    return covers(resource_tokens(pattern, True), resource_tokens(resource, False))


def action_tokens(text: str, pattern: bool) -> tuple[Token, ...]:
    return tokens(text, pattern=pattern, segmented=False, fold=True)


def resource_tokens(text: str, pattern: bool) -> tuple[Token, ...]:
    return tokens(text, pattern=pattern, segmented=True, fold=False)
