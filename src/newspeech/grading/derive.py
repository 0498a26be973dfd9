"""Key concepts derived from a model answer, for questions that come without keywords.

Colleges' own questions (Moodle and GIFT exports, typed into the editor) often carry a question
and a model answer but no keywords. Rather than leaving such a question ungradable, its key
concepts are derived from the model answer; they are stored marked *derived*, so the examiner
sees them in the question editor and can edit them (an edited keyword is the examiner's own).
The same derivation gives the public benchmarks (SemEval-2013, SAF) their keywords, so the
grader's fitted mark model was trained on exactly what a question without keywords gets.

:func:`derive_keywords`:

1. Normalise and stem the model answer with the graders' own analyser
   (:mod:`newspeech.grading.text`): number words become digits, so numbers are concepts too.
2. Keep content words: drop function words, glue words and fillers.
3. Demote the question: drop words whose stem occurs in the question text, since students
   repeat the question whether or not they know the answer (Mohler et al., 2011). When that
   leaves nothing, keep the content words.
4. A content word right after a negation cue keeps the cue ("are not connected" -> keyword
   "not connected"), so the polarity of the model answer is part of the keyword. (Carrying the
   cue over the grader's whole negation window was tried on SemEval's training split: no
   better.)
5. One keyword per distinct stem, written as first seen, weight 1.

Multi-word terms are not formed: every word of a term is its own concept (measured on the
training data that way; a phrase concept would need all its words said).
"""

from __future__ import annotations

from newspeech.grading.protocols import Keyword
from newspeech.grading.text import FUNCTION_WORDS, Analyser


def derive_keywords(
    question_text: str, model_answer: str, analyser: Analyser | None = None
) -> tuple[Keyword, ...]:
    """Content words of ``model_answer`` not in ``question_text`` (see the module docstring)."""
    analyser = analyser or Analyser()
    asked = {t.stem for t in analyser.tokens(question_text)}
    tokens = analyser.tokens(model_answer)
    content = [(i, t) for i, t in enumerate(tokens) if not t.neg and t.text not in FUNCTION_WORDS]
    kept = [(i, t) for i, t in content if t.stem not in asked] or content
    keywords: dict[str, Keyword] = {}
    for i, token in kept:
        negated = i > 0 and tokens[i - 1].neg
        key = f"not {token.stem}" if negated else token.stem
        if key not in keywords:
            term = f"not {token.text}" if negated else token.text
            keywords[key] = Keyword(term, derived=True)
    return tuple(keywords.values())
