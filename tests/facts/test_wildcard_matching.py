"""IAM wildcard matching: properties against fnmatch and the per-segment ARN rule, soundness of covers/intersects."""


import fnmatch
import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_admission.facts.wildcards import action_matches, covers, intersects, resource_matches, resource_tokens, tokens

ACCOUNT = "111122223333"


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
    assert intersects(resource_tokens(pattern, True), resource_tokens(text, False)) is resource_matches(pattern, text)


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
    outer_tokens, inner_tokens = resource_tokens(outer, True), resource_tokens(inner, True)
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

