"""Review: who each face is, reviewer decisions, and the review pages (SPEC §4.3-4.4, §4b)."""
