"""Single-use, role-typed invitation codes."""
