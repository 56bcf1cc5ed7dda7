package ecs.checks.isolation_test

import rego.v1

import data.ecs.checks.isolation

task(overrides) := {"task_definition": object.union(
	{"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}]},
	overrides,
)}

container(fields) := task({"networkMode": "awsvpc", "containerDefinitions": [object.union({"name": "app", "image": "nginx:1.27"}, fields)]})

findings_of(doc) := found if {
	found := isolation.findings with input as doc
}

rule_ids(findings) := {f.rule | some f in findings}

fired(rule_id, doc) if rule_id in rule_ids(findings_of(doc))

messages(rule_id, doc) := {f.message | some f in findings_of(doc); f.rule == rule_id}

paths(rule_id, doc) := {f.path | some f in findings_of(doc); f.rule == rule_id}

# A check must never be undefined (its package's findings would vanish): an empty document
# still yields a set (here the bridge warning, since an absent networkMode is bridge on EC2).
test_empty_document_is_defined if {
	findings_of({}) == set()
	rule_ids(findings_of({"task_definition": {}})) == {"ECS-ISO-009"}
}

# ECS-ISO-001 host network

test_host_network_fires if fired("ECS-ISO-001", task({"networkMode": "host"}))

test_awsvpc_network_does_not_fire if not fired("ECS-ISO-001", task({"networkMode": "awsvpc"}))

test_missing_network_mode_does_not_fire_host_rule if not fired("ECS-ISO-001", task({}))

# ECS-ISO-002 privileged

test_privileged_fires_with_path_and_name if {
	findings := findings_of(task({"containerDefinitions": [
		{"name": "app", "image": "nginx"},
		{"name": "agent", "image": "datadog/agent", "privileged": true},
	]}))
	some f in findings
	f.rule == "ECS-ISO-002"
	f.path == "/containerDefinitions/1/privileged"
	startswith(f.message, "container agent runs privileged")
}

test_privileged_unnamed_container_uses_position if {
	some f in findings_of(task({"containerDefinitions": [{"privileged": true}]}))
	f.rule == "ECS-ISO-002"
	startswith(f.message, "container #0 ")
}

test_privileged_false_does_not_fire if not fired("ECS-ISO-002", container({"privileged": false}))

test_privileged_absent_does_not_fire if not fired("ECS-ISO-002", container({}))

# ECS-ISO-003 pidMode / ECS-ISO-004 ipcMode

test_host_pid_fires if fired("ECS-ISO-003", task({"pidMode": "host"}))

test_task_pid_does_not_fire if not fired("ECS-ISO-003", task({"pidMode": "task"}))

test_host_ipc_fires if fired("ECS-ISO-004", task({"ipcMode": "host"}))

test_task_ipc_does_not_fire if {
	not fired("ECS-ISO-004", task({"ipcMode": "task"}))
	not fired("ECS-ISO-004", task({"ipcMode": "none"}))
	not fired("ECS-ISO-004", task({}))
}

# ECS-ISO-005 host paths

host_volume(source) := task({
	"volumes": [{"name": "v", "host": {"sourcePath": source}}],
	"containerDefinitions": [{"name": "app", "image": "nginx:1", "mountPoints": [{"sourceVolume": "v", "containerPath": "/x"}]}],
})

test_docker_socket_fires_and_names_container if {
	some f in findings_of(host_volume("/var/run/docker.sock"))
	f.rule == "ECS-ISO-005"
	f.path == "/volumes/0/host/sourcePath"
	contains(f.message, "mounted into container app")
}

test_sensitive_paths_fire if {
	every source in ["/", "//", "/proc", "/proc/1/environ", "/etc/", "/var/lib/ecs", "/var/lib/ecs/data", "/run/containerd/containerd.sock", "/var/run", "/var", "/sys/fs/cgroup"] {
		doc := host_volume(source)
		fired("ECS-ISO-005", doc)
	}
}

test_traversal_and_relative_paths_fire if {
	fired("ECS-ISO-005", host_volume("/data/../etc"))
	fired("ECS-ISO-005", host_volume("data"))
}

test_ordinary_host_paths_do_not_fire if {
	every source in ["/data", "/mnt/shared", "/var/log/app", "/opt/app/config", "/etcetera", "/procfs-backup"] {
		doc := host_volume(source)
		not fired("ECS-ISO-005", doc)
	}
}

test_volume_without_host_path_does_not_fire if {
	not fired("ECS-ISO-005", task({"volumes": [{"name": "scratch"}, {"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]}))
}

# ECS-ISO-006 capabilities

caps(added, launch_types) := task({
	"requiresCompatibilities": launch_types,
	"containerDefinitions": [{"name": "app", "image": "nginx:1", "linuxParameters": {"capabilities": {"add": added}}}],
})

test_dangerous_capabilities_fire_with_path if {
	paths("ECS-ISO-006", caps(["CHOWN", "SYS_ADMIN"], ["EC2"])) == {"/containerDefinitions/0/linuxParameters/capabilities/add/1"}
	fired("ECS-ISO-006", caps(["NET_ADMIN"], ["FARGATE"]))
	fired("ECS-ISO-006", caps(["ALL"], ["EC2"]))
	fired("ECS-ISO-006", caps(["cap_sys_admin"], []))
}

test_sys_ptrace_fires_outside_fargate if {
	fired("ECS-ISO-006", caps(["SYS_PTRACE"], ["EC2"]))
	fired("ECS-ISO-006", caps(["SYS_PTRACE"], []))
	fired("ECS-ISO-006", caps(["SYS_PTRACE"], ["FARGATE", "EC2"]))
}

test_sys_ptrace_allowed_on_fargate_only if not fired("ECS-ISO-006", caps(["SYS_PTRACE"], ["FARGATE"]))

test_harmless_capabilities_do_not_fire if not fired("ECS-ISO-006", caps(["CHOWN", "NET_BIND_SERVICE"], ["EC2"]))

# ECS-ISO-007 static credentials

env(variables) := container({"environment": variables})

test_aws_key_names_fire if {
	every name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "ECS_ENGINE_AUTH_DATA", "aws_access_key_id"] {
		doc := env([{"name": name, "value": "x"}])
		fired("ECS-ISO-007", doc)
	}
}

test_access_key_shaped_value_fires_without_echoing_it if {
	doc := env([{"name": "UPLOADER", "value": "AKIAIOSFODNN7EXAMPLE"}])
	some message in messages("ECS-ISO-007", doc)
	not contains(message, "AKIAIOSFODNN7EXAMPLE")
	contains(message, "UPLOADER")
}

test_keys_injected_from_secrets_fire if {
	doc := container({"secrets": [{"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": "arn:aws:secretsmanager:us-east-1:111122223333:secret:k"}]})
	paths("ECS-ISO-007", doc) == {"/containerDefinitions/0/secrets/0"}
}

test_ordinary_environment_does_not_fire if {
	doc := env([{"name": "AWS_REGION", "value": "us-east-1"}, {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"}, {"name": "ID", "value": "AKIA-not-a-key"}])
	not fired("ECS-ISO-007", doc)
}

# ECS-ISO-008 secret-looking literals

test_secret_looking_names_fire_without_echoing_value if {
	doc := env([{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "STRIPE_API_KEY", "value": "abc"}, {"name": "GITHUB_TOKEN", "value": "t"}])
	count(paths("ECS-ISO-008", doc)) == 3
	every message in messages("ECS-ISO-008", doc) {
		not contains(message, "hunter2")
	}
}

test_credential_shaped_values_fire_under_any_name if {
	fired("ECS-ISO-008", env([{"name": "CONFIG", "value": "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]))
	fired("ECS-ISO-008", env([{"name": "KEY", "value": "-----BEGIN RSA PRIVATE KEY-----\nMIIE"}]))
}

test_references_and_harmless_values_do_not_fire if {
	doc := env([
		{"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"},
		{"name": "DB_SECRET_ARN", "value": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db"},
		{"name": "API_TOKEN", "value": "arn:aws:ssm:us-east-1:111122223333:parameter/token"},
		{"name": "SECRET", "value": ""},
		{"name": "TOKEN_REFRESH", "value": "true"},
		{"name": "AUTH_SECRET", "value": "<AUTH_SECRET>"},
		{"name": "LOG_LEVEL", "value": "debug"},
	])
	not fired("ECS-ISO-008", doc)
}

# Prowler's peer expectations (issue 21): a signed JWT and a password in a connection URI are secrets
# under any name, _URL names included; a name that merely contains SECRET over a plain reference is not.
jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

test_signed_jwt_fires_under_any_name_without_echoing_it if {
	doc := env([{"name": "CONFIG_BLOB", "value": jwt}])
	fired("ECS-ISO-008", doc)
	every message in messages("ECS-ISO-008", doc) {
		not contains(message, "eyJ")
		contains(message, "JSON Web Token")
	}
}

test_unsigned_or_truncated_jwt_shapes_do_not_fire_by_value if {
	not fired("ECS-ISO-008", env([{"name": "HEADER", "value": "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."}]))
}

test_password_in_a_connection_uri_fires_even_under_a_url_name if {
	every name in ["DATABASE_URL", "DB_URI", "CONN", "REDIS_ENDPOINT"] {
		doc := env([{"name": name, "value": "postgres://app:pw@db/payments"}])
		fired("ECS-ISO-008", doc)
		every message in messages("ECS-ISO-008", doc) {
			not contains(message, "app:pw")
			contains(message, "connection URI with a password")
		}
	}
	fired("ECS-ISO-008", env([{"name": "BROKER", "value": "amqps://svc:s3cr%40t@mq.internal:5671/vhost"}]))
}

test_connection_uris_without_a_password_do_not_fire if {
	doc := env([
		{"name": "DATABASE_URL", "value": "postgres://app@db/payments"},
		{"name": "REDIS_URL", "value": "redis://cache.internal:6379/0"},
		{"name": "DB_URL", "value": "postgres://app:${DB_PASSWORD}@db/payments"},
		{"name": "MONGO_URL", "value": "mongodb://app:<MONGO_PASSWORD>@mongo/app"},
		{"name": "SECRET_STORE", "value": "https://vault.internal:8200"},
	])
	not fired("ECS-ISO-008", doc)
}

test_secret_named_references_do_not_fire if {
	doc := env([
		{"name": "DB_SECRET", "value": "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf"},
		{"name": "APP_SECRET", "value": "prod/payments/db"},
		{"name": "SECRETS", "value": "/run/secrets/db_password"},
		{"name": "SECRET_SOURCE", "value": "prod/Payments/DbPassword"},
		{"name": "TOKEN_LIFETIME", "value": "3600"},
		{"name": "USE_SECRETS_MANAGER", "value": "true"},
	])
	not fired("ECS-ISO-008", doc)
}

test_secret_named_values_that_could_be_secrets_still_fire if {
	every value in ["hunter2", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "c2VjcmV0/dmFsdWU=", "https://x:y@h", "123456789"] {
		fired("ECS-ISO-008", env([{"name": "APP_SECRET", "value": value}]))
	}
}

test_static_credential_is_not_reported_twice if {
	doc := env([{"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI"}])
	fired("ECS-ISO-007", doc)
	not fired("ECS-ISO-008", doc)
}

# ECS-ISO-009 bridge on EC2

test_bridge_on_ec2_fires if {
	fired("ECS-ISO-009", task({"networkMode": "bridge", "requiresCompatibilities": ["EC2"]}))
	some message in messages("ECS-ISO-009", task({"networkMode": "bridge", "taskRoleArn": "arn:aws:iam::111122223333:role/app"}))
	contains(message, "the task role does not isolate them")
}

test_missing_network_mode_is_bridge_and_fires if {
	some message in messages("ECS-ISO-009", task({}))
	contains(message, "bridge by default")
}

test_awsvpc_fargate_and_windows_do_not_fire_bridge if {
	not fired("ECS-ISO-009", task({"networkMode": "awsvpc"}))
	not fired("ECS-ISO-009", task({"networkMode": "none"}))
	not fired("ECS-ISO-009", task({"requiresCompatibilities": ["FARGATE"]}))
	not fired("ECS-ISO-009", task({"requiresCompatibilities": ["EXTERNAL"]}))
	not fired("ECS-ISO-009", task({"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}}))
}

# Fixes (docs/fixes.md): applying a finding's fix to the task definition makes that finding go and
# adds no other isolation finding; what the fix does not name is kept.

fixed(doc, rule_id) := {"task_definition": json.patch(doc.task_definition, [op |
	some f in findings_of(doc)
	f.rule == rule_id
	some op in f.fix
])}

no_new_findings(before, after) if {
	every f in findings_of(after) {
		f.rule in rule_ids(findings_of(before))
	}
}

test_privileged_fix_removes_privileged_and_keeps_the_rest if {
	doc := container({"privileged": true, "user": "1000:1000", "linuxParameters": {"initProcessEnabled": true}})
	after := fixed(doc, "ECS-ISO-002")
	not fired("ECS-ISO-002", after)
	no_new_findings(doc, after)
	after.task_definition.containerDefinitions[0] == {
		"name": "app", "image": "nginx:1.27", "user": "1000:1000",
		"linuxParameters": {"initProcessEnabled": true},
	}
}

test_host_pid_and_ipc_fixes_set_task_mode if {
	doc := task({"networkMode": "awsvpc", "pidMode": "host", "ipcMode": "host"})
	after := fixed(fixed(doc, "ECS-ISO-003"), "ECS-ISO-004")
	not fired("ECS-ISO-003", after)
	not fired("ECS-ISO-004", after)
	no_new_findings(doc, after)
	after.task_definition.pidMode == "task"
	after.task_definition.ipcMode == "task"
}

test_capability_fix_removes_only_that_capability if {
	doc := container({"linuxParameters": {"capabilities": {"add": ["NET_RAW", "SYS_ADMIN", "CHOWN"], "drop": ["MKNOD"]}}})
	after := fixed(doc, "ECS-ISO-006")
	not fired("ECS-ISO-006", after)
	no_new_findings(doc, after)
	after.task_definition.containerDefinitions[0].linuxParameters.capabilities == {"add": ["NET_RAW", "CHOWN"], "drop": ["MKNOD"]}
}

test_capability_fix_tests_the_value_it_removes if {
	some f in findings_of(container({"linuxParameters": {"capabilities": {"add": ["cap_sys_admin"]}}}))
	f.fix == [
		{"op": "test", "path": "/containerDefinitions/0/linuxParameters/capabilities/add/0", "value": "cap_sys_admin"},
		{"op": "remove", "path": "/containerDefinitions/0/linuxParameters/capabilities/add/0"},
	]
}

# No fix where one would have to invent something (a role for static keys, a new network mode).
test_no_fix_for_static_keys_or_host_network if {
	doc := task({"networkMode": "host", "containerDefinitions": [{"name": "app", "environment": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}]}]})
	some f in findings_of(doc)
	f.rule in {"ECS-ISO-001", "ECS-ISO-007"}
	every g in findings_of(doc) {
		g.rule in {"ECS-ISO-001", "ECS-ISO-007"}
		not g.fix
	}
}

# Every credential shape has one of the marks the value is screened with first, under any name.
test_every_credential_shape_passes_the_screen if {
	every value in [
		"-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----", "ghs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"xoxb-1234567890-abc", "sk_live_0123456789abcdef", "rk_live_0123456789abcdef",
		"AIzabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "glpat-abcdefghijklmnopqrst", jwt, "postgres://app:pw@db/app",
	] {
		isolation.literal_reason("CONFIG", value) != "under a secret-looking name"
	}
	isolation.literal_reason("DB_PASSWORD", "hunter2") == "under a secret-looking name"
	not isolation.literal_reason("CONFIG", "https://example.com/a@b")
}
