"""The in-process engine: OPA's own Go evaluator, loaded into each worker through its Python binding.

`opa_bindings` (PyPI: opa-golib-python-bindings) wraps OPA's `rego` package in a c-shared library,
so the Rego a platform team writes is compiled and evaluated by OPA itself, exactly as the sidecar
does it: one engine, two placements. The library starts the Go runtime on its first call, and a
process must not fork after that, so the engine is built in each gunicorn worker (after the fork),
never in the master (docs/engines.md).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from ecs_admission.decision import RawDecision
from ecs_admission.engines.prints import PrintSink
from ecs_admission.errors import UNAVAILABLE, EngineError
from ecs_admission.parsing import compact_json
from ecs_admission.policy.loader import (
    CHECK_PACKAGES,
    DATA_ROOT,
    DECISION_PACKAGE,
    DECISION_RULE,
    DECISION_TABLE,
    PolicySet,
    RegoFile,
)
from ecs_admission.policy.packages import check_packages, package_path

log = logging.getLogger(__name__)

# What the in-process engine is: the binding's version, and the OPA release compiled into it. The
# sidecar image in deploy/ is pinned to the same OPA release (tests/engines/test_engine.py holds them equal).
BINDINGS_DISTRIBUTION = "opa-golib-python-bindings"
BINDINGS_VERSION = "0.4.4"
OPA_VERSION = "1.20.2"
SIDECAR_HINT = "set ECS_ADMISSION_OPA_URL to decide with an OPA sidecar instead"
INSTALL_HINT = (
    f"install it with `pip install --ignore-requires-python {BINDINGS_DISTRIBUTION}=={BINDINGS_VERSION}` "
    f"(`make install` does this; on Python >= 3.14 it is an ordinary dependency), or {SIDECAR_HINT}"
)
DECISION_PATH = f"{DECISION_PACKAGE}.{DECISION_RULE}"
DATA_ROOT_PATH = (DATA_ROOT,)
DECISION_PACKAGE_PATH = tuple(DECISION_PACKAGE.split("."))
# Set once this process first hands policies to OPA's Go code, which holds no GIL while it parses
# and compiles them: a cold `check` imports the rest of its command line from then on
# (cli/prestart.py), not while the build's own Python (loading and accepting the set) needs the GIL.
GO_STARTED = threading.Event()


def load_bindings() -> ModuleType:
    """Import the binding and load its shared library, or say exactly why not and how to fix it."""
    try:
        import opa_bindings
        from opa_bindings import engine as binding_engine
    except ImportError as exc:
        raise EngineError(
            f"OPA's Go evaluator is not installed ({exc}); {INSTALL_HINT}", "embedded", kind=UNAVAILABLE
        ) from None
    try:
        binding_engine._get_lib()
    except OSError as exc:
        raise EngineError(
            f"OPA's Go evaluator could not be loaded ({exc}); its wheels are built for Linux x86_64/aarch64 "
            f"with glibc >= 2.34 and macOS arm64; on another platform {SIDECAR_HINT}",
            "embedded",
            kind=UNAVAILABLE,
        ) from None
    return opa_bindings


@functools.cache
def embedded_opa_version() -> str | None:
    """The OPA release compiled into the binding's library, read from the Go build information."""
    try:
        import opa_bindings
    except ImportError:
        return None
    library = Path(opa_bindings.__file__).with_name("libopabridge.so")
    try:
        found = re.search(rb"github\.com/open-policy-agent/opa\tv([0-9][0-9A-Za-z.+-]*)", library.read_bytes())
    except OSError:
        return None
    return found.group(1).decode() if found else None


def describe_opa_error(exc: Exception) -> str:
    """OPA's own message, one line per error: OPA already names file:line for each."""
    message = getattr(exc, "message", None) or str(exc)
    lines = [line.strip() for line in message.splitlines() if line.strip() and line.strip() != "^"]
    # The parser quotes the offending source line and a caret under it, and OPA prefixes a count
    # ("2 errors occurred:"): keep the file:line errors themselves, each once.
    kept = [line for line in lines if re.match(r"^\S+:\d+: ", line)]
    return "; ".join(dict.fromkeys(kept or lines)) or type(exc).__name__


# The binding's error codes for a policy set OPA refuses (as opposed to an evaluation that failed).
COMPILE_ERROR_CODES = frozenset({"parse_error", "prepare_error", "compile_error"})


def is_compile_error(exc: Exception) -> bool:
    return getattr(exc, "code", None) in COMPILE_ERROR_CODES


def compile_failure(exc: Exception, engine: str = "embedded") -> EngineError:
    return EngineError(f"policies do not compile: {describe_opa_error(exc)}", engine)


def new_opa(
    modules: tuple[RegoFile, ...],
    data: dict[str, Any],
    engine: str = "embedded",
    warm: str | None = None,
    compile_now: bool = True,
) -> Any:
    """An OPA evaluator holding these modules and data, compiled now: a module OPA refuses raises
    EngineError with OPA's message and file:line, before anything is decided.

    The binding compiles the whole set once per distinct query it prepares, so `warm` names the
    document the caller will evaluate (compiled here, once) rather than compiling for a throwaway query;
    it is evaluated without an input, which leaves the decision undefined at once (an empty input
    cost 3-5 ms more of evaluation for nothing); `compile_now=False` leaves the compile to the
    caller's first query (which must then treat is_compile_error as such).
    """
    bindings = load_bindings()
    GO_STARTED.set()
    opa = bindings.OpaEngine()
    # Rego print() is a debugging aid: to the log, never to stdout (decision records), redacted
    # and bounded per evaluation (engines/prints.py).
    opa.print_handler = PrintSink()
    try:
        for module in modules:
            opa.add_policy(module.name, module.source)
        opa.add_data(data)
        if warm is not None:
            opa.eval_document(warm, None)
        elif compile_now:
            opa.eval_query("true")
    except bindings.OpaError as exc:
        if is_compile_error(exc):
            opa.close()
            raise compile_failure(exc, engine) from None
        # Compiled: the document is just not defined (or valid) without an input.
    return opa


def compiles(policy: PolicySet) -> None:
    """EngineError (OPA's message, file:line) unless OPA compiles the set's modules and data."""
    new_opa(policy.modules, policy.data).close()


DECISION_TABLE_QUERY = (
    "config := data.ecs.admission.config; "
    "table := data.ecs.admission.rule_table(data.ecs.admission.catalog_document, config); "
    "packages := [concern | some concern in data.ecs.admission.catalogued_packages]"
)


def derived_data(opa: Any, bindings: ModuleType) -> dict[str, Any]:
    """Data worked out once from the policies' own data, by the policies themselves.

    `data.ecs.decision_table` is admission.rego's rule_table over the catalogue and config.yaml: it
    changes only with them, yet cost more than the rest of a decision when worked out per request.
    Its `packages` are the check packages the catalogue names (catalogued_packages), for the same
    reason (a scan of the whole catalogue in every decision).
    Evaluated here with OPA, so it is the same function's answer; a policy set without that function
    gets nothing, and its decision works the table out itself.
    """
    try:
        rows = opa.eval_query(DECISION_TABLE_QUERY)
    except bindings.OpaError as exc:
        if is_compile_error(exc):
            raise compile_failure(exc) from None
        return {}
    row = rows[0] if rows else {}
    if not isinstance(row.get("table"), dict):
        return {}
    table = {"config": row.get("config"), "table": row["table"]}
    if isinstance(row.get("packages"), list):
        table["packages"] = row["packages"]
    return {DECISION_TABLE: table}


def decision_modules(modules: tuple[RegoFile, ...]) -> tuple[RegoFile, ...]:
    """The modules the decision table can depend on: the decision package's (ecs.admission), and
    any whose package could hold its rules (`ecs`) or is not plainly written."""
    kept = []
    for module in modules:
        path = package_path(module.source)
        if path is None or path == DATA_ROOT_PATH or path[:2] == DECISION_PACKAGE_PATH:
            kept.append(module)
    return tuple(kept)


@functools.lru_cache(maxsize=64)
def _path_argument(path: str) -> bytes:
    """A document path as the binding's C argument (its own check: no NUL, valid UTF-8)."""
    from opa_bindings.engine import _cstr

    return _cstr(path)


# Below this many decisions, working the table out in each decision (2-3 ms) costs less than the
# throwaway compile that works it out once (about 0.1 s): a `check` of a few files.
TABLE_BREAK_EVEN = 30


def with_derived_data(policy: PolicySet, for_bundle: bool = False, table: bool = True) -> dict[str, Any]:
    """The policy set's data plus what derived_data works out from it (the bundle's data.json too).

    The table is worked out on a throwaway engine holding only the decision modules (a compile of
    the whole set cost as much again as the engine's own); a decision module that needs another
    one to compile gets the whole set. The in-process engine also gets the list of check packages
    (policy/packages.py); a bundle never carries it, since a module can be added to a bundle by
    hand and the decision must then find it by enumerating data.ecs.checks.
    """
    bindings = load_bindings()
    subset = decision_modules(policy.modules)
    attempts = [subset, policy.modules] if subset and len(subset) < len(policy.modules) else [policy.modules]
    derived: dict[str, Any] = {}
    for modules in attempts if table else []:
        opa = new_opa(modules, policy.data, compile_now=False)
        try:
            derived = derived_data(opa, bindings)
            break
        except EngineError:
            if modules is attempts[-1]:
                raise
        finally:
            opa.close()
    if not for_bundle:
        listed = check_packages(policy.modules, policy.data)
        if listed is not None:
            derived[CHECK_PACKAGES] = listed
    return {**policy.data, DATA_ROOT: {**policy.data[DATA_ROOT], **derived}}


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, policy: PolicySet, expected_decisions: int | None = None):
        """`expected_decisions`, when the caller knows it will decide only a few times (a `check` of
        a few files), skips working the decision table out in advance (TABLE_BREAK_EVEN)."""
        self._policy = policy
        self._bindings = load_bindings()
        table = expected_decisions is None or expected_decisions >= TABLE_BREAK_EVEN
        self._opa = new_opa(policy.modules, with_derived_data(policy, table=table), self.name, warm=DECISION_PATH)

    @property
    def revision(self) -> str:
        return self._policy.revision

    @property
    def policy(self) -> PolicySet:
        return self._policy

    def policy_data(self) -> dict[str, Any]:
        return self._policy.data[DATA_ROOT]

    def query(self, input_document: dict[str, Any], path: str = DECISION_PATH) -> Any:
        """Evaluate `data.<path>` and return its value; undefined or an error raises EngineError."""
        prints = self._opa.print_handler
        prints.start()
        try:
            return self._evaluate_document(path, input_document)
        except self._bindings.OpaUndefinedError:
            raise EngineError(f"data.{path} is undefined", self.name) from None
        except self._bindings.OpaError as exc:
            raise EngineError(f"evaluation error: {describe_opa_error(exc)}", self.name) from None
        finally:
            prints.finish()
            self._opa.last_prints = []  # the binding keeps them all otherwise (8 MB of prints stayed)

    def _evaluate_document(self, path: str, input_document: dict[str, Any]) -> Any:
        """The binding's `eval_document`, with the input written by parsing/compact_json.py.

        The binding writes the input with the standard library's encoder: 0.7 M of a decision's
        10.5 M instructions (docs/performance.md). This does what `eval_document` does (binding 0.4.4,
        pinned by hash in engine-requirements.txt; tests/engines/test_engine_input_text.py holds the
        two equal) with orjson's text; an input no JSON text can hold (the standard library's
        fallback raised too) goes to `eval_document` itself, which fails as it always did.
        """
        try:
            encoded = compact_json.dumps(input_document)
        except (TypeError, ValueError):
            return self._opa.eval_document(path, input_document)
        opa = self._opa
        opa._check_open()
        with opa._eval_lock:
            opa._eval_reset()
            rows = opa._eval_result(opa._call(opa._lib.OpaEvalDocument, _path_argument(path), encoded, 0, 0))
        if not rows or not rows[0].get("expressions"):
            raise self._bindings.OpaUndefinedError(f"data.{path}" if path else "data")
        return rows[0]["expressions"][0]["value"]

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        document = self.query(input_document)
        return RawDecision.from_document(document, engine=self.name, revision=self.revision)

    def close(self) -> None:
        self._opa.close()
