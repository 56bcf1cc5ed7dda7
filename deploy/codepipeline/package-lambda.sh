#!/usr/bin/env bash
# Kept for the stacks and docs that name this path: the one Lambda package (CodePipeline gate,
# detective, CloudFormation hook) is built by deploy/lambda/package.sh, with the same arguments.
#
#   deploy/codepipeline/package-lambda.sh [OUT.zip]
exec "$(dirname "${BASH_SOURCE[0]}")/../lambda/package.sh" "$@"
