"""From bytes to a normalised AdmissionRequest."""

from .parse import parse_body, parse_file_bytes
from .shapes import AdmissionRequest, normalise

__all__ = ["AdmissionRequest", "normalise", "parse_body", "parse_file_bytes"]
