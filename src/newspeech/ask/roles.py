"""The database role questions run under (created by migration ``3a5c7e9b1d24``).

It may read the published views and nothing else; ``newspeech ask grant-login`` gives a login
of its own only this role (docs/ask.md).
"""

READ_ONLY_ROLE = "newspeech_ask"
