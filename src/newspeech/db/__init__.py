"""Database plumbing: declarative base, portable column types, engines and units of work."""
