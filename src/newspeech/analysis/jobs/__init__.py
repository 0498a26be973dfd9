"""Recording-analysis jobs (issue 17) on taskiq: a job row with ordered, checkpointed stages."""
