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

test_private_ecr_images if {
	lib.is_private_ecr_image("111122223333.dkr.ecr.us-east-1.amazonaws.com/api:1")
	lib.is_private_ecr_image("111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com/api:1")
	lib.is_private_ecr_image("111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/api:1")
	not lib.is_private_ecr_image("public.ecr.aws/nginx/nginx:1")
	not lib.is_private_ecr_image("nginx:1")
	not lib.is_private_ecr_image("<IMAGE1_NAME>")
}

test_image_registry_reads_references_as_docker_does if {
	lib.image_registry("nginx:1") == "docker.io"
	lib.image_registry("library/nginx") == "docker.io"
	lib.image_registry("ghcr.io/org/app:1") == "ghcr.io"
	lib.image_registry("localhost/app") == "localhost"
	lib.image_registry("registry:5000/app") == "registry:5000"
	lib.image_registry("Public.ECR.aws/x/y") == "public.ecr.aws"
}

test_launch_type_helpers if {
	lib.runs_on_ec2({"task_definition": {}})
	lib.runs_on_ec2({"task_definition": {"requiresCompatibilities": ["FARGATE", "EC2"]}})
	not lib.runs_on_ec2({"task_definition": {"requiresCompatibilities": ["FARGATE"]}})
	lib.fargate_only({"task_definition": {"requiresCompatibilities": ["FARGATE"]}})
	not lib.fargate_only({"task_definition": {}})
	lib.needs_execution_role_for_pull({"task_definition": {"requiresCompatibilities": ["EXTERNAL"]}})
	not lib.needs_execution_role_for_pull({"task_definition": {"requiresCompatibilities": ["EC2"]}})
}

test_windows_detection if {
	lib.is_windows({"task_definition": {"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_FULL"}}})
	not lib.is_windows({"task_definition": {"runtimePlatform": {"operatingSystemFamily": "LINUX"}}})
	not lib.is_windows({"task_definition": {}})
}

test_home_account_prefers_the_deploy_account if {
	lib.home_account({"context": {"account": "111122223333"}}, {"account": "999988887777"}) == "111122223333"
	lib.home_account({"context": {}}, {"account": "999988887777"}) == "999988887777"
	not lib.home_account({}, {"account": null})
}

test_role_label_names_kind_role_and_field if {
	lib.role_label("taskRoleArn", {"name": "app", "reference": "app"}) == "task role app (taskRoleArn)"
	lib.role_label("executionRoleArn", {"name": null, "reference": "<EXEC>"}) == "execution role <EXEC> (executionRoleArn)"
}

test_join_limited if {
	lib.join_limited(["a", "b"], 5) == "a, b"
	lib.join_limited(["a", "b", "c"], 2) == "a, b, and 1 more"
}

test_settings_defaults if {
	lib.settings({}) == {"trusted_accounts": set(), "allowed_registries": []}
	lib.settings({"trusted_accounts": ["111122223333"]}).trusted_accounts == {"111122223333"}
}

test_template_syntaxes_are_placeholders if {
	every value in ["<TASK_ROLE_ARN>", "<executionRoleArn>", "arn:aws:iam::${ACCOUNT_ID}:role/app", "{{ecsTaskRoleArn}}", "$$$TASK_ROLE$$$"] {
		lib.is_placeholder(value)
	}
	every value in ["arn:aws:iam::ACCOUNT_ID:role/app", "app-role", "$5 off", "a<b"] {
		not lib.is_placeholder(value)
	}
}
