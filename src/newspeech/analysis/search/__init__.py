"""Full-text search over transcripts (issue 17): timed segments, indexed on every backend."""
