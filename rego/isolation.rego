# Credential isolation: a container may reach only its own task's credentials.
package ecs.checks.isolation

import rego.v1

import data.ecs.lib

findings := check(input)

check(doc) := host_network(doc) | privileged(doc) | host_pid(doc)

# ECS-ISO-001: host network mode puts the instance metadata service (and the instance role) in reach.
host_network(doc) := {f |
	lib.task_definition(doc).networkMode == "host"
	f := lib.finding("ECS-ISO-001", "/networkMode", concat("", [
		"networkMode is \"host\": every container shares the instance's network and can reach ",
		"the instance role's credentials through IMDS",
	]))
}

# ECS-ISO-002: a privileged container has root on the host.
privileged(doc) := {f |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	container.privileged == true
	f := lib.finding("ECS-ISO-002", lib.container_path(index, "privileged"), concat(" ", [
		lib.container_label(index, container),
		"runs privileged: it gets root on the host and every credential there",
	]))
}

# ECS-ISO-003: sharing the host's process namespace exposes other tasks' processes and environment.
host_pid(doc) := {f |
	lib.task_definition(doc).pidMode == "host"
	f := lib.finding("ECS-ISO-003", "/pidMode", concat("", [
		"pidMode is \"host\": containers see every process on the instance, ",
		"including other tasks' environment",
	]))
}
