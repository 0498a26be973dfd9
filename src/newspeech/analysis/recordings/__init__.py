"""Recording intake (issue 17): uploads of interviews and site audits, with their metadata."""
