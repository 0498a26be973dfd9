"""Backup and restore of the database and the answer-audio store (``newspeech backup``)."""
