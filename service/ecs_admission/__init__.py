"""ecs-admission: a policy gate for Amazon ECS task definitions."""

__version__ = "0.1.0"
