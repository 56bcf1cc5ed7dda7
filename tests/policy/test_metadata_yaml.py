"""METADATA and policy data (config.yaml) read with libyaml (policy/metadata.py load_yaml) give PyYAML's pure
reader's answer, and its error, on every annotation shipped and on thousands of damaged copies of them. Both
are yaml.safe_load but for timestamps, which stay the text written (as OPA reads them)."""

from __future__ import annotations

import random

import pytest
import yaml

from ecs_admission.policy.metadata import load_yaml, yaml_loaders
from tests.conftest import REPO


def _bodies() -> list[str]:
    bodies = []
    for path in sorted((REPO / "rego").glob("*.rego")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if line.rstrip() != "# METADATA":
                continue
            body = []
            for following in lines[index + 1 :]:
                if not following.startswith("#"):
                    break
                body.append(following[1:])
            bodies.append("\n".join(body))
    return bodies


BODIES = _bodies()
DATA = [(REPO / "rego" / "config.yaml").read_text(encoding="utf-8")]
# Characters that change what YAML means: indentation, flow and block syntax, quotes, anchors,
# tags, document markers, tabs and a non-printable character.
NOISE = [" ", "  ", "\t", ":", "- ", "{", "}", "[", "]", ",", '"', "'", "&a ", "*a", "!!str ", "!!int ", "|", ">",
         "#", "---\n", "...", "\n", "\x07", "\ufeff", "\x85", "%YAML 1.1\n", "? ", "\\", "\r", "\r\n", "\u2028",
         "\x00", "é", "%", "@", "`", "<<: *a\n", "~", "=", "!", "'\n", '"\n', "-1", "0x", "1e3", ": |\n", "|+2\n"]


def _pure(text: str):
    return yaml.load(text, Loader=yaml_loaders()[0])


def _answer(load, text: str):
    try:
        return ("value", load(text))
    except yaml.YAMLError as exc:
        return ("error", str(exc))
    except Exception as exc:  # a constructor's own failure (a bad tagged scalar): the same either way
        return ("raised", type(exc).__name__)


def test_the_shipped_annotations_are_many():
    assert len(BODIES) >= 40 and (REPO / "rego" / "config.yaml").is_file()


# 2,500 damaged copies a run, a regression check on the cases in _LENIENT_IN_C (found by a
# 280,000-copy sweep when the reader was written); widen the seeds for a sweep when it changes.
@pytest.mark.parametrize("seed", range(25))
def test_damaged_annotations_read_as_yaml_safe_load_reads_them(seed):
    rng = random.Random(seed)
    for _ in range(100):
        text = rng.choice(BODIES + DATA * 10)  # the policy data (config.yaml) is read the same way
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.3 and text:
                text = text[:at] + text[at + 1 :]
            else:
                text = text[:at] + rng.choice(NOISE) + text[at:]
        assert _answer(load_yaml, text) == _answer(_pure, text), text


@pytest.mark.parametrize(
    "text", ["since: 2024-01-01", "at: 2001-12-14t21:59:43.10-05:00", "d: !!timestamp 2002-12-14", "d: 2024-1-5"]
)
def test_timestamps_are_the_text_written_in_both_readers(text):
    expected = {text.split(":")[0]: text.split(": ", 1)[1].removeprefix("!!timestamp ")}
    assert load_yaml(text) == _pure(text) == expected


def test_shipped_annotations_and_data_read_the_same():
    for text in [*BODIES, *DATA]:
        assert _answer(load_yaml, text) == _answer(yaml.safe_load, text)
        assert _answer(load_yaml, text)[0] == "value"
