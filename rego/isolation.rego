# Credential isolation: a container may reach only its own task's credentials.
#
# On EC2 every container that can reach the instance metadata service (IMDS) can take the
# instance role; one that can see the host (its processes, its files, the container runtime)
# can take every other task's credentials too. Each rule names the door it closes.

# METADATA
# title: Credential isolation
package ecs.checks.isolation

import rego.v1

import data.ecs.lib

# METADATA
# title: Task uses host network mode
# description: >-
#   The task shares the host's network namespace.
# custom:
#   id: ECS-ISO-001
#   severity: critical
#   enforcement: deny
#   remediation: >-
#     Use networkMode "awsvpc" (with ECS_AWSVPC_BLOCK_IMDS=true on the instances) so containers cannot
#     reach the instance role through IMDS.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
#   anchors:
#   - Security Hub ECS.17
#   - AWS Config ecs-task-definition-network-mode-not-host
#   - >-
#     Security Hub ECS.1 (retired) / AWS Config ecs-task-definition-user-for-host-mode-check
#   - Prowler ecs_task_definitions_host_networking_mode_users
#   - >-
#     KICS 9f4a9409-9c60-4671-be96-9716dbf63db1 / 027a4b7a-8a59-4938-a04f-ed532512cf45 (network mode
#     not awsvpc)
#   beyond_anchors: >-
#     ECS.1 and the user-for-host-mode Config rule pass host mode when a container is privileged (!)
#     or names a non-root user, and Prowler does not treat "0" as root; host mode exposes IMDS whatever
#     the user ("you can't prevent access"), so it is denied outright here.
findings contains finding if {
	input.task_definition.networkMode == "host"
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": "/networkMode",
		"message": "networkMode is \"host\": every container shares the instance's network and can reach the instance role's credentials through IMDS",
	}
}

# METADATA
# title: Container runs privileged
# description: >-
#   A privileged container has root on the host.
# custom:
#   id: ECS-ISO-002
#   severity: critical
#   enforcement: deny
#   remediation: >-
#     Remove "privileged" or set it to false; add the one Linux capability the container needs instead.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_security
#   anchors:
#   - Security Hub ECS.4
#   - AWS Config ecs-containers-nonprivileged
#   - Checkov CKV_AWS_334
#   - Prowler ecs_task_definitions_no_privileged_containers
#   beyond_anchors: >-
#     Checkov CKV_AWS_334 reads the key `privilege`, not `privileged`, so a real privileged container
#     passes it; ECS.1 passes privileged containers in host mode.
#   fix: >-
#     Removes "privileged" (false is ECS's default). Safe to apply: it invents nothing, and what
#     the container loses is exactly what this rule denies.
findings contains finding if {
	some i, container in input.task_definition.containerDefinitions
	container.privileged == true
	path := sprintf("/containerDefinitions/%d/privileged", [i])
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": path,
		"message": sprintf(
			"container %s runs privileged: it gets root on the host and every credential there",
			[lib.container_name(i, container)],
		),
		"fix": [{"op": "test", "path": path, "value": true}, {"op": "remove", "path": path}],
	}
}

# METADATA
# title: Task shares the host's process namespace
# description: >-
#   The task shares the host's process namespace.
# custom:
#   id: ECS-ISO-003
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Remove pidMode or set it to "task" so containers see only their own task's processes.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_definition_pidmode
#   anchors:
#   - Security Hub ECS.3
#   - AWS Config ecs-task-definition-pid-mode-check
#   - Checkov CKV_AWS_335
#   - Prowler ecs_task_definitions_host_namespace_not_shared
#   beyond_anchors: >-
#     Checkov CKV_AWS_335 looks for pidMode inside each container definition, where ECS never puts it
#     (it is a task-level field), so it does not fire on a real task definition.
#   fix: >-
#     Sets pidMode to "task": the task's containers still share one process namespace with each
#     other (what a sidecar that inspects its neighbours relies on), but no longer the instance's.
findings contains finding if {
	input.task_definition.pidMode == "host"
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": "/pidMode",
		"message": "pidMode is \"host\": containers see every process on the instance, including other tasks' environment",
		"fix": host_mode_fix("/pidMode"),
	}
}

# METADATA
# title: Task shares the host's IPC namespace
# description: >-
#   The task shares the host's IPC namespace.
# custom:
#   id: ECS-ISO-004
#   severity: high
#   enforcement: deny
#   remediation: Remove ipcMode or set it to "task" (or "none").
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_definition_ipcmode
#   beyond_anchors: No anchor checks ipcMode.
#   fix: >-
#     Sets ipcMode to "task": the task's containers still share IPC resources (shared memory) with
#     each other, but no longer with the instance.
findings contains finding if {
	input.task_definition.ipcMode == "host"
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": "/ipcMode",
		"message": "ipcMode is \"host\": containers share the instance's IPC namespace and can read other processes' shared memory",
		"fix": host_mode_fix("/ipcMode"),
	}
}

# METADATA
# title: Volume mounts a sensitive host path
# description: >-
#   Host paths that hand over the host (runtime sockets, /, /proc, /etc, the agent's state with
#   other tasks' credentials); parents of those (mounting /var/run hands over
#   /var/run/docker.sock) and paths that cannot be judged (relative, or with ..) count too.
# custom:
#   id: ECS-ISO-005
#   severity: critical
#   enforcement: deny
#   remediation: >-
#     Do not bind-mount the container runtime's socket, /, /proc, /sys, /etc, /dev or the agent's state
#     (/var/lib/ecs); use a Docker or EFS volume, or an exemption for a vetted host agent.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html
#   beyond_anchors: >-
#     No anchor checks host bind mounts. The Docker socket, the agent's state directory and /proc hand
#     a container every other task's credentials; parents of those paths (/var/run) and paths with `..`
#     count too.
findings contains finding if {
	some v, volume in input.task_definition.volumes
	source := volume.host.sourcePath
	is_string(source)
	reason := host_path_reason(source)
	name := object.get(volume, "name", "?")
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/volumes/%d/host/sourcePath", [v]),
		"message": sprintf("volume %s mounts host path %s (%s)%s", [name, source, reason, mounted_into(name)]),
	}
}

# METADATA
# title: Container adds a Linux capability that breaks isolation
# description: >-
#   Capabilities that break out of the container or its network isolation (NET_ADMIN can remove
#   the iptables rule that blocks IMDS inside an awsvpc task). Fargate allows only SYS_PTRACE to
#   be added, so that one is accepted when the task runs on Fargate alone.
# custom:
#   id: ECS-ISO-006
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Remove the capability from linuxParameters.capabilities.add (SYS_PTRACE is accepted on Fargate-only
#     tasks, where it is the one capability Fargate allows).
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/bestpracticesguide/security-tasks-containers.html
#   beyond_anchors: >-
#     No anchor checks added capabilities (AWS's best-practice guide recommends dropping them). NET_ADMIN
#     can remove the rule that blocks IMDS inside an awsvpc task; SYS_ADMIN, SYS_MODULE, ALL and friends
#     escape to the host.
#   fix: >-
#     Removes that one capability from capabilities.add; the other added capabilities, and drop,
#     stay as they are.
findings contains finding if {
	some i, container in input.task_definition.containerDefinitions
	some k, raw in container.linuxParameters.capabilities.add
	capability := trim_prefix(upper(raw), "CAP_")
	reason := dangerous_capabilities[capability]
	not fargate_ptrace(capability)
	path := sprintf("/containerDefinitions/%d/linuxParameters/capabilities/add/%d", [i, k])
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": path,
		"message": sprintf("container %s adds the Linux capability %s: %s", [lib.container_name(i, container), raw, reason]),
		"fix": [{"op": "test", "path": path, "value": raw}, {"op": "remove", "path": path}],
	}
}

# METADATA
# title: Static AWS credentials in the container environment
# description: >-
#   Static AWS keys win over the task role in every SDK's credential chain, never expire, and
#   are readable by anyone allowed DescribeTaskDefinition. Keys injected through `secrets` are
#   still long-lived keys that override the task role. Values are never echoed.
# custom:
#   id: ECS-ISO-007
#   severity: critical
#   enforcement: deny
#   remediation: >-
#     Remove the keys and grant the permissions to the task role; rotate the exposed keys now (anyone
#     allowed ecs:DescribeTaskDefinition can read them).
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
#   anchors:
#   - Security Hub ECS.8
#   - AWS Config ecs-no-environment-secrets
#   - Prowler ecs_task_definitions_no_environment_secrets
#   - Trivy AWS-0036
#   - KICS d40210ea-64b9-4cce-a4fb-e8604f3c062c
#   beyond_anchors: >-
#     ECS.8 and the Config rule match three names only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ECS_ENGINE_AUTH_DATA);
#     AWS_SESSION_TOKEN, a value shaped like an access key id under any name, and keys injected through
#     `secrets` (still long-lived, still overriding the task role) are caught here.
findings contains finding if {
	some key, reason in credential_variables
	[i, kind, e] := key
	container := input.task_definition.containerDefinitions[i]
	variable := container[kind][e]
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/%s/%d", [i, kind, e]),
		"message": sprintf(
			"container %s sets %s%s: static AWS credentials override the task role",
			[lib.container_name(i, container), object.get(variable, "name", "?"), reason],
		),
	}
}

# METADATA
# title: Secret-looking literal value in the container environment
# description: >-
#   A literal value under a secret-looking name belongs in `secrets` (Secrets Manager or
#   Parameter Store): environment values are visible to anyone who can describe the task
#   definition. A signed JWT, or a password inside a connection URI (postgres://app:pw@db/...),
#   is caught under any name, DATABASE_URL included. Names that hold a reference rather than the
#   secret (..._FILE, ..._ARN, ..._PATH) and values that are plainly not a secret (ARNs, paths and
#   secret names such as prod/payments/db, placeholders, host-only URLs, short numbers) pass.
#   Values are never echoed.
# custom:
#   id: ECS-ISO-008
#   severity: high
#   enforcement: warn
#   remediation: >-
#     Move the value to Secrets Manager or Parameter Store and reference it from `secrets`; rotate it,
#     since describe-task-definition shows it to anyone allowed to call it.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specifying-sensitive-data.html
#   anchors:
#   - Trivy AWS-0036
#   - Prowler ecs_task_definitions_no_environment_secrets
#   - KICS d40210ea-64b9-4cce-a4fb-e8604f3c062c
#   beyond_anchors: >-
#     Security Hub ECS.8 and AWS Config know only the AWS key names. Here: any secret-looking name with
#     a literal value, and private keys, signed JWTs, passwords in connection URIs and GitHub, GitLab,
#     Slack, Stripe and Google API tokens under any name; names and values that are references
#     (..._FILE, ..._ARN, ARNs, secret names and paths, placeholders) pass, and the value is never echoed.
findings contains finding if {
	some i, container in input.task_definition.containerDefinitions
	some e, variable in object.get(container, "environment", [])
	not credential_variables[[i, "environment", e]]
	reason := literal_reason(upper(object.get(variable, "name", "")), object.get(variable, "value", ""))
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/environment/%d", [i, e]),
		"message": sprintf(
			"container %s sets %s to a literal value %s (value not shown): pass it through `secrets` instead",
			[lib.container_name(i, container), object.get(variable, "name", "?"), reason],
		),
	}
}

# METADATA
# title: Bridge network mode on EC2 leaves IMDS reachable
# description: >-
#   Bridge mode (the default on EC2) leaves IMDS, and so the instance role, reachable from every
#   container unless the host drops 169.254.169.254 for docker0. An absent networkMode is
#   bridge: it must not pass as "not bridge".
# custom:
#   id: ECS-ISO-009
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Use networkMode "awsvpc" with ECS_AWSVPC_BLOCK_IMDS=true, or block 169.254.169.254 for docker0
#     on every instance (iptables, or IMDSv2 with a hop limit of 1).
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
#   anchors:
#   - AWS Config ecs-awsvpc-networking-enabled
#   - >-
#     KICS 9f4a9409-9c60-4671-be96-9716dbf63db1 (network mode not recommended)
#   beyond_anchors: >-
#     Those flag every mode other than awsvpc; here an absent networkMode is read as bridge (ECS's default
#     on EC2), tasks that can only run on Fargate or external instances are left alone, and the message
#     says what is at stake (the instance role).
findings contains finding if {
	object.get(input.task_definition, "networkMode", "bridge") == "bridge"
	ec2_possible
	not startswith(upper(object.get(input.task_definition, ["runtimePlatform", "operatingSystemFamily"], "LINUX")), "WINDOWS")
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": "/networkMode",
		"message": sprintf(
			"%s on EC2: containers can reach the instance role through IMDS unless the host blocks it%s",
			[network_mode_words, task_role_words],
		),
	}
}

# The fix of a task-level "host" namespace mode: the task's own namespace instead (checked first, so
# the patch never changes a value other than the one judged).
host_mode_fix(path) := [{"op": "test", "path": path, "value": "host"}, {"op": "replace", "path": path, "value": "task"}]

sensitive_host_paths := [
	"/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd", "/run/containerd",
	"/var/run/crio", "/run/crio", "/proc", "/sys", "/etc", "/root", "/boot", "/dev",
	"/var/lib/ecs", "/var/lib/docker", "/var/lib/containerd", "/var/log/ecs",
]

# "; mounted into container a, container b" for the containers that mount the volume, or "".
# Each container once, however often it mounts the volume; a set lookup per container (at most
# ten), not a walk over every mount point for every volume, which was quadratic (docs/hardening.md).
mounted_into(volume_name) := sprintf("; mounted into %s", [concat(", ", labels)]) if {
	labels := [sprintf("container %s", [lib.container_name(i, container)]) |
		some i, container in input.task_definition.containerDefinitions
		volume_name in mounted_volumes[i]
	]
	count(labels) > 0
} else := ""

# {container index: the names of the volumes it mounts}, worked out once per decision.
mounted_volumes := {i: names |
	some i, container in input.task_definition.containerDefinitions
	names := {mount.sourceVolume | some mount in object.get(container, "mountPoints", [])}
}

# Why a host path is sensitive, or undefined when it is not. Repeated and trailing slashes are
# collapsed first, so "//proc/" is judged as "/proc".
host_path_reason(source) := path_reason(sprintf("%s/", [trim_right(regex.replace(source, `/+`, "/"), "/")]))

path_reason("/") := "the host's root filesystem"

path_reason(path) := "a relative path that cannot be judged" if {
	path != "/"
	not startswith(path, "/")
}

path_reason(path) := "a path with .. that cannot be judged" if {
	startswith(path, "/")
	contains(path, "/../")
}

# Both sides end in "/", so "/etc/" neither covers nor lies inside "/etcetera/".
path_reason(path) := sprintf("covers %s", [under[0]]) if {
	path != "/"
	startswith(path, "/")
	not contains(path, "/../")
	under := [s | some s in sensitive_host_paths; startswith(sprintf("%s/", [s]), path)]
	count(under) > 0
} else := sprintf("inside %s", [above[0]]) if {
	path != "/"
	startswith(path, "/")
	not contains(path, "/../")
	above := [s | some s in sensitive_host_paths; startswith(path, sprintf("%s/", [s]))]
	count(above) > 0
}

dangerous_capabilities := {
	"ALL": "every capability, the same as privileged",
	"SYS_ADMIN": "it lets the container escape to the host",
	"NET_ADMIN": "it can rewrite the network rules that keep the container away from IMDS",
	"SYS_PTRACE": "it can read other processes' memory and environment on the host",
	"SYS_MODULE": "it lets the container escape to the host",
	"SYS_RAWIO": "it lets the container escape to the host",
	"DAC_READ_SEARCH": "it lets the container escape to the host",
	"MAC_ADMIN": "it lets the container escape to the host",
	"MAC_OVERRIDE": "it lets the container escape to the host",
	"BPF": "it lets the container escape to the host",
	"SYS_BOOT": "it lets the container escape to the host",
}

fargate_ptrace("SYS_PTRACE") if object.get(input.task_definition, "requiresCompatibilities", []) == ["FARGATE"]

credential_names := {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "ECS_ENGINE_AUTH_DATA"}

access_key_pattern := `(^|[^A-Z0-9])(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}([^A-Z0-9]|$)`

secret_name_words := [
	"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY",
	"ACCESS_KEY", "CREDENTIAL", "AUTH_KEY", "CLIENT_KEY", "SIGNING_KEY", "ENCRYPTION_KEY",
]

# Contains any of the words: one regex, not a loop over the words for every variable.
secret_name_pattern := concat("|", secret_name_words)

reference_suffixes := [
	"_FILE", "_PATH", "_ARN", "_NAME", "_ID", "_URL", "_URI", "_ENDPOINT", "_HOST", "_TYPE", "_LENGTH",
	"_TTL", "_EXPIRY", "_EXPIRATION", "_TIMEOUT", "_REGION", "_ENABLED", "_VERSION", "_HEADER", "_PARAM",
	"_PARAMETER", "_LOCATION", "_DIR", "_PREFIX",
]

secret_value_pattern := `-----BEGIN ([A-Z]+ )?PRIVATE KEY-----|^gh[pousr]_[A-Za-z0-9]{36,}$|^xox[abprs]-[A-Za-z0-9-]{10,}$|^(sk|rk)_live_[A-Za-z0-9]{16,}$|^AIza[0-9A-Za-z_-]{35}$|^glpat-[A-Za-z0-9_-]{20,}$`

harmless_values := {"", "true", "false", "yes", "no", "on", "off", "none", "null"}

# The variables and secrets that set static AWS credentials, read once for both rules that need
# them (ECS-ISO-006 reports them, ECS-ISO-008 leaves them to it): {[i, kind, e]: reason}.
credential_variables := {[i, kind, e]: reason |
	some i, container in input.task_definition.containerDefinitions
	some kind in ["environment", "secrets"]
	some e, variable in object.get(container, kind, [])
	reason := credential_reason(kind, variable)
}

credential_reason("environment", variable) := " in its environment" if {
	upper(object.get(variable, "name", "")) in credential_names
} else := " to a value shaped like an AWS access key id" if {
	regex.match(access_key_pattern, object.get(variable, "value", ""))
}

credential_reason("secrets", variable) := " from a secret" if {
	upper(object.get(variable, "name", "")) in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
}

literal_reason(name, value) := reason if {
	regex.match(credential_value_marks, value)
	reason := value_reason(value)
} else := "under a secret-looking name" if {
	regex.match(secret_name_pattern, name)
	not strings.any_suffix_match(name, reference_suffixes)
	not plainly_not_a_secret(value)
}

# Every value the three patterns below match has one of these marks (a PEM header, a token's
# prefix, "eyJ", or "://" then "@" with no "/" between): most values are settled by this one regex.
credential_value_marks := `-----BEGIN |^(gh[pousr]_|xox[abprs]-|[sr]k_live_|AIza|glpat-|eyJ)|://[^/]*@`

value_reason(value) := "that looks like a credential" if {
	regex.match(secret_value_pattern, value)
} else := "that is a signed JSON Web Token" if {
	regex.match(jwt_pattern, value)
} else := "that is a connection URI with a password in it" if {
	uri_password(value)
}

# A signed JWT (header.payload.signature, both JSON parts starting `{"`): a bearer credential under any name.
jwt_pattern := `^eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}$`

# scheme://user:password@host: the password is in the value whatever the name (DATABASE_URL too).
# A placeholder or an empty password (`postgres://app@db`, `postgres://app:${DB_PASSWORD}@db`) is not one.
uri_password(value) if {
	some match in regex.find_all_string_submatch_n(`^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s]*:([^/?#@\s]+)@`, value, 1)
	password := match[1]
	not lib.is_placeholder(password)
	not regex.match(`^(\*+|x+|X+|%2A)$`, password)
}

# Values that say where a secret is, or are plainly settings, not the secret itself: an ARN, a
# placeholder, a path (/run/secrets/db, prod/payments/db: a Secrets Manager name or a file), a
# URL naming only a host, a short number, true/false.
plainly_not_a_secret(value) if lower(trim_space(value)) in harmless_values

plainly_not_a_secret(value) if startswith(value, "arn:")

plainly_not_a_secret(value) if lib.is_placeholder(value)

plainly_not_a_secret(value) if regex.match(`^[0-9]{1,5}$`, value)

plainly_not_a_secret(value) if regex.match(reference_path_pattern, value)

plainly_not_a_secret(value) if regex.match(`^[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.-]+(:[0-9]+)?/?$`, value)

# Slash-separated names made of words (lowercase, or capitalised words as in prod/Payments/DbPassword):
# a random string has runs of capitals and digits between letters that these segments do not.
reference_path_pattern := `^/?(([A-Z]?[a-z]+|[0-9]+)([-_.]?([A-Z]?[a-z]+|[0-9]+))*/)+([A-Z]?[a-z]+|[0-9]+)([-_.]?([A-Z]?[a-z]+|[0-9]+))*/?$`

ec2_possible if count(object.get(input.task_definition, "requiresCompatibilities", [])) == 0

ec2_possible if "EC2" in object.get(input.task_definition, "requiresCompatibilities", [])

network_mode_words := "networkMode is \"bridge\"" if input.task_definition.networkMode else := "networkMode is not set (bridge by default)"

task_role_words := "; the task role does not isolate them" if {
	lib.non_empty_string(object.get(input.task_definition, "taskRoleArn", ""))
} else := ""
