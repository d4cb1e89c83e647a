"""The video engine: decode, follow every face through time, redact, verify.

Pure code (PyAV, numpy, Pillow and the photo face engine): no Flask, no
database, no ``consentflow.models``, so that a Huey job can call it with
paths and settings it looked up by id.

- ``decode``: ``VideoLimits``, ``probe_video`` (refuses hostile or
  oversized files before heavy work, raising ``VideoRejected``) and
  ``iter_frames`` (upright RGB frames, within a time budget);
- ``tracking``: ``Track`` and the IoU tracker with constant-velocity
  prediction and gap filling;
- ``analyse``: ``analyse_video`` (detection on sampled frames + tracking +
  encodings of each track's best frames) and ``match_tracks``;
- ``render``: ``render_video`` (every frame redacted, H.264 MP4, no
  metadata, audio dropped unless kept);
- ``verify``: ``verify_video`` (detect again on the rendered file).
"""
