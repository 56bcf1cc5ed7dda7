"""AWS partitions: the ARN prefix a Region's resources carry (aws, aws-cn, aws-us-gov)."""

from __future__ import annotations


def partition_of_region(region: str | None) -> str:
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
