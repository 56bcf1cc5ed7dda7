package ecs.lib_test

import rego.v1

import data.ecs.lib

test_placeholder_detection if {
	lib.is_placeholder("<TASK_ROLE_ARN>")
	lib.is_placeholder("arn:aws:iam::<ACCOUNT_ID>:role/app")
	not lib.is_placeholder("arn:aws:iam::111122223333:role/app")
	not lib.is_placeholder(12)
}

test_template_syntaxes_are_placeholders if {
	every value in ["<TASK_ROLE_ARN>", "<executionRoleArn>", "arn:aws:iam::${ACCOUNT_ID}:role/app", "{{ecsTaskRoleArn}}", "$$$TASK_ROLE$$$"] {
		lib.is_placeholder(value)
	}
	every value in ["arn:aws:iam::ACCOUNT_ID:role/app", "app-role", "$5 off", "a<b", "{}"] {
		not lib.is_placeholder(value)
	}
}

test_non_empty_string if {
	lib.non_empty_string("x")
	not lib.non_empty_string("")
	not lib.non_empty_string(null)
}

test_image_registry_reads_references_as_docker_does if {
	lib.image_registry("nginx:1") == "docker.io"
	lib.image_registry("library/nginx") == "docker.io"
	lib.image_registry("ghcr.io/org/app:1") == "ghcr.io"
	lib.image_registry("localhost/app") == "localhost"
	lib.image_registry("registry:5000/app") == "registry:5000"
	lib.image_registry("Public.ECR.aws/x/y") == "public.ecr.aws"
}

test_home_account_prefers_the_deploy_account if {
	lib.home_account({"account": "999988887777"}) == "111122223333" with input as {"context": {"account": "111122223333"}}
	lib.home_account({"account": "999988887777"}) == "999988887777" with input as {"context": {}}
	not lib.home_account({"account": null}) with input as {}
}

test_role_label_names_kind_role_and_field if {
	lib.role_label("taskRoleArn", {"name": "app", "reference": "app"}) == "task role app (taskRoleArn)"
	lib.role_label("executionRoleArn", {"name": null, "reference": "<EXEC>"}) == "execution role <EXEC> (executionRoleArn)"
}

test_join_limited if {
	lib.join_limited(["a", "b"], 5) == "a, b"
	lib.join_limited(["a", "b", "c"], 2) == "a, b, and 1 more"
}

test_config_is_the_settings_document_or_nothing if {
	lib.config == {"trusted_accounts": ["111122223333"]} with data.ecs.config as {"trusted_accounts": ["111122223333"]}
	lib.config == {} with data.ecs.config as "not a mapping"
}

test_container_name_or_its_index if {
	lib.container_name(0, {"name": "api"}) == "api"
	lib.container_name(2, {}) == "#2"
}
