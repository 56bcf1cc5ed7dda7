# Decision-log masking for the OPA sidecar: the same redaction the webhook applies to its own
# records (docs/configuration.md "Decision records and redaction"), on OPA's side.
#
# OPA evaluates data.system.log.mask for every decision it logs; `input` is the log event, so the
# task definition the webhook sent is input.input.task_definition. Each element of `mask` is a
# path OPA removes from the event before it is written (OPA can only remove inside arrays:
# upsert does not traverse them). Its package lies outside the policy bundle's root (ecs), so it
# ships as a bundle of its own with root system/log:
#   ecs-admission policy mask-bundle deploy/opa/log-mask.rego -o log-mask.tar.gz
#   opa run --server --bundle ecs-admission.tar.gz --bundle log-mask.tar.gz --set decision_logs.console=true
# `mask_decision` defaults to /system/log/mask.
#
# Not part of rego/: it is OPA-only (the embedded engine never logs decisions) and is tested by
# tests/test_log_mask.py with OPA's own Go evaluator.
package system.log

import rego.v1

containers_path := "/input/task_definition/containerDefinitions"

containers := input.input.task_definition.containerDefinitions if is_array(input.input.task_definition.containerDefinitions)

else := []

# Environment values and secret references: names stay, values go.
mask contains path if {
	some i, j
	containers[i].environment[j].value
	path := concat("/", [containers_path, format_int(i, 10), "environment", format_int(j, 10), "value"])
}

mask contains path if {
	some i, j
	containers[i].secrets[j].valueFrom
	path := concat("/", [containers_path, format_int(i, 10), "secrets", format_int(j, 10), "valueFrom"])
}

mask contains path if {
	some i, j
	containers[i].logConfiguration.secretOptions[j].valueFrom
	path := concat("/", [containers_path, format_int(i, 10), "logConfiguration", "secretOptions", format_int(j, 10), "valueFrom"])
}

# Log driver options carry API keys (Datadog, Splunk HEC); OPA cannot mask a key it cannot
# address safely, so the whole options object goes.
mask contains path if {
	some i
	containers[i].logConfiguration.options
	path := concat("/", [containers_path, format_int(i, 10), "logConfiguration", "options"])
}

mask contains path if {
	some i
	containers[i].repositoryCredentials
	path := concat("/", [containers_path, format_int(i, 10), "repositoryCredentials"])
}

# Anything else that looks like a credential, anywhere in the input or the result.
credential_patterns := [
	`(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}`,
	`(^|[^A-Za-z0-9/+=._-])[A-Za-z0-9/+=]{40}($|[^A-Za-z0-9/+=._-])`,
	`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`,
	`(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/-]+`,
	`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:[^\s@/]+@`,
	`(?i)(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)s?["']?\s*[:=]`,
	`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.`,
	`(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`,
	`xox[abposr]-[A-Za-z0-9-]{10,}`,
]

looks_like_credential(value) if {
	is_string(value)
	some pattern in credential_patterns
	regex.match(pattern, value)
	not forty_characters_only(pattern, value)
}

# The 40-character pattern alone matches long identifiers too: require the mixed case and
# digits an AWS secret access key has.
forty_characters_only(pattern, value) if {
	startswith(pattern, "(^|")
	not all_classes(value)
}

all_classes(value) if {
	regex.match(`[A-Z]`, value)
	regex.match(`[a-z]`, value)
	regex.match(`[0-9]`, value)
}

# A path element OPA can address as written (it splits paths on "/" and URL-escapes the parts).
addressable(key) if is_number(key)

addressable(key) if {
	is_string(key)
	regex.match(`^[A-Za-z0-9_.-]+$`, key)
}

# The longest prefix of `parts` that is addressable and does not end inside an array (OPA can
# remove an object's field, not an array's element).
removable(parts) := trimmed if {
	bad := [i | some i, part in parts; not addressable(part)]
	cut := array.slice(parts, 0, min(array.concat(bad, [count(parts)])))
	trailing := [i | some i, part in cut; not is_number(part)]
	trimmed := array.slice(cut, 0, max(array.concat(trailing, [-1])) + 1)
}

part_text(part) := format_int(part, 10) if is_number(part)

else := part

mask contains path if {
	some root in ["input", "result"]
	walk(input[root], [parts, value])
	looks_like_credential(value)
	kept := removable(parts)
	path := concat("/", array.concat(["", root], [part_text(p) | some p in kept]))
}
