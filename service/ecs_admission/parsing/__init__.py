"""Bounded parsing of caller text (JSON with limits, the safe YAML loader, text safe to quote): the lowest
layer that reads what a caller sent."""
