"""A task definition of many host volumes, each mounted into one container: the shape that made a
104 MB answer and a 1 GB worker (issue 21), for the gate's and the server's bounded-answer tests."""

from __future__ import annotations


def volumes_and_mounts(volumes: int, mounts: int, same_name: bool) -> dict:
    name = (lambda i: "v") if same_name else str
    return {
        "family": "volumes",
        "volumes": [{"name": name(i), "host": {"sourcePath": "/"}} for i in range(volumes)],
        "containerDefinitions": [
            {
                "name": "a",
                "image": "nginx:1.27",
                "mountPoints": [{"sourceVolume": name(i), "containerPath": f"/{i}"} for i in range(mounts)],
            }
        ],
    }
