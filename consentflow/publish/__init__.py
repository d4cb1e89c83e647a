"""Publication: redaction, the derivative check, approval and publishing, takedowns (SPEC §4.5-4.7)."""
