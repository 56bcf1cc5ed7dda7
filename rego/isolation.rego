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

# What the functions below report, worked out once; each annotated `findings` rule
# below takes the findings of its own rule id (rego.metadata.rule()).
reported := check(input)

# METADATA
# title: Task uses host network mode
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Container runs privileged
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
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Task shares the host's process namespace
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
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Task shares the host's IPC namespace
# custom:
#   id: ECS-ISO-004
#   severity: high
#   enforcement: deny
#   remediation: Remove ipcMode or set it to "task" (or "none").
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_definition_ipcmode
#   beyond_anchors: No anchor checks ipcMode.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Volume mounts a sensitive host path
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Container adds a Linux capability that breaks isolation
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
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Static AWS credentials in the container environment
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Secret-looking literal value in the container environment
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
#     a literal value, and private keys and GitHub, GitLab, Slack, Stripe and Google API tokens under
#     any name; names and values that are references (..._FILE, ..._ARN, ARNs, placeholders) pass, and
#     the value is never echoed.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Bridge network mode on EC2 leaves IMDS reachable
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

check(doc) := (((host_modes(doc) | privileged(doc)) | host_paths(doc)) | (capabilities(doc) | credentials_and_literals(doc))) | bridge_on_ec2(doc)

# ECS-ISO-001 / 003 / 004: the task shares a host namespace.
host_mode_rules := {
	"networkMode": {"rule": "ECS-ISO-001", "message": "networkMode is \"host\": every container shares the instance's network and can reach the instance role's credentials through IMDS"},
	"pidMode": {"rule": "ECS-ISO-003", "message": "pidMode is \"host\": containers see every process on the instance, including other tasks' environment"},
	"ipcMode": {"rule": "ECS-ISO-004", "message": "ipcMode is \"host\": containers share the instance's IPC namespace and can read other processes' shared memory"},
}

host_modes(doc) := {f |
	some field in ["networkMode", "pidMode", "ipcMode"]
	doc.task_definition[field] == "host"
	meta := host_mode_rules[field]
	f := {"rule": meta.rule, "path": concat("", ["/", field]), "message": meta.message}
}

# ECS-ISO-002: a privileged container has root on the host.
privileged(doc) := {f |
	some i
	c := doc.task_definition.containerDefinitions[i]
	c.privileged == true
	f := {
		"rule": "ECS-ISO-002",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/privileged"]),
		"message": concat("", [
			"container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])),
			" runs privileged: it gets root on the host and every credential there",
		]),
	}
}

# ECS-ISO-005: host paths that hand over the host (runtime sockets, /, /proc, /etc, the agent's
# state with other tasks' credentials); parents of those (mounting /var/run hands over
# /var/run/docker.sock) and paths that cannot be judged (relative, or with ..) count too.
sensitive_host_paths := [
	"/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd", "/run/containerd",
	"/var/run/crio", "/run/crio", "/proc", "/sys", "/etc", "/root", "/boot", "/dev",
	"/var/lib/ecs", "/var/lib/docker", "/var/lib/containerd", "/var/log/ecs",
]

host_paths(doc) := {f |
	some v
	volume := doc.task_definition.volumes[v]
	source := volume.host.sourcePath
	is_string(source)
	reason := host_path_reason(source)
	name := object.get(volume, "name", "?")
	mounted_by := [concat("", ["container ", object.get(c, "name", concat("", ["#", format_int(i, 10)]))]) |
		some i
		c := doc.task_definition.containerDefinitions[i]
		some mount in object.get(c, "mountPoints", [])
		mount.sourceVolume == name
	]
	f := {
		"rule": "ECS-ISO-005",
		"path": concat("", ["/volumes/", format_int(v, 10), "/host/sourcePath"]),
		"message": concat("", [
			"volume ", name, " mounts host path ", source, " (", reason, ")",
			mounted_into(mounted_by),
		]),
	}
}

mounted_into(labels) := concat("", ["; mounted into ", concat(", ", labels)]) if count(labels) > 0 else := ""

# Why a host path is sensitive, or undefined when it is not. Repeated and trailing slashes are
# collapsed first, so "//proc/" is judged as "/proc".
host_path_reason(source) := reason if {
	path := concat("", [trim_right(regex.replace(source, `/+`, "/"), "/"), "/"])
	reason := path_reason(path)
}

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
path_reason(path) := concat("", ["covers ", under[0]]) if {
	path != "/"
	startswith(path, "/")
	not contains(path, "/../")
	under := [s |
		some s in sensitive_host_paths
		startswith(concat("", [s, "/"]), path)
	]
	count(under) > 0
} else := concat("", ["inside ", above[0]]) if {
	path != "/"
	startswith(path, "/")
	not contains(path, "/../")
	above := [s |
		some s in sensitive_host_paths
		startswith(path, concat("", [s, "/"]))
	]
	count(above) > 0
}

# ECS-ISO-006: capabilities that break out of the container or its network isolation (NET_ADMIN
# can remove the iptables rule that blocks IMDS inside an awsvpc task). Fargate allows only
# SYS_PTRACE to be added, so that one is accepted when the task runs on Fargate alone.
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

capabilities(doc) := {f |
	some i
	c := doc.task_definition.containerDefinitions[i]
	some k
	raw := c.linuxParameters.capabilities.add[k]
	capability := trim_prefix(upper(raw), "CAP_")
	reason := dangerous_capabilities[capability]
	not fargate_ptrace(doc, capability)
	f := {
		"rule": "ECS-ISO-006",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/linuxParameters/capabilities/add/", format_int(k, 10)]),
		"message": concat("", [
			"container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])),
			" adds the Linux capability ", raw, ": ", reason,
		]),
	}
}

fargate_ptrace(doc, "SYS_PTRACE") if object.get(doc.task_definition, "requiresCompatibilities", []) == ["FARGATE"]

# ECS-ISO-007: static AWS keys win over the task role in every SDK's credential chain, never
# expire, and are readable by anyone allowed DescribeTaskDefinition. Keys injected through
# `secrets` are still long-lived keys that override the task role.
# ECS-ISO-008: a literal value under a secret-looking name belongs in `secrets` (Secrets Manager
# or Parameter Store): environment values are visible to anyone who can describe the task
# definition. Names that hold a reference rather than the secret (..._FILE, ..._ARN, ..._PATH)
# and values that are references (ARNs) or placeholders pass.
# Values are never echoed.
#
# Environment lists can be long: each list's names and values are joined once and tested with
# contains; only a list with a hit is walked item by item.
credentials_and_literals(doc) := {f |
	some i
	c := doc.task_definition.containerDefinitions[i]
	some kind in ["environment", "secrets"]
	variables := object.get(c, kind, [])
	found := prefilter(kind, variables)
	count(found.hits) > 0
	some f in walk_variables(i, c, kind, candidates(variables, found.words), found.hits)
}

# The rules whose words the list contains, and those words.
prefilter(kind, variables) := {"hits": {m[0] | some m in matched}, "words": {m[1] | some m in matched}} if {
	count(variables) > 0
	names := concat(" ", [name | some v in variables; name := object.get(v, "name", "")])
	values := concat(" ", [value | some v in variables; value := object.get(v, "value", "")])
	text := upper(concat(" ", [names, values]))
	filters := object.get(prefilters, kind, {})
	matched := [[rule, word] |
		some rule
		words := filters[rule]
		some word in words
		contains(text, word)
	]
} else := {"hits": set(), "words": set()}

# Only an item whose own name or value holds one of the words the list matched can fire (every
# way a rule fires puts one of its words there), so only those are judged.
candidates(variables, words) := [[e, variable] |
	some e
	variable := variables[e]
	text := upper(concat(" ", [object.get(variable, "name", ""), object.get(variable, "value", "")]))
	count([word | some word in words; contains(text, word)]) > 0
]

walk_variables(i, c, kind, items, hits) := {f |
	some item in items
	e := item[0]
	variable := item[1]
	finding := variable_finding(kind, variable, hits)
	f := {
		"rule": finding.rule,
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/", kind, "/", format_int(e, 10)]),
		"message": concat("", [
			"container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])),
			" sets ", object.get(variable, "name", "?"), finding.text,
		]),
	}
}

# What a list must contain (names and values upper-cased) before its items are looked at, per rule.
prefilters := {
	"environment": {
		"ECS-ISO-007": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "ECS_ENGINE_AUTH_DATA", "AKIA", "ASIA", "ABIA", "ACCA"],
		"ECS-ISO-008": array.concat(secret_name_words, secret_value_hints),
	},
	"secrets": {"ECS-ISO-007": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]},
}

credential_names := {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "ECS_ENGINE_AUTH_DATA"}

access_key_pattern := `(^|[^A-Z0-9])(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}([^A-Z0-9]|$)`

secret_name_words := [
	"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY",
	"ACCESS_KEY", "CREDENTIAL", "AUTH_KEY", "CLIENT_KEY", "SIGNING_KEY", "ENCRYPTION_KEY",
]

reference_suffixes := [
	"_FILE", "_PATH", "_ARN", "_NAME", "_ID", "_URL", "_URI", "_ENDPOINT", "_HOST", "_TYPE", "_LENGTH",
	"_TTL", "_EXPIRY", "_EXPIRATION", "_TIMEOUT", "_REGION", "_ENABLED", "_VERSION", "_HEADER", "_PARAM",
	"_PARAMETER", "_LOCATION", "_DIR", "_PREFIX",
]

# Values that are secrets whatever the variable is called: private keys, GitHub, Slack, Stripe,
# Google API and GitLab tokens.
secret_value_hints := ["-----BEGIN", "GHP_", "GHO_", "GHU_", "GHS_", "GHR_", "XOX", "SK_LIVE_", "RK_LIVE_", "AIZA", "GLPAT-"]

secret_value_pattern := `-----BEGIN ([A-Z]+ )?PRIVATE KEY-----|^gh[pousr]_[A-Za-z0-9]{36,}$|^xox[abprs]-[A-Za-z0-9-]{10,}$|^(sk|rk)_live_[A-Za-z0-9]{16,}$|^AIza[0-9A-Za-z_-]{35}$|^glpat-[A-Za-z0-9_-]{20,}$`

harmless_values := {"", "true", "false", "yes", "no", "on", "off", "none", "null"}

variable_finding(kind, variable, hits) := {"rule": "ECS-ISO-007", "text": concat("", [reason, ": static AWS credentials override the task role"])} if {
	"ECS-ISO-007" in hits
	reason := credential_reason(kind, variable)
} else := {"rule": "ECS-ISO-008", "text": concat("", [" to a literal value ", reason, " (value not shown): pass it through `secrets` instead"])} if {
	"ECS-ISO-008" in hits
	reason := literal_reason(upper(object.get(variable, "name", "")), object.get(variable, "value", ""))
}

credential_reason(kind, variable) := " in its environment" if {
	kind == "environment"
	upper(object.get(variable, "name", "")) in credential_names
} else := " to a value shaped like an AWS access key id" if {
	kind == "environment"
	regex.match(access_key_pattern, object.get(variable, "value", ""))
} else := " from a secret" if {
	kind == "secrets"
	upper(object.get(variable, "name", "")) in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
}

literal_reason(name, value) := "that looks like a credential" if {
	regex.match(secret_value_pattern, value)
} else := "under a secret-looking name" if {
	some word in secret_name_words
	contains(name, word)
	not strings.any_suffix_match(name, reference_suffixes)
	not lower(trim_space(value)) in harmless_values
	not startswith(value, "arn:")
	not lib.is_placeholder(value)
}

# ECS-ISO-009: bridge mode (the default on EC2) leaves IMDS, and so the instance role, reachable
# from every container unless the host drops 169.254.169.254 for docker0. An absent networkMode
# is bridge: it must not pass as "not bridge".
bridge_on_ec2(doc) := {f |
	td := doc.task_definition
	mode := object.get(td, "networkMode", "bridge")
	mode == "bridge"
	launch_types := object.get(td, "requiresCompatibilities", [])
	ec2_possible(launch_types)
	not startswith(upper(object.get(td, ["runtimePlatform", "operatingSystemFamily"], "LINUX")), "WINDOWS")
	f := {
		"rule": "ECS-ISO-009",
		"path": "/networkMode",
		"message": concat("", [
			network_mode_words(td),
			" on EC2: containers can reach the instance role through IMDS unless the host blocks it",
			task_role_words(td),
		]),
	}
}

ec2_possible(launch_types) if count(launch_types) == 0

ec2_possible(launch_types) if "EC2" in launch_types

network_mode_words(td) := "networkMode is \"bridge\"" if td.networkMode else := "networkMode is not set (bridge by default)"

task_role_words(td) := "; the task role does not isolate them" if lib.non_empty_string(object.get(td, "taskRoleArn", "")) else := ""
