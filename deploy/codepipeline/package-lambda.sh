#!/usr/bin/env bash
# Build the deployment zip for the CodePipeline gate Lambda (gate-lambda.yaml).
#
#   deploy/codepipeline/package-lambda.sh [OUT.zip]
#   aws s3 cp dist/ecs-admission-lambda.zip s3://BUCKET/ecs-admission/lambda-0.1.0.zip
#
# Targets the python3.14 Lambda runtime on x86_64 (Amazon Linux 2023, glibc 2.34): OPA's Go
# evaluator (opa-golib-python-bindings, the in-process engine) ships manylinux_2_34 wheels only and
# declares Python >= 3.14, so it installs there as an ordinary dependency.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$(realpath -m "${1:-$repo/dist/ecs-admission-lambda.zip}")"
python_version="${LAMBDA_PYTHON_VERSION:-3.14}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$repo"
python3 -m pip install --quiet --target "$work/package" \
  --implementation cp --python-version "$python_version" --only-binary=:all: \
  --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  "$work"/wheel/*.whl
# The webhook server is not needed in the Lambda; the package's own tests are not shipped.
rm -rf "$work/package/bin"
mkdir -p "$(dirname "$out")"
rm -f "$out"
(cd "$work/package" && zip -q -r -9 "$out" . -x '*/__pycache__/*')
echo "$out ($(du -h "$out" | cut -f1)), handler ecs_admission.integrations.codepipeline.handler"
