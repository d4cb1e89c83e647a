"""Face detection, encoding and matching: pure code, no Flask and no database.

Public API: ``consentflow.faces.engine`` (EngineSettings, FaceBox,
PreparedImage, prepare_image, detect_faces, encode_faces, detect_file) and
``consentflow.faces.matching`` (MatchThresholds, ReferenceIndex, Candidate,
MatchOutcome, classify, assign_unique). ``encoding_pool`` spreads the
encoding of many faces over helper processes. How the defaults were
chosen: bench/README.md.
"""
