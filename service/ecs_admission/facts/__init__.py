"""Facts about the IAM roles a task definition names, in the shape the Rego policies read.

See docs/policies.md "The policy input" for the contract: `input.task_roles.<field>` for each role field.
"""
