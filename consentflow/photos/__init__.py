"""Photo pipeline: albums, safe upload, background processing, enrolment, decisions."""
