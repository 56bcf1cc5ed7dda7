# Credential isolation: a container may reach only its own task's credentials.
#
# On EC2 every container that can reach the instance metadata service (IMDS) can take the
# instance role; one that can see the host (its processes, its files, the container runtime)
# can take every other task's credentials too. Each rule names the door it closes.
package ecs.checks.isolation

import rego.v1

import data.ecs.lib

findings := check(input)

check(doc) := ((((host_network(doc) | privileged(doc)) | host_pid(doc)) | host_ipc(doc)) | host_paths(doc)) | (((capabilities(doc) | env_credentials(doc)) | secret_credentials(doc)) | (secret_literals(doc) | bridge_on_ec2(doc)))

# ECS-ISO-001: host network mode puts IMDS (and the instance role) in reach, and AWS says it
# cannot be blocked in that mode.
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

# ECS-ISO-004: the host IPC namespace lets a container read other processes' shared memory.
host_ipc(doc) := {f |
	lib.task_definition(doc).ipcMode == "host"
	f := lib.finding("ECS-ISO-004", "/ipcMode", concat("", [
		"ipcMode is \"host\": containers share the instance's IPC namespace ",
		"and can read other processes' shared memory",
	]))
}

# ECS-ISO-005: host paths that hand over the host (runtime sockets, /, /proc, /etc, the agent's
# state with other tasks' credentials). A path that contains `..` cannot be judged: it fires too.
sensitive_host_paths := [
	"/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd", "/run/containerd",
	"/var/run/crio", "/run/crio", "/proc", "/sys", "/etc", "/root", "/boot", "/dev",
	"/var/lib/ecs", "/var/lib/docker", "/var/lib/containerd", "/var/log/ecs",
]

host_paths(doc) := {f |
	vols := lib.volumes(doc)
	some vol_index
	volume := vols[vol_index]
	source := volume.host.sourcePath
	is_string(source)
	reason := host_path_danger(clean_path(source))
	mounted_by := [label |
		containers := lib.containers(doc)
		some container_index
		container := containers[container_index]
		some mount in object.get(container, "mountPoints", [])
		mount.sourceVolume == volume.name
		label := lib.container_label(container_index, container)
	]
	f := lib.finding(
		"ECS-ISO-005",
		concat("/", ["", "volumes", format_int(vol_index, 10), "host", "sourcePath"]),
		concat("", [
			"volume ", object.get(volume, "name", "?"), " mounts host path ", source, " (", reason, ")",
			mounted_into(mounted_by),
		]),
	)
}

mounted_into(labels) := "" if count(labels) == 0

mounted_into(labels) := concat("", ["; mounted into ", concat(", ", labels)]) if count(labels) > 0

# Collapse repeated slashes and drop a trailing one, so "//proc/" is judged as "/proc".
clean_path(path) := "/" if {
	trimmed := trim_right(regex.replace(path, `/+`, "/"), "/")
	trimmed == ""
} else := trim_right(regex.replace(path, `/+`, "/"), "/")

host_path_danger(path) := "the host's root filesystem" if path == "/"

host_path_danger(path) := "a relative path that cannot be judged" if {
	path != "/"
	contains(concat("", [path, "/"]), "/../")
}

host_path_danger(path) := "a relative path that cannot be judged" if {
	path != "/"
	not contains(concat("", [path, "/"]), "/../")
	not startswith(path, "/")
}

host_path_danger(path) := concat("", ["covers ", sensitive]) if {
	path != "/"
	not contains(concat("", [path, "/"]), "/../")
	startswith(path, "/")
	sensitive := first_sensitive_under(path)
}

host_path_danger(path) := concat("", ["inside ", sensitive]) if {
	path != "/"
	not contains(concat("", [path, "/"]), "/../")
	startswith(path, "/")
	not first_sensitive_under(path)
	sensitive := first_sensitive_above(path)
}

# A sensitive path at or below `path` (mounting /var/run hands over /var/run/docker.sock).
first_sensitive_under(path) := found[0] if {
	found := [s |
		some s in sensitive_host_paths
		path_within(s, path)
	]
	count(found) > 0
}

# A sensitive path that contains `path` (/proc/1/environ is inside /proc).
first_sensitive_above(path) := found[0] if {
	found := [s |
		some s in sensitive_host_paths
		path_within(path, s)
	]
	count(found) > 0
}

path_within(path, base) if path == base

path_within(path, base) if startswith(path, concat("", [base, "/"]))

# ECS-ISO-006: capabilities that break out of the container or its network isolation (NET_ADMIN
# can remove the iptables rule that blocks IMDS inside an awsvpc task). Fargate allows only
# SYS_PTRACE to be added, so that one is accepted when the task runs on Fargate alone.
dangerous_capabilities := {
	"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO",
	"DAC_READ_SEARCH", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "SYS_BOOT",
}

capabilities(doc) := {f |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	added := object.get(container, ["linuxParameters", "capabilities", "add"], [])
	some cap_index
	raw := added[cap_index]
	capability := trim_prefix(upper(raw), "CAP_")
	capability in dangerous_capabilities
	not allowed_capability(doc, capability)
	f := lib.finding(
		"ECS-ISO-006",
		concat("/", [lib.container_path(index, "linuxParameters"), "capabilities", "add", format_int(cap_index, 10)]),
		concat("", [lib.container_label(index, container), " adds the Linux capability ", raw, capability_reason(capability)]),
	)
}

allowed_capability(doc, "SYS_PTRACE") if lib.fargate_only(doc)

capability_reason(capability) := ": every capability, the same as privileged" if capability == "ALL"

capability_reason(capability) := ": it can rewrite the network rules that keep the container away from IMDS" if {
	capability == "NET_ADMIN"
}

capability_reason(capability) := ": it can read other processes' memory and environment on the host" if {
	capability == "SYS_PTRACE"
}

capability_reason(capability) := ": it lets the container escape to the host" if {
	not capability in {"ALL", "NET_ADMIN", "SYS_PTRACE"}
}

# ECS-ISO-007: static AWS keys in the environment win over the task role in every SDK's
# credential chain, never expire, and are readable by anyone allowed DescribeTaskDefinition.
# The value is never echoed.
credential_names := {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "ECS_ENGINE_AUTH_DATA"}

access_key_pattern := `(^|[^A-Z0-9])(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}([^A-Z0-9]|$)`

env_credentials(doc) := {f |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	env := object.get(container, "environment", [])
	some env_index
	variable := env[env_index]
	reason := static_credential_reason(variable)
	f := lib.finding(
		"ECS-ISO-007",
		concat("/", [lib.container_path(index, "environment"), format_int(env_index, 10)]),
		concat("", [lib.container_label(index, container), " sets ", object.get(variable, "name", "?"), reason]),
	)
}

# Keys injected from a secret are still long-lived keys, and they still override the task role.
secret_credentials(doc) := {f |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	secrets := object.get(container, "secrets", [])
	some secret_index
	secret := secrets[secret_index]
	upper(object.get(secret, "name", "")) in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
	f := lib.finding(
		"ECS-ISO-007",
		concat("/", [lib.container_path(index, "secrets"), format_int(secret_index, 10)]),
		concat("", [
			lib.container_label(index, container), " injects ", secret.name,
			" from a secret: static AWS credentials override the task role",
		]),
	)
}

static_credential_reason(variable) := " in its environment: static AWS credentials override the task role" if {
	upper(object.get(variable, "name", "")) in credential_names
} else := " to a value shaped like an AWS access key id: static AWS credentials override the task role" if {
	regex.match(access_key_pattern, object.get(variable, "value", ""))
}

# ECS-ISO-008: a literal value under a secret-looking name belongs in `secrets` (Secrets Manager
# or Parameter Store): environment values are visible to anyone who can describe the task
# definition. Names that hold a reference rather than the secret (…_FILE, …_ARN, …_PATH) and
# values that are references (ARNs) or placeholders pass. Never echo the value.
secret_name_words := ["PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY", "CREDENTIAL", "AUTH_KEY", "CLIENT_KEY", "SIGNING_KEY", "ENCRYPTION_KEY"]

reference_suffixes := [
	"_FILE", "_PATH", "_ARN", "_NAME", "_ID", "_URL", "_URI", "_ENDPOINT", "_HOST", "_TYPE", "_LENGTH",
	"_TTL", "_EXPIRY", "_EXPIRATION", "_TIMEOUT", "_REGION", "_ENABLED", "_VERSION", "_HEADER", "_PARAM",
	"_PARAMETER", "_LOCATION", "_DIR", "_PREFIX",
]

# Values that are secrets whatever the variable is called.
secret_value_patterns := [
	`-----BEGIN ([A-Z]+ )?PRIVATE KEY-----`,
	`^gh[pousr]_[A-Za-z0-9]{36,}$`,
	`^xox[abprs]-[A-Za-z0-9-]{10,}$`,
	`^(sk|rk)_live_[A-Za-z0-9]{16,}$`,
	`^AIza[0-9A-Za-z_-]{35}$`,
	`^glpat-[A-Za-z0-9_-]{20,}$`,
]

secret_literals(doc) := {f |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	env := object.get(container, "environment", [])
	some env_index
	variable := env[env_index]
	not static_credential_reason(variable)
	reason := secret_literal_reason(variable)
	f := lib.finding(
		"ECS-ISO-008",
		concat("/", [lib.container_path(index, "environment"), format_int(env_index, 10)]),
		concat("", [
			lib.container_label(index, container), " sets ", object.get(variable, "name", "?"),
			" to a literal value ", reason, " (value not shown): pass it through `secrets` instead",
		]),
	)
}

secret_literal_reason(variable) := "that looks like a credential" if {
	value := object.get(variable, "value", "")
	some pattern in secret_value_patterns
	regex.match(pattern, value)
} else := "under a secret-looking name" if {
	name := upper(object.get(variable, "name", ""))
	some word in secret_name_words
	contains(name, word)
	not names_a_reference(name)
	literal_secret_value(object.get(variable, "value", ""))
}

names_a_reference(name) if {
	some suffix in reference_suffixes
	endswith(name, suffix)
}

literal_secret_value(value) if {
	is_string(value)
	trim_space(value) != ""
	not lower(value) in {"true", "false", "yes", "no", "on", "off", "none", "null"}
	not startswith(value, "arn:")
	not lib.is_placeholder(value)
	not regex.match(`^\$\{[^}]*\}$`, value)
}

# ECS-ISO-009: bridge mode (the default on EC2) leaves IMDS, and so the instance role, reachable
# from every container unless the host drops 169.254.169.254 for docker0.
bridge_on_ec2(doc) := {f |
	lib.runs_on_ec2(doc)
	mode := object.get(lib.task_definition(doc), "networkMode", "bridge")
	mode in {"bridge", "default"}
	not lib.is_windows(doc)
	f := lib.finding("ECS-ISO-009", "/networkMode", concat("", [
		network_mode_words(lib.task_definition(doc)),
		" on EC2: containers can reach the instance role through IMDS unless the host blocks it",
		task_role_words(doc),
	]))
}

network_mode_words(td) := "networkMode is \"bridge\"" if td.networkMode == "bridge"

network_mode_words(td) := concat("", ["networkMode is \"", td.networkMode, "\""]) if {
	td.networkMode != "bridge"
}

network_mode_words(td) := "networkMode is not set (bridge by default)" if not td.networkMode

task_role_words(doc) := "; the task role does not isolate them" if lib.has_task_role(doc)

task_role_words(doc) := "" if not lib.has_task_role(doc)
