"""`ecs-admission policy bundle`: the policy directory as a standard OPA bundle, without the opa binary.

Layout (what `opa build` writes and `opa run --bundle` / OPA's bundle service read):
- `/.manifest`: `{"revision": ..., "roots": ["ecs"], "metadata": {...}}`; roots make OPA refuse
  a bundle that would write outside data.ecs and keep other bundles out of it;
- `/<path>.rego`: every module, at its path relative to the policy directory; tests are left out;
- `/data.json`: `{"ecs": {"catalog": ..., "config": ..., ...}}`, laid out exactly as policy/loader.py lays data, plus
  what the in-process engine derives from it once (engines/embedded.py derived_data), so both placements
  evaluate the same data.

The revision defaults to PolicySet.revision (the content hash the embedded engine reports), so a
decision names the same revision whichever engine made it. The archive is byte-for-byte
reproducible: sorted members, zero timestamps and owners.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ecs_admission import __version__
from ecs_admission.config import Settings
from ecs_admission.engines.acceptance import accept
from ecs_admission.engines.embedded import with_derived_data
from ecs_admission.engines.selfcheck import self_check
from ecs_admission.errors import EngineError
from ecs_admission.policy.conftest import configured_namespaces
from ecs_admission.policy.loader import DATA_ROOT, PolicyError, PolicySet, load_policy_set
from ecs_admission.policy.metadata import module_package

MANIFEST = ".manifest"
ROOTS = (DATA_ROOT,)


class BundleError(ValueError):
    """The policy directory cannot become a bundle OPA would activate."""


@dataclass(frozen=True)
class BundleInfo:
    revision: str
    modules: tuple[str, ...]
    data_documents: tuple[str, ...]
    size: int


def manifest(policy: PolicySet, revision: str) -> dict:
    return {
        "revision": revision,
        "roots": roots(policy),
        "metadata": {"built_by": f"ecs-admission {__version__}", "content_revision": policy.revision},
    }


def roots(policy: PolicySet) -> list[str]:
    """`ecs`, and each conftest/Gatekeeper namespace the set uses (policy/conftest.py), so the
    sidecar evaluates those packages through the same generated check packages."""
    namespaces = set(configured_namespaces())
    used = {package for module in policy.modules if (package := module_package(module.source))}
    return [*ROOTS, *sorted(ns.replace(".", "/") for ns in namespaces & used)]


def check_roots(policy: PolicySet) -> None:
    """OPA refuses to activate a bundle whose packages or data lie outside its roots: say so now."""
    allowed = [root.replace("/", ".") for root in roots(policy)]
    for module in policy.modules:
        package = module_package(module.source)
        if not any(package == root or package.startswith(root + ".") for root in allowed):
            raise BundleError(f"{module.name}: package {package or '?'} is outside the bundle root {DATA_ROOT!r}")
    outside = [key for key in policy.data if key != DATA_ROOT]
    if outside:
        raise BundleError(f"data document(s) {', '.join(outside)} are outside the bundle root {DATA_ROOT!r}")


def bundle_members(policy: PolicySet, revision: str) -> list[tuple[str, bytes]]:
    members = [
        ("/" + MANIFEST, json.dumps(manifest(policy, revision), indent=2, sort_keys=True).encode()),
        ("/data.json", json.dumps(with_derived_data(policy, for_bundle=True), indent=2, sort_keys=True).encode()),
    ]
    members += [("/" + module.name, module.source.encode()) for module in policy.modules]
    return sorted(members)


def bundle_bytes(policy: PolicySet, revision: str | None = None) -> bytes:
    revision = policy.revision if revision is None else revision
    check_roots(policy)
    return _archive(bundle_members(policy, revision))


def _archive(members: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def write_bundle(policy: PolicySet, output: Path, revision: str | None = None) -> BundleInfo:
    """Write the bundle atomically (a half-written bundle must never be picked up by OPA)."""
    data = bundle_bytes(policy, revision)
    _write_atomically(data, output)
    return info_for(policy, revision, len(data))


def _write_atomically(data: bytes, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".bundle-", dir=output.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def info_for(policy: PolicySet, revision: str | None, size: int) -> BundleInfo:
    return BundleInfo(
        revision=policy.revision if revision is None else revision,
        modules=tuple(module.name for module in policy.modules),
        data_documents=tuple(sorted(policy.data.get(DATA_ROOT, {}))),
        size=size,
    )


def cmd_policy_bundle(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """Exit 0 written, 2 when the directory cannot be bundled (one line on stderr): it does not load,
    does not compile, fails its Rego unit tests, or puts a package outside the bundle root."""
    if args.revision is not None and (not args.revision.strip() or args.revision != args.revision.strip()):
        print("ecs-admission: --revision must be a non-empty string without surrounding spaces", file=stderr)
        return 2
    directory = args.policy_dir or Settings.from_env().policy_dir
    try:
        policy = load_policy_set(directory)
        # Refuse to ship a partial set or one calling network builtins (engines/acceptance.py): the
        # sidecar would compile it without asking.
        try:
            accept(policy, engine="opa")
        except EngineError as exc:
            print(f"ecs-admission: cannot bundle: {exc.reason}", file=stderr)
            return 2
        # Refuse to ship policies that do not compile or fail their own Rego unit tests.
        check = self_check(policy)
        if not check.passed:
            print(f"ecs-admission: cannot bundle: {check.reason}", file=stderr)
            return 2
        if args.output == "-":
            data = bundle_bytes(policy, args.revision)
            target = getattr(stdout, "buffer", None) or sys.stdout.buffer
            target.write(data)
            target.flush()
            info = info_for(policy, args.revision, len(data))
        else:
            info = write_bundle(policy, Path(args.output), args.revision)
    except (PolicyError, BundleError) as exc:
        print(f"ecs-admission: cannot bundle: {exc}", file=stderr)
        return 2
    except OSError as exc:
        print(f"ecs-admission: cannot write {args.output}: {exc.strerror or exc}", file=stderr)
        return 2
    where = "standard output" if args.output == "-" else args.output
    summary = (
        f"wrote {where}: revision {info.revision}, {len(info.modules)} module(s), "
        f"data {', '.join(info.data_documents) or 'none'}, {info.size} bytes"
    )
    print(summary, file=stderr if args.output == "-" else stdout)
    return 0


# -- the decision-log mask: a bundle of its own ---------------------------------------------------
#
# OPA evaluates data.system.log.mask for every decision it logs. That package lies outside the
# policy bundle's root `ecs`, so it travels in a second bundle whose only root is system/log:
# `opa run --bundle ecs-admission.tar.gz --bundle log-mask.tar.gz` activates both (their roots do
# not overlap), and the policy bundle stays exactly what the engine evaluates.

MASK_PACKAGE = "system.log"
MASK_ROOTS = ("system/log",)


def mask_bundle_members(source: str, module_name: str, revision: str) -> list[tuple[str, bytes]]:
    package = module_package(source)
    if package != MASK_PACKAGE:
        raise BundleError(
            f"{module_name}: package {package or '?'} is not {MASK_PACKAGE}, which OPA applies as the mask"
        )
    manifest = {
        "revision": revision,
        "roots": list(MASK_ROOTS),
        "metadata": {"built_by": f"ecs-admission {__version__}", "purpose": "decision-log mask"},
    }
    return [
        ("/" + MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode()),
        (f"/system/log/{module_name}", source.encode()),
    ]


def cmd_policy_mask_bundle(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """Exit 0 written, 2 when the file cannot be read or is not a system.log policy (one line on stderr)."""
    path = Path(args.mask)
    try:
        source = path.read_text(encoding="utf-8")
        revision = args.revision or hashlib.sha256(source.encode()).hexdigest()[:16]
        data = _archive(mask_bundle_members(source, path.name, revision))
        _write_atomically(data, Path(args.output))
    except BundleError as exc:
        print(f"ecs-admission: cannot bundle: {exc}", file=stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"ecs-admission: cannot bundle the mask: {reason}", file=stderr)
        return 2
    print(f"wrote {args.output}: decision-log mask {path.name}, revision {revision}, roots system/log", file=stdout)
    return 0
