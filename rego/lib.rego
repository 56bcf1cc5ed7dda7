# Helpers shared by the check packages: pure functions of their arguments.
#
# Engine constraints (regopy 1.5.2; README "Writing and testing policies"): build strings with concat
# and format_int, never sprintf (it quotes string literals); inside comprehensions bind an index
# with `some i` rather than `some i, x in xs`; never `with` (regopy crashes on it); never name a
# `some` variable after a rule of the same package (regopy binds the rule instead); never index
# with a function parameter (`obj[param]`: inside a comprehension regopy iterates every key), use
# object.get. policy.py refuses all of these at load. That is why every check is a function of
# the document it judges: tests call it with explicit arguments.
package ecs.lib

import rego.v1

task_definition(doc) := object.get(doc, "task_definition", {})

containers(doc) := object.get(task_definition(doc), "containerDefinitions", [])

volumes(doc) := object.get(task_definition(doc), "volumes", [])

task_roles(doc) := object.get(doc, "task_roles", {})

context(doc) := object.get(doc, "context", {})

# The deploy account when the request (or ECS_ADMISSION_ACCOUNT) names one; undefined otherwise.
deploy_account(doc) := account if {
	account := context(doc).account
	non_empty_string(account)
}

# A name a person recognises in a message: the container's name, else its position.
container_label(index, container) := concat(" ", ["container", container.name]) if {
	is_string(container.name)
} else := concat("", ["container #", format_int(index, 10)])

# RFC 6901 pointer into the normalised task definition.
container_path(index, field) := concat("/", ["", "containerDefinitions", format_int(index, 10), field])

# Unrendered template syntax: CodeDeploy's <TASK_ROLE_ARN>, envsubst/Terraform ${VAR},
# Mustache/Jinja {{var}}, the ECS agent's test fixtures' $$$VAR$$$. Nothing there can be judged yet.
placeholder_pattern := `<[A-Za-z][A-Za-z0-9_.-]*>|\$\{[^}]+\}|\{\{[^}]+\}\}|\$\$\$[A-Za-z0-9_]+\$\$\$`

# The regex is costly on the embedded engine (compiled per call): a cheap test on the characters
# every placeholder needs comes first.
is_placeholder(value) if {
	is_string(value)
	[contains(value, "<"), contains(value, "{"), contains(value, "$$$")] != [false, false, false]
	regex.match(placeholder_pattern, value)
}

launch_types(doc) := {launch_type |
	some launch_type in object.get(task_definition(doc), "requiresCompatibilities", [])
}

# Launch types where the agent pulls ECR images and ships awslogs with the execution role only
# (there is no instance role to fall back on): ECS task_execution_IAM_role "when required".
agent_needs_execution_role_launch_types := {"FARGATE", "EXTERNAL", "MANAGED_INSTANCES"}

needs_execution_role_for_pull(doc) if {
	some launch_type in launch_types(doc)
	launch_type in agent_needs_execution_role_launch_types
}

# Fargate is the only launch type: Fargate rules (capabilities, awsvpc) then hold for every run.
fargate_only(doc) if launch_types(doc) == {"FARGATE"}

# EC2 is possible: listed, or nothing listed (RegisterTaskDefinition then defaults to EC2).
runs_on_ec2(doc) if "EC2" in launch_types(doc)

runs_on_ec2(doc) if count(launch_types(doc)) == 0

# Windows tasks: several Linux-only settings (user, readonlyRootFilesystem) do not apply.
is_windows(doc) if {
	family := object.get(task_definition(doc), ["runtimePlatform", "operatingSystemFamily"], "")
	startswith(upper(family), "WINDOWS")
}

non_empty_string(value) if {
	is_string(value)
	value != ""
}

has_execution_role(doc) if non_empty_string(object.get(task_definition(doc), "executionRoleArn", ""))

has_task_role(doc) if non_empty_string(object.get(task_definition(doc), "taskRoleArn", ""))

# A private Amazon ECR image (public.ecr.aws needs no credentials).
is_private_ecr_image(image) if {
	is_string(image)
	regex.match(`^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/`, image)
}

# The registry host of an image reference, as Docker reads it: the first path component when it
# looks like a host (has a dot or a port, or is localhost), else Docker Hub.
image_registry(image) := registry if {
	parts := split(image, "/")
	count(parts) > 1
	looks_like_host(parts[0])
	registry := lower(parts[0])
} else := "docker.io"

looks_like_host(component) if contains(component, ".")

looks_like_host(component) if contains(component, ":")

looks_like_host(component) if component == "localhost"

role_kind := {"taskRoleArn": "task role", "executionRoleArn": "execution role"}

# "task role app-task" / "execution role arn:...": the words a person uses, then the field.
role_label(field, role) := concat("", [object.get(role_kind, field, "role"), " ", role_display(role), " (", field, ")"])

role_display(role) := role.name if non_empty_string(role.name) else := object.get(role, "reference", "?")

# The account a role's trust policy should be read against: the deploy account, else the role's own.
home_account(doc, role) := deploy_account(doc)

home_account(doc, role) := role.account if {
	not deploy_account(doc)
	non_empty_string(role.account)
}

# The platform team's settings (config.yaml), or none: a missing document must not hide findings.
config := data.ecs.config if is_object(data.ecs.config) else := {}

# Settings from data.ecs.config (config.yaml), with the defaults README documents.
settings(config) := {
	"trusted_accounts": {a | some a in object.get(config, "trusted_accounts", [])},
	"allowed_registries": object.get(config, "allowed_registries", []),
}

# Comma-separated, for messages; `limit` keeps a long list readable.
join_limited(items, limit) := concat(", ", items) if {
	count(items) <= limit
} else := concat("", [
	concat(", ", array.slice(items, 0, limit)),
	", and ", format_int(count(items) - limit, 10), " more",
])

finding(rule, path, message) := {"rule": rule, "path": path, "message": message}
