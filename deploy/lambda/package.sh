#!/usr/bin/env bash
# Build the one deployment zip every ecs-admission Lambda runs from: the CodePipeline gate
# (deploy/codepipeline/gate-lambda.yaml), the detective (deploy/detective/detective.yaml) and the
# CloudFormation Lambda Hook (deploy/cloudformation-hook/hook.yaml); each names its own handler.
#
#   deploy/lambda/package.sh [OUT.zip]          # default dist/ecs-admission-lambda.zip
#   aws s3 cp dist/ecs-admission-lambda.zip s3://BUCKET/ecs-admission/lambda-0.1.0.zip
#
# Targets the python3.14 Lambda runtime on x86_64 (Amazon Linux 2023, glibc 2.34), whatever Python
# runs this script (PYTHON, default python3, 3.11 or later): every wheel is chosen for that runtime
# (--python-version, --platform, --only-binary), not for the building interpreter.
#
# OPA's Go evaluator (opa-golib-python-bindings, the in-process engine) is installed from
# engine-requirements.txt (pinned by version and hash) explicitly: pyproject.toml declares it with a
# `python_version >= "3.14"` marker, and pip evaluates markers against the interpreter running pip,
# so from Python 3.11-3.13 the package's own dependencies would leave it out and the Lambda would
# fail every invocation. The script checks the engine is in the package before writing the zip.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$(realpath -m "${1:-$repo/dist/ecs-admission-lambda.zip}")"
python="${PYTHON:-python3}"
python_version="${LAMBDA_PYTHON_VERSION:-3.14}"
# zip's compression level, 9 (smallest upload) unless ZIP_LEVEL says otherwise: the test suite builds
# with 1: the same files for about a fifth of the CPU.
zip_level="${ZIP_LEVEL:-9}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --no-compile: the bytecode pip would write is the building interpreter's (cpython-311 from a 3.11),
# which the runtime cannot use; the zip's -x pattern below missed the top-level __pycache__/ with it.
target=(--target "$work/package" --implementation cp --python-version "$python_version" --only-binary=:all:
  --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --no-compile)

"$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$repo"
"$python" -m pip install --quiet --disable-pip-version-check "${target[@]}" "$work"/wheel/*.whl
"$python" -m pip install --quiet --disable-pip-version-check "${target[@]}" --upgrade --no-deps --ignore-requires-python \
  --require-hashes -r "$repo/engine-requirements.txt"
if ! compgen -G "$work/package/opa_bindings/*.so" >/dev/null; then
  echo "package.sh: OPA's Go evaluator (opa_bindings) is not in the package; not writing $out" >&2
  exit 1
fi
# The webhook server's scripts are not needed in the Lambda.
rm -rf "$work/package/bin"
mkdir -p "$(dirname "$out")"
rm -f "$out"
(cd "$work/package" && zip -q -r "-$zip_level" "$out" . -x '*/__pycache__/*')
echo "$out ($(du -h "$out" | cut -f1)), handlers: ecs_admission.integrations.codepipeline.handler," \
  "ecs_admission.integrations.detective.handler, ecs_admission.integrations.cloudformation_hook.handler"
