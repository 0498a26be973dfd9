"""Recording analysis (issue 17): metadata dictionaries and the prompt registry.

Only the foundation exists so far: the tables, the race-free dictionary get-or-create, the
prompt registry with its folder-tree sync (``newspeech prompts sync``) and a read API for
admins. docs/analysis.md says what is still to come.
"""
