"""What a decision leaves behind: decision records (redacted), Security Hub findings, the audit of registered
task definitions."""
