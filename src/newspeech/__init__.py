"""NewSpeech: offline-first spoken oral examinations (viva voce) with an AI examiner."""

__version__ = "0.1.0"
