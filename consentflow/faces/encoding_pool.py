"""Encoding a photo's faces on several cores: long-lived helper processes.

dlib's ResNet costs ~20 ms of CPU per face on our 2-core machine (~90 ms
with the BLAS-less dlib-bin wheel used before) and holds the GIL, so
threads do not help: a 200-face group photo needs helper processes. They are plain subprocesses (not
``multiprocessing``) because the queue's worker processes are daemonic and
may not start ``multiprocessing`` children. Each helper loads the dlib
models once and then answers requests on its stdin/stdout:
a request is a pickled ``(crops, model, jitters)``, the answer a pickled
list of encodings (or the error text), both prefixed by an 8-byte length.

Only this process's own children read its pickles, and they are started
from this module. A helper that fails or dies is dropped and its share of
the crops is encoded here instead: slower, never different or lost.
"""

from __future__ import annotations

import atexit
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from consentflow.faces.encoding import Crop, Encoding, EncodingModel, describe

_HEADER = struct.Struct("<Q")
_lock = threading.Lock()
_helpers: dict[int, list[subprocess.Popen[bytes]]] = {}


def _send(stream: IO[bytes], payload: object) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise EOFError("the encoding helper closed its output")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the encoding helper's answer was cut short")
    return pickle.loads(data)  # noqa: S301 - our own child process


def _start_helper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from consentflow.faces.encoding_pool import serve; serve()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=True,
    )


def _take_helpers(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` live helpers of this process, started on first use."""
    pid = os.getpid()
    with _lock:
        # Helpers inherited through fork belong to the parent: never shared.
        for stale in [p for p in _helpers if p != pid]:
            del _helpers[stale]
        helpers = [h for h in _helpers.get(pid, []) if h.poll() is None]
        while len(helpers) < count:
            helpers.append(_start_helper())
        _helpers[pid] = helpers
        return helpers[:count]


def _drop(helper: subprocess.Popen[bytes]) -> None:
    with _lock:
        for helpers in _helpers.values():
            if helper in helpers:
                helpers.remove(helper)
    helper.kill()
    helper.wait()
    _close_streams(helper)


def _close_streams(helper: subprocess.Popen[bytes]) -> None:
    for stream in (helper.stdin, helper.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass  # a broken pipe while flushing: the helper is gone anyway


def describe_parallel(
    crops: Sequence[Crop], model: EncodingModel, jitters: int, processes: int
) -> list[Encoding]:
    """``describe`` over ``processes`` processes (this one and helpers), in input order."""
    count = min(processes, len(crops))
    bounds = [round(i * len(crops) / count) for i in range(count + 1)]
    runs = [list(crops[bounds[i] : bounds[i + 1]]) for i in range(count)]
    helpers = _take_helpers(count - 1)
    sent: list[subprocess.Popen[bytes] | None] = []
    for helper, run in zip(helpers, runs[1:]):
        try:
            assert helper.stdin is not None
            _send(helper.stdin, (run, model, jitters))
            sent.append(helper)
        except OSError:
            _drop(helper)
            sent.append(None)
    results = [describe(runs[0], model, jitters)]
    for maybe_helper, run in zip(sent, runs[1:]):
        answer: Any = None
        if maybe_helper is not None:
            helper = maybe_helper
            try:
                assert helper.stdout is not None
                answer = _receive(helper.stdout)
            except (OSError, EOFError, pickle.UnpicklingError):
                _drop(helper)
        if not isinstance(answer, list) or len(answer) != len(run):
            answer = describe(run, model, jitters)  # the helper failed: do it here
        results.append(answer)
    return [encoding for run_result in results for encoding in run_result]


def serve() -> None:
    """A helper's main loop: answer requests until the parent closes the pipe."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    # Nothing else may write to the answer stream.
    sys.stdout = sys.stderr
    while True:
        try:
            crops, model, jitters = _receive(source)
        except EOFError:
            return
        try:
            answer: object = describe(crops, model, jitters)
        except Exception as err:  # reported to the parent, which encodes itself
            answer = f"{type(err).__name__}: {err}"
        _send(sink, answer)


@atexit.register
def _close_helpers() -> None:
    with _lock:
        helpers = _helpers.pop(os.getpid(), [])
    for helper in helpers:
        _close_streams(helper)  # end of input: the helper's loop returns
        try:
            helper.wait(timeout=2)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
