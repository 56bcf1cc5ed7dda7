"""The policy set: loading the Rego modules and data, the METADATA catalogue, data validation."""
