package ecs.lib_test

import rego.v1

import data.ecs.lib

test_container_label_prefers_name if {
	lib.container_label(3, {"name": "web"}) == "container web"
}

test_container_label_falls_back_to_position if {
	lib.container_label(3, {}) == "container #3"
}

test_container_path_is_a_json_pointer if {
	lib.container_path(2, "privileged") == "/containerDefinitions/2/privileged"
}

test_placeholder_detection if {
	lib.is_placeholder("<TASK_ROLE_ARN>")
	lib.is_placeholder("arn:aws:iam::<ACCOUNT_ID>:role/app")
	not lib.is_placeholder("arn:aws:iam::111122223333:role/app")
	not lib.is_placeholder(12)
}

test_missing_containers_is_empty_list if {
	lib.containers({}) == []
	lib.containers({"task_definition": {"family": "x"}}) == []
}

test_execution_role_presence if {
	lib.has_execution_role({"task_definition": {"executionRoleArn": "arn:aws:iam::111122223333:role/exec"}})
	not lib.has_execution_role({"task_definition": {"executionRoleArn": ""}})
	not lib.has_execution_role({"task_definition": {}})
}

test_launch_types if {
	lib.launch_types({"task_definition": {"requiresCompatibilities": ["FARGATE", "EC2"]}}) == {"FARGATE", "EC2"}
	lib.launch_types({}) == set()
}
