package ecs.checks.hardening_test

import rego.v1

import data.ecs.checks.hardening

good := {
	"name": "api", "image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/api@sha256:0123abcd",
	"essential": true, "readonlyRootFilesystem": true, "user": "1000:1000", "memory": 512,
	"logConfiguration": {"logDriver": "awslogs"}, "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]},
}

task_with(container, task_fields) := {"task_definition": object.union(
	{"family": "api", "containerDefinitions": [object.union(good, container)]},
	task_fields,
)}

# The platform team's config.yaml is pinned to none: the startup self-check runs these tests
# against whatever settings are deployed, and they must not depend on them.
findings_of(doc) := findings_with(doc, {})

findings_with(doc, config) := found if {
	found := hardening.findings with input as doc with data.ecs.config as config
}

rule_ids(doc) := {f.rule | some f in findings_of(doc)}

fired(rule_id, doc) if rule_id in rule_ids(doc)

messages(rule_id, doc) := {f.message | some f in findings_of(doc); f.rule == rule_id}

without(field) := {"task_definition": {"family": "api", "containerDefinitions": [object.remove(good, [field])]}}

test_hardened_container_has_no_findings if {
	count(findings_of(task_with({}, {}))) == 0
}

test_empty_document_is_defined_and_empty if count(findings_of({})) == 0

# ECS-HARD-001

test_readonly_root_absent_or_false_fires if {
	fired("ECS-HARD-001", without("readonlyRootFilesystem"))
	some message in messages("ECS-HARD-001", task_with({"readonlyRootFilesystem": false}, {}))
	contains(message, "readonlyRootFilesystem is false")
}

test_readonly_root_not_applicable_on_windows if {
	not fired("ECS-HARD-001", task_with({"readonlyRootFilesystem": false}, {"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE"}}))
}

# ECS-HARD-002

test_root_user_spellings_fire if {
	every user in ["root", "0", "0:0", "root:root", "0:1000", "root:app", "00", " 0 "] {
		doc := task_with({"user": user}, {})
		fired("ECS-HARD-002", doc)
	}
}

test_missing_user_fires if fired("ECS-HARD-002", without("user"))

test_non_root_users_do_not_fire if {
	every user in ["1000", "1000:1000", "app", "app:app", "nobody", "10", "1000:0"] {
		doc := task_with({"user": user}, {})
		not fired("ECS-HARD-002", doc)
	}
}

test_windows_administrator_fires_and_other_users_pass if {
	windows := {"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_FULL"}}
	fired("ECS-HARD-002", task_with({"user": "ContainerAdministrator"}, windows))
	not fired("ECS-HARD-002", task_with({"user": "ContainerUser"}, windows))
	not fired("ECS-HARD-002", task_with({"user": "0"}, windows))
}

# ECS-HARD-003

test_no_log_configuration_fires if fired("ECS-HARD-003", without("logConfiguration"))

test_log_configuration_without_driver_fires if {
	container := object.union(object.remove(good, ["logConfiguration"]), {"logConfiguration": {"options": {}}})
	fired("ECS-HARD-003", {"task_definition": {"containerDefinitions": [container]}})
}

# ECS-HARD-004

test_no_memory_anywhere_fires if fired("ECS-HARD-004", without("memory"))

test_task_level_memory_is_a_hard_limit if {
	doc := {"task_definition": {"memory": "512", "containerDefinitions": [object.remove(good, ["memory"])]}}
	not fired("ECS-HARD-004", doc)
}

test_memory_reservation_alone_is_not_a_hard_limit if {
	doc := {"task_definition": {"containerDefinitions": [object.union(object.remove(good, ["memory"]), {"memoryReservation": 256})]}}
	fired("ECS-HARD-004", doc)
}

# ECS-HARD-005

test_untagged_and_latest_images_fire if {
	every image in ["nginx", "nginx:latest", "registry.example.com:5000/team/app", "111122223333.dkr.ecr.us-east-1.amazonaws.com/api:latest"] {
		doc := task_with({"image": image}, {})
		fired("ECS-HARD-005", doc)
	}
}

test_tagged_digest_and_placeholder_images_do_not_fire if {
	every image in ["nginx:1.27", "registry.example.com:5000/team/app:2.1", "nginx@sha256:abc", "nginx:latest@sha256:abc", "<IMAGE1_NAME>", "${IMAGE}"] {
		doc := task_with({"image": image}, {})
		not fired("ECS-HARD-005", doc)
	}
}

# ECS-HARD-006

efs(volumes) := task_with({}, {"volumes": volumes})

test_every_efs_volume_is_checked if {
	doc := efs([
		{"name": "a", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "ENABLED"}},
		{"name": "b", "efsVolumeConfiguration": {"fileSystemId": "fs-2"}},
		{"name": "c", "efsVolumeConfiguration": {"fileSystemId": "fs-3", "transitEncryption": "DISABLED"}},
	])
	{f.path | some f in findings_of(doc); f.rule == "ECS-HARD-006"} == {
		"/volumes/1/efsVolumeConfiguration/transitEncryption",
		"/volumes/2/efsVolumeConfiguration/transitEncryption",
	}
}

test_encrypted_efs_and_other_volumes_do_not_fire if {
	not fired("ECS-HARD-006", efs([{"name": "a", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "ENABLED"}}, {"name": "h", "host": {"sourcePath": "/data"}}]))
}

# ECS-HARD-007

test_essential_by_default_without_health_check_fires if {
	fired("ECS-HARD-007", without("healthCheck"))
	doc := {"task_definition": {"containerDefinitions": [object.remove(good, ["healthCheck", "essential"])]}}
	fired("ECS-HARD-007", doc)
}

test_non_essential_container_without_health_check_does_not_fire if {
	not fired("ECS-HARD-007", task_with({"essential": false, "healthCheck": {"command": []}}, {}))
}

# ECS-HARD-008

allow_ecr := {"allowed_registries": ["*.dkr.ecr.*.amazonaws.com", "public.ecr.aws"]}

test_registry_outside_allowlist_fires if {
	doc := task_with({"image": "docker.io/library/nginx:1.27"}, {})
	some f in findings_with(doc, allow_ecr)
	f.rule == "ECS-HARD-008"
	f.message == "container api pulls docker.io/library/nginx:1.27 from docker.io, which is not in config allowed_registries"
	every image in ["nginx:1.27", "ghcr.io/org/app:1"] {
		"ECS-HARD-008" in {f.rule | some f in findings_with(task_with({"image": image}, {}), allow_ecr)}
	}
}

test_allowed_registries_and_empty_allowlist_do_not_fire if {
	every image in ["111122223333.dkr.ecr.us-east-1.amazonaws.com/api:1", "public.ecr.aws/nginx/nginx:1"] {
		not "ECS-HARD-008" in {f.rule | some f in findings_with(task_with({"image": image}, {}), allow_ecr)}
	}
	not fired("ECS-HARD-008", task_with({"image": "ghcr.io/org/app:1"}, {}))
}
