"""From bytes to a normalised AdmissionRequest."""

from ecs_admission.inputs.parse import parse_body, parse_file_bytes
from ecs_admission.inputs.shapes import AdmissionRequest, normalise

__all__ = ["AdmissionRequest", "normalise", "parse_body", "parse_file_bytes"]
