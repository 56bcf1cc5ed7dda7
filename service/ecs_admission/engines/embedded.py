"""The embedded engine: regopy (rego-cpp) in-process, policies compiled once per worker.

`build` plans the entry points once; each request then only converts its input and runs the
plans (about 0.1 ms against 1.6 ms for a fresh `query`, see reference/engines.md). Where the
policy set allows it (engines/layout.py), each check package is its own plan and the decision a
last, small one over their findings: regopy runs that about twice as fast as one plan for all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

from regopy import Input, Interpreter, RegoError
from regopy.rego_shared import rego as _lib
from regopy.rego_shared import rego_bundle_query_entrypoint, rego_free_output, rego_new_input, rego_output_string

from ..decision import RawDecision
from ..errors import EngineError
from ..policy import DATA_ROOT, DECISION_PACKAGE, DECISION_RULE, PolicySet, RegoFile
from .layout import Plan, SplitLayout, split_layout

log = logging.getLogger(__name__)

ENTRYPOINT = f"{DECISION_PACKAGE.replace('.', '/')}/{DECISION_RULE}"
# Characters JSON must escape inside a string.
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f]')


def to_rego_input(value: Any) -> Input:
    """The input document as a rego-cpp input, strings in their JSON-escaped form.

    Escaped, because rego-cpp keeps strings escaped internally (a Rego literal "a\\"b" is held
    as the four characters a\\"b) while regopy's Input() hands Python strings over raw: a quote
    or backslash in the input then neither equals the same literal in a policy nor survives the
    way out, and the decision text carries a bare quote and is not JSON (found by the fuzz suite:
    a container named a"b made every request 503). Escaped, the output decodes back to the
    original text.

    Converted here rather than by Input(), because this is the hot path: one pass, exact type
    checks instead of isinstance against collections.abc, and bytes handed to ctypes directly,
    which halves the conversion (README "Performance"). Values are the JSON types the parsers
    return (dict, list, str, int within 64 bits, finite float, bool, None).
    """
    handle = rego_new_input()
    rego_input = Input.__new__(Input)
    rego_input._impl = handle  # freed by Input.__del__, whatever happens below
    string, integer, number = _lib.regoInputString, _lib.regoInputInt, _lib.regoInputFloat
    boolean, null = _lib.regoInputBoolean, _lib.regoInputNull
    item, obj, array = _lib.regoInputObjectItem, _lib.regoInputObject, _lib.regoInputArray
    needs_escape, dumps = _NEEDS_ESCAPE.search, json.dumps

    def add(val: Any) -> None:
        kind = type(val)
        if kind is str:
            if needs_escape(val):
                val = dumps(val, ensure_ascii=False)[1:-1]
            code = string(handle, val.encode("utf-8"))
        elif kind is dict:
            for key, member in val.items():
                add(key)
                add(member)
                code = item(handle)
                if code:
                    raise RegoError("Unable to create input", code)
            code = obj(handle, len(val))
        elif kind is list:
            for member in val:
                add(member)
            code = array(handle, len(val))
        elif kind is bool:
            code = boolean(handle, val)
        elif kind is int:
            code = integer(handle, val)
        elif kind is float:
            code = number(handle, val)
        elif val is None:
            code = null(handle)
        else:
            raise ValueError(f"cannot hand a {kind.__name__} to the engine")
        if code:
            raise RegoError("Unable to create input", code)

    add(value)
    return rego_input


_ERROR_RE = re.compile(r"\(error \d+:([^|\s]+)\|(\d+)\|\d+\s*\(errormsg \d+:([^)]*)\)")


def describe_rego_error(error: Exception, sources: dict[str, str]) -> str:
    """Turn rego-cpp's S-expression error dump into 'file:line: message' lines."""
    text = str(error)
    messages = []
    for name, offset, message in _ERROR_RE.findall(text):
        line = sources.get(name, "")[: int(offset)].count("\n") + 1 if name in sources else "?"
        messages.append(f"{name}:{line}: {message.strip()}")
    if messages:
        return "; ".join(dict.fromkeys(messages))
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def parse_output(text: str, engine: str, what: str = f"data.{DECISION_PACKAGE}.{DECISION_RULE}") -> Any:
    """The value of the single expression in a result, or EngineError for anything else."""
    if text == "undefined":
        raise EngineError(f"{what} is undefined", engine)
    if text.startswith("(error") or text.startswith("<error"):
        match = re.search(r"\(errormsg \d+:([^)]*)\)", text)
        where = "" if what.endswith(f".{DECISION_RULE}") else f" in {what}"
        raise EngineError(f"evaluation error{where}: {match.group(1) if match else text[:300]}", engine)
    try:
        result = json.loads(text)
        return result["expressions"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        raise EngineError(f"unreadable engine output: {text[:200]}", engine) from None


@contextlib.contextmanager
def native_output_to_stderr() -> Iterator[None]:
    """rego-cpp prints compile errors on the process's stdout; keep them off machine-readable output.

    The errors are still reported through EngineError; this only moves the native echo to stderr.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def decision_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The parts of the input that admission.rego's decide() reads: the task's family and the time."""
    fields: dict[str, Any] = {}
    task = document.get("task_definition")
    if isinstance(task, dict) and "family" in task:
        fields["task_definition"] = {"family": task["family"]}
    if "now" in document:
        fields["now"] = document["now"]
    return fields


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, policy: PolicySet, split: bool = True):
        """`split=False` forces one plan for the whole set, as OPA evaluates it (tests compare the two)."""
        self._policy = policy
        self._sources = {module.name: module.source for module in policy.modules}
        layout = split_layout(policy) if split else "asked for"
        self._checks: tuple[tuple[Plan, Any], ...] = ()
        if isinstance(layout, SplitLayout):
            self._checks = tuple((plan, self._compile(plan.modules, plan.entrypoint)) for plan in layout.checks)
            self._entrypoint = layout.decision.entrypoint
            self._bundle = self._compile(layout.decision.modules, self._entrypoint)
            self.layout = f"{len(self._checks)} check package plans and the decision"
        else:
            self._entrypoint = ENTRYPOINT
            self._bundle = self._compile(policy.modules, ENTRYPOINT)
            self.layout = f"one plan ({layout})"
            # Slower, and a policy author may not expect it: say so once per worker.
            log.info("embedded engine: %s", self.layout)
        self._runner = Interpreter()
        # One interpreter per worker; the lock keeps a threaded server from interleaving inputs.
        self._lock = threading.Lock()

    def _compile(self, modules: tuple[RegoFile, ...], entrypoint: str) -> Any:
        compiler = Interpreter()
        try:
            with native_output_to_stderr():
                for module in modules:
                    compiler.add_module(module.name, module.source)
                compiler.add_data(self._policy.data)
                bundle = compiler.build(None, [entrypoint])
        except RegoError as exc:
            raise EngineError(
                f"policies do not compile: {describe_rego_error(exc, self._sources)}", self.name
            ) from None
        if not bundle.ok():
            raise EngineError("policies do not compile (rego-cpp reported a failed build)", self.name)
        return bundle

    @property
    def revision(self) -> str:
        return self._policy.revision

    @property
    def policy(self) -> PolicySet:
        return self._policy

    def policy_data(self) -> dict[str, Any]:
        return self._policy.data[DATA_ROOT]

    def query(self, input_document: dict[str, Any]) -> Any:
        """Run the decision and return its raw value; undefined or an error raises."""
        rego_input = self._convert(input_document)
        with self._lock:
            try:
                self._runner.set_input(rego_input)
                if self._checks:
                    found = {}
                    for plan, bundle in self._checks:
                        text = self._run(bundle, plan.entrypoint)
                        if text == "undefined":
                            continue  # left out: admission.rego reports the package (ECS-POLICY-001)
                        value = parse_output(text, self.name, f"data.ecs.checks.{plan.concern}.findings")
                        if isinstance(value, list):  # a set or an array, as package_findings reads them
                            found[plan.concern] = value
                    decision_input = {"package_findings": found, "document": decision_fields(input_document)}
                    self._runner.set_input(self._convert(decision_input))
                text = self._run(self._bundle, self._entrypoint)
            except RegoError as exc:
                raise EngineError(f"evaluation failed: {describe_rego_error(exc, {})}", self.name) from None
        return parse_output(text, self.name)

    def _convert(self, document: dict[str, Any]) -> Input:
        try:
            return to_rego_input(document)
        except Exception as exc:  # regopy raises plain exceptions for values it cannot convert
            raise EngineError(f"input could not be handed to the engine: {exc}", self.name) from None

    def _run(self, bundle: Any, entrypoint: str) -> str:
        # regopy's Output wrapper json-parses in its constructor and reports ok() for error
        # results, so read the raw result text and free it here instead.
        impl = rego_bundle_query_entrypoint(self._runner._impl, bundle._impl, entrypoint)
        try:
            return rego_output_string(impl)
        finally:
            rego_free_output(impl)

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        document = self.query(input_document)
        return RawDecision.from_document(document, engine=self.name, revision=self.revision)
