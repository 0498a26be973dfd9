"""How a dictionary value (a place, a client ...) and a folder name become a stored key."""

from __future__ import annotations

import re
import unicodedata

from newspeech.errors import ValidationFailed
from newspeech.kit.text import forbidden_character
from newspeech.models.prompts import KEY_LENGTH

_SPACES = re.compile(r"\s+")


def clean_name(name: str) -> str:
    """``name`` as it is stored for display: NFC, spaces collapsed, trimmed.

    Raises ``ValidationFailed`` for an empty or over-long name or one with control characters.
    """
    problem = forbidden_character(name)
    if problem is not None:
        raise ValidationFailed(f"the name {name!r} {problem}")
    cleaned = _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip()
    if not cleaned:
        raise ValidationFailed("a name cannot be empty")
    if len(cleaned) > KEY_LENGTH:
        raise ValidationFailed(f"a name is at most {KEY_LENGTH} characters: {cleaned[:40]}...")
    return cleaned


def dictionary_key(name: str) -> str:
    """The unique key of ``name``: case and width folded (NFKC + casefold), spaces collapsed.

    "Grand Hotel", "grand  hotel" and "GRAND HOTEL" share one key, on every backend.
    """
    folded = unicodedata.normalize("NFKC", clean_name(name)).casefold()
    return _SPACES.sub(" ", folded).strip()[:KEY_LENGTH]


def folder_title(folder: str) -> str:
    """A readable name for a folder of the prompt tree: ``site-audit`` -> ``Site audit``."""
    words = clean_name(folder.replace("-", " ").replace("_", " "))
    return words[:1].upper() + words[1:]
