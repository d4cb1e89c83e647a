"""A stored video is streamed with byte ranges, so a player can seek without loading the whole file."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from consentflow.photos.storage import LocalStorage
from consentflow.videos.streaming import stored_video_response


def _serve(app: Any, storage: LocalStorage, key: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    with app.test_request_context(headers=headers):
        response = stored_video_response(storage, key, cache_control="private, no-store")
        response.direct_passthrough = False  # let the test read the streamed body
        try:
            return response.status_code, dict(response.headers), response.get_data()
        finally:
            response.close()


def test_a_range_request_gets_exactly_that_range(app: Any, tmp_path: Any) -> None:
    storage = LocalStorage(str(tmp_path))
    data = bytes(range(256)) * 4000  # ~1 MB standing in for an MP4
    key = storage.put_at("derived/1/preview.mp4", data)

    status, headers, body = _serve(app, storage, key, {})
    assert status == 200 and body == data
    assert headers["Accept-Ranges"] == "bytes" and headers["Content-Type"] == "video/mp4"
    assert headers["Cache-Control"] == "private, no-store"

    status, headers, body = _serve(app, storage, key, {"Range": "bytes=500000-500099"})
    assert status == 206 and body == data[500000:500100]
    assert headers["Content-Range"] == f"bytes 500000-500099/{len(data)}"

    status, headers, body = _serve(app, storage, key, {"Range": "bytes=-10"})  # the last ten bytes
    assert status == 206 and body == data[-10:]

    with pytest.raises(RequestedRangeNotSatisfiable):  # beyond the end: a 416, not a 500
        _serve(app, storage, key, {"Range": f"bytes={len(data) + 5}-"})
