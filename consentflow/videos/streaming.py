"""Serving a stored video so that a browser's player can seek in it.

A ``<video>`` element asks for byte ranges; a response that carries the
whole file in memory (as the first version did) makes the player load
everything before it can jump, and keeps a worst-case video (hundreds of
MB) in the web process. Here the file is streamed from storage in pieces
and ``Range`` requests get ``206 Partial Content``.
"""

from __future__ import annotations

import os

from flask import Response, request
from werkzeug.wsgi import wrap_file

from consentflow.photos.storage import Storage


def stored_video_response(storage: Storage, key: str, *, cache_control: str) -> Response:
    """The MP4 stored under ``key``, streamed, with byte-range support."""
    handle = storage.open(key)
    size = os.fstat(handle.fileno()).st_size
    response = Response(wrap_file(request.environ, handle), mimetype="video/mp4",
                        direct_passthrough=True)
    response.content_length = size
    response.headers["Cache-Control"] = cache_control
    try:
        # Turns the response into a 206 in place when the request asks for a range;
        # a range beyond the end raises RequestedRangeNotSatisfiable (a 416 page).
        response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
    except BaseException:
        response.close()
        raise
    return response
