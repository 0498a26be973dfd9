"""The browser exam page: static files (plain ES modules, no build step) and its small JSON
configuration endpoint."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""index.html, style.css and js/ (the page, the protocol module and the AudioWorklets)."""
