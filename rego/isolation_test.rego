package ecs.checks.isolation_test

import rego.v1

import data.ecs.checks.isolation

task(overrides) := {"task_definition": object.union(
	{"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}]},
	overrides,
)}

rule_ids(findings) := {f.rule | some f in findings}

test_host_network_fires if {
	"ECS-ISO-001" in rule_ids(isolation.check(task({"networkMode": "host"})))
}

test_awsvpc_network_does_not_fire if {
	not "ECS-ISO-001" in rule_ids(isolation.check(task({"networkMode": "awsvpc"})))
}

test_missing_network_mode_does_not_fire if {
	not "ECS-ISO-001" in rule_ids(isolation.check(task({})))
}

test_privileged_fires_with_path_and_name if {
	findings := isolation.check(task({"containerDefinitions": [
		{"name": "app", "image": "nginx"},
		{"name": "agent", "image": "datadog/agent", "privileged": true},
	]}))
	some f in findings
	f.rule == "ECS-ISO-002"
	f.path == "/containerDefinitions/1/privileged"
	startswith(f.message, "container agent runs privileged")
}

test_privileged_unnamed_container_uses_position if {
	some f in isolation.check(task({"containerDefinitions": [{"privileged": true}]}))
	startswith(f.message, "container #0 ")
}

test_privileged_false_does_not_fire if {
	not "ECS-ISO-002" in rule_ids(isolation.check(task({"containerDefinitions": [{"name": "app", "privileged": false}]})))
}

test_host_pid_fires if {
	"ECS-ISO-003" in rule_ids(isolation.check(task({"pidMode": "host"})))
}

test_task_pid_does_not_fire if {
	not "ECS-ISO-003" in rule_ids(isolation.check(task({"pidMode": "task"})))
}
