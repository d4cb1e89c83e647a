"""Subject access, erasure and retention (SPEC §5, §7)."""
