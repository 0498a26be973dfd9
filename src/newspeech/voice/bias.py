"""What the decoder is biased towards when it hears an answer: the question's key terms.

Measured with ``scripts/bench terms`` (whisper tiny.en, Piper noise-off and espeak voices,
every keyword and synonym of every bank and every model answer, 3193 key terms said): with
the question as the prompt and only each keyword's term as hotwords, 83.3 % of the key terms
were heard; naming every synonym too, terms first, 92.3 % (Piper 88.9 -> 95.0 %, espeak 77.5
-> 89.5 %); and writing that list with a comma after each form, 93.7 % (Piper 96.1 %, espeak
91.3 %). Whisper copies the style of the text before it: after a bare list of words its
transcripts lose their punctuation too, and without the comma between two concepts a negation
reaches the wrong one ("possibly without warning and tailplane icing")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def bias_terms(forms: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """Every keyword's term, then every synonym, each once: what the decoder is biased
    towards. Terms come first because the hotword budget keeps the first tokens."""
    keywords = [list(f) for f in forms]
    ordered = [f[0] for f in keywords if f] + [s for f in keywords for s in f[1:]]
    seen: set[str] = set()
    out = []
    for form in ordered:
        if form.strip() and form.strip().lower() not in seen:
            seen.add(form.strip().lower())
            out.append(form.strip())
    return tuple(out)


def hotwords(forms: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """The hotwords for keywords of these forms: :func:`bias_terms`, each with a comma."""
    return tuple(f"{term}," for term in bias_terms(forms))


def decoder_bias(question: str, forms: Iterable[Sequence[str]]) -> tuple[str, tuple[str, ...]]:
    """The prompt and hotwords an answer to ``question`` is decoded with, from its keywords'
    forms (term first, then synonyms): the question as the prompt, :func:`hotwords`."""
    return question, hotwords(forms)
