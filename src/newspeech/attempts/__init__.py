"""Attempts at a college's exam: the policy (``max_attempts``) and examiners' extra attempts."""
