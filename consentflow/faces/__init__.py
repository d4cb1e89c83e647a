"""Face detection, encoding and matching: pure code, no Flask and no database.

Public API: ``consentflow.faces.engine`` (EngineSettings, FaceBox,
PreparedImage, prepare_image, detect_faces, encode_faces, detect_file) and
``consentflow.faces.matching`` (ReferenceIndex, Candidate, MatchOutcome,
classify, assign_unique). How the defaults were chosen: bench/README.md.
"""
