"""JSON API for the photo pipeline, authenticated with personal API tokens (SPEC §6)."""
