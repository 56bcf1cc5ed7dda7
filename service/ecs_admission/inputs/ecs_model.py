"""botocore's ECS service model as the tree of fields inputs/fields.py checks keys against, without
importing botocore.

Importing botocore and loading the model took 0.2 s of a cold `ecs-admission check` that makes no
AWS call. The model is a data file inside botocore's package, found here without importing it; the
tree worked out from it is kept beside this module (ecs_api_fields.json) with the digest of the
model file it came from, and used only while the installed botocore still has that very file.
Another botocore (an upgrade) is read directly, 60 ms, until the file is written again:
`python -m ecs_admission.inputs.ecs_model --write`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

# Request and response shapes of a task definition: describe output adds read-only fields.
ROOT_SHAPES = ("RegisterTaskDefinitionRequest", "TaskDefinition")
SHIPPED = Path(__file__).with_name("ecs_api_fields.json")

# A tree of known fields: a dict (structure: field -> subtree), the string "map" (keys are data),
# or None (a scalar: nothing below it to check). Lists are transparent: their subtree is the member's.
Tree = dict[str, Any] | str | None


def model_file() -> Path:
    """botocore's ECS service-2 model file (the newest API version it ships)."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("botocore is not installed")
    versions = sorted((Path(next(iter(spec.submodule_search_locations))) / "data" / "ecs").iterdir())
    for candidate in (versions[-1] / "service-2.json.gz", versions[-1] / "service-2.json"):
        if candidate.is_file():
            return candidate
    raise RuntimeError(f"no ECS service model in {versions[-1]}")


def _tree(shapes: dict[str, Any], name: str, seen: frozenset[str] = frozenset()) -> Tree:
    shape = shapes[name]
    kind = shape.get("type")
    if kind == "list":
        return _tree(shapes, shape["member"]["shape"], seen)
    if kind == "map":
        return "map"
    if kind != "structure" or name in seen:
        return None
    return {member: _tree(shapes, spec["shape"], seen | {name}) for member, spec in shape["members"].items()}


def tree_from_model(raw: bytes, gzipped: bool) -> tuple[dict[str, Any], str]:
    import gzip  # only when the shipped tree was not made from this model (rare; not on a cold `check`)

    model = json.loads(gzip.decompress(raw) if gzipped else raw)
    shapes = model["shapes"]
    root: dict[str, Any] = {}
    for name in ROOT_SHAPES:
        tree = _tree(shapes, name)
        assert isinstance(tree, dict)
        root.update(tree)
    return root, str(model.get("metadata", {}).get("apiVersion", ""))


def load_known() -> tuple[dict[str, Any], str]:
    """(tree of known fields, API version): the shipped tree if it was made from the installed model."""
    path = model_file()
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        shipped = json.loads(SHIPPED.read_text())
        if shipped.get("model_sha256") == digest:
            return shipped["fields"], shipped["api_version"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    return tree_from_model(raw, path.suffix == ".gz")


def write_shipped() -> Path:
    path = model_file()
    raw = path.read_bytes()
    fields, api_version = tree_from_model(raw, path.suffix == ".gz")
    document = {
        "model": f"botocore data/ecs/{path.parent.name}/{path.name}",
        "model_sha256": hashlib.sha256(raw).hexdigest(),
        "api_version": api_version,
        "fields": fields,
    }
    SHIPPED.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n")
    return SHIPPED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecs_admission.inputs.ecs_model")
    parser.add_argument("--write", action="store_true", help=f"write {SHIPPED.name} from the installed botocore")
    args = parser.parse_args(argv)
    if args.write:
        print(f"wrote {write_shipped()}")
    else:
        print(json.dumps({"model": str(model_file())}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
