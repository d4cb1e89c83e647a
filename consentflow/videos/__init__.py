"""Video pages (pr): the sound decision, the reviewer's redacted preview, the published file.

The review of a video's tracks is the review page of a photo (each track is
a face of the video); only what a still image does not have lives here.
"""
