"""Face detection, encoding and matching: pure code, no Flask and no database.

Public API: ``consentflow.faces.engine`` (EngineSettings, FaceBox,
PreparedImage, prepare_image, detect_faces, encode_faces, detect_file) and
``consentflow.faces.matching`` (MatchThresholds, ReferenceIndex, Candidate,
MatchOutcome, classify, assign_unique). ``encoding_pool`` spreads the
encoding of many faces over helper processes. How the defaults were
chosen: bench/README.md.
"""

import os

# dlib is linked against OpenBLAS, which by default starts a thread per core
# for every matrix product. Parallelism here is per process (two queue
# workers, encoding helpers), so BLAS threads only compete with them: under
# load a face cost 34 ms of CPU with them and 24 ms without (bench/README.md).
# Read when OpenBLAS is loaded, i.e. before the first ``import dlib``; an
# explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
