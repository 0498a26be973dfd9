"""The fit command end to end on a small corpus in SemEval-2013's own XML layout."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

from newspeech.grading.fit import main
from newspeech.grading.hybrid import FEATURES, HybridWeights

TOPICS = [
    ("Why does the bulb light?", "The bulb is in a closed path with the battery."),
    ("What happens to a gap in the circuit?", "A gap means there is no closed path."),
    ("Why does the magnet stick to the nail?", "The nail is made of iron, a magnetic metal."),
    ("What does the thermometer measure?", "It measures the temperature of the water."),
    ("Why does the ice melt?", "Heat from the room warms the ice above its melting point."),
    ("What makes the pitch higher?", "A shorter string vibrates faster and gives a higher pitch."),
]
ANSWERS = [
    ("{ref}", True),
    ("I think {ref_lower}", True),
    ("I do not know.", False),
    ("Because it is blue and heavy.", False),
]


def question_xml(number: int, question: str, reference: str) -> str:
    answers = "".join(
        f'<studentAnswer id="a{number}.{k}" accuracy="{"correct" if ok else "incorrect"}">'
        f"{escape(text.format(ref=reference, ref_lower=reference.lower()))}</studentAnswer>"
        for k, (text, ok) in enumerate(ANSWERS)
    )
    return (
        f'<question id="q{number}" module="m"><questionText>{escape(question)}</questionText>'
        f'<referenceAnswers><referenceAnswer id="r{number}" category="BEST">{escape(reference)}'
        f"</referenceAnswer></referenceAnswers><studentAnswers>{answers}</studentAnswers>"
        "</question>"
    )


def test_fit_writes_weights_with_provenance_that_the_grader_loads(tmp_path: Path) -> None:
    for corpus in ("beetle", "sciEntsBank"):
        folder = tmp_path / "training" / "2way" / corpus
        folder.mkdir(parents=True)
        for number, (question, reference) in enumerate(TOPICS):
            (folder / f"q{number}.xml").write_text(question_xml(number, question, reference))
    out = tmp_path / "weights.json"

    main(["--data", str(tmp_path), "--out", str(out)])

    document = json.loads(out.read_text(encoding="utf-8"))
    provenance = document["provenance"]
    assert provenance["answers"] == 2 * len(TOPICS) * len(ANSWERS)
    assert provenance["correct"] == provenance["answers"] // 2
    assert provenance["command"] == "uv run python -m newspeech.grading.fit"
    assert provenance["training_in_sample"]["accuracy"] >= 0.9
    weights = HybridWeights.load(out)
    assert weights.features == FEATURES
    # More keyword and semantic evidence means a higher fraction.
    low = weights.fraction([0.0, 0.1, 0.1, 0.1, 0.1, 0.0, 0.5])
    high = weights.fraction([1.0, 0.9, 0.9, 0.9, 0.5, 0.9, 1.0])
    assert high > 0.6 > low
