"""Reading a request body within ECS_ADMISSION_MAX_BODY_BYTES, whatever way it was framed.

With a Content-Length over the limit, werkzeug refuses the request (413) before reading. A chunked
body declares no length: werkzeug then stops reading at the limit but does not say so, and the
gate would judge the first megabyte of a longer body (for JSON, a prefix that happens to be a
complete document is then accepted although the whole body is not valid JSON). So after reading,
a body that reached the limit is checked for one byte more, and refused if there is one.
"""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge


def read_body(request: Request) -> bytes:
    """The whole body (cached for later readers), or RequestEntityTooLarge (413)."""
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(data) >= limit:
        extra = request.environ["wsgi.input"].read(1)
        if extra:
            raise RequestEntityTooLarge()
    return data
