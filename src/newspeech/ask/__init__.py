"""Asking the data in plain language (issue 18): a published read-only surface of views,
layered guards on the SQL, generation through the LLM or curated questions. docs/ask.md."""
