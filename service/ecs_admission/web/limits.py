"""Reading a request body within ECS_ADMISSION_MAX_BODY_BYTES, whatever way it was framed.

With a Content-Length over the limit, werkzeug refuses the request (413) before reading. A chunked
body declares no length: werkzeug then stops reading at the limit but does not say so, and the
gate would judge the first megabyte of a longer body (for JSON, a prefix that happens to be a
complete document is then accepted although the whole body is not valid JSON). So after reading,
a body that reached the limit is checked for one byte more, and refused if there is one.

A body that cannot be read is the client's doing, never a 500: a malformed chunk (size `zz`,
`-5`, a chunk shorter than its size) is a 400, and a body that does not arrive within the
server's read timeout (web/worker.py) is a 408.
"""

from __future__ import annotations

from flask import Request
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestTimeout

from ecs_admission.web.worker import ReadDeadline


def read_body(request: Request) -> bytes:
    """The whole body (cached for later readers), or a 413, 400 (bad framing) or 408 (too slow)."""
    try:
        data = request.get_data(cache=True)
        limit = request.max_content_length
        if limit is not None and request.content_length is None and len(data) >= limit:
            extra = request.environ["wsgi.input"].read(1)
            if extra:
                raise RequestEntityTooLarge()
    except ParseException as exc:
        raise BadRequest(f"the request body is not framed correctly: {type(exc).__name__}") from None
    except ReadDeadline as exc:
        raise RequestTimeout(str(exc)) from None
    except NoMoreData:
        raise BadRequest("the request body ended before its declared length") from None
    except OSError:
        raise RequestTimeout("the request body could not be read") from None
    return data
