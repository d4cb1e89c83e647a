"""Consent registry: school years, forms, immutable records, links, coverage (SPEC §3)."""
