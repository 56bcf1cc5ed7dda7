# Helpers shared by the check packages: small named functions of their arguments, and the
# platform team's settings.
package ecs.lib

import rego.v1

# The platform team's settings (config.yaml), or none: a missing document must not hide findings.
config := data.ecs.config if is_object(data.ecs.config) else := {}

# Unrendered template syntax: CodeDeploy's <TASK_ROLE_ARN>, envsubst/Terraform ${VAR},
# Mustache/Jinja {{var}}, the ECS agent's test fixtures' $$$VAR$$$. Nothing there can be judged yet.
placeholder_pattern := `<[A-Za-z][A-Za-z0-9_.-]*>|\$\{[^}]+\}|\{\{[^}]+\}\}|\$\$\$[A-Za-z0-9_]+\$\$\$`

# Every placeholder holds one of <, { or $$$: most values are settled without the regex.
is_placeholder(value) if {
	is_string(value)
	[contains(value, "<"), contains(value, "{"), contains(value, "$$$")] != [false, false, false]
	regex.match(placeholder_pattern, value)
}

non_empty_string(value) if {
	is_string(value)
	value != ""
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

# "task role app-task (taskRoleArn)": the words a person uses, then the field.
role_label(field, role) := sprintf("%s %s (%s)", [object.get(role_kind, field, "role"), role_display(role), field])

role_display(role) := role.name if non_empty_string(role.name) else := object.get(role, "reference", "?")

# The account a role's trust policy is read against: the deploy account, else the role's own.
home_account(role) := account if {
	account := input.context.account
	non_empty_string(account)
} else := account if {
	account := role.account
	non_empty_string(account)
}

# Comma-separated, for messages; `limit` keeps a long list readable.
join_limited(items, limit) := concat(", ", items) if {
	count(items) <= limit
} else := sprintf("%s, and %d more", [concat(", ", array.slice(items, 0, limit)), count(items) - limit])

# "api", or "#2" for the third container when it has no name: how messages name a container.
container_name(index, container) := object.get(container, "name", sprintf("#%d", [index]))
