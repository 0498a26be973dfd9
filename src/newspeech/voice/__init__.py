"""The real-time speech engine: VAD, speech-to-text, text-to-speech behind small protocols.

Imports neither FastAPI nor the database. Models load once per process and are shared by every
exam; CPU-heavy calls run in a bounded inference pool, never on the event loop.
"""
