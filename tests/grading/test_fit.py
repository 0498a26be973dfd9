"""The fit command end to end on a small corpus in SAF's own XML layout."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

from newspeech.grading.fit import main
from newspeech.grading.marks import MarkModel

TOPICS = [
    ("Why does the bulb light?", "The bulb is in a closed path with the battery."),
    ("What happens to a gap in the circuit?", "A gap means there is no closed path."),
    ("Why does the magnet stick to the nail?", "The nail is made of iron, a magnetic metal."),
    ("What does the thermometer measure?", "It measures the temperature of the water."),
    ("Why does the ice melt?", "Heat from the room warms the ice above its melting point."),
    ("What makes the pitch higher?", "A shorter string vibrates faster and gives a higher pitch."),
]
ANSWERS = [
    ("{ref}", 1.0),
    ("I think {ref_lower}", 1.0),
    ("{half}", 0.5),
    ("I do not know.", 0.0),
    ("Because it is blue and heavy.", 0.0),
]


def question_xml(number: int, question: str, reference: str) -> str:
    half = " ".join(reference.split()[: len(reference.split()) // 2])
    answers = "".join(
        f'<studentAnswer id="q{number}.{k}"><response>'
        f"{escape(text.format(ref=reference, ref_lower=reference.lower(), half=half))}"
        f"</response><score>{score}</score></studentAnswer>"
        for k, (text, score) in enumerate(ANSWERS)
    )
    return (
        f'<question id="q{number}"><questionText>{escape(question)}</questionText>'
        f'<referenceAnswers><referenceAnswer id="r{number}">{escape(reference)}'
        f"</referenceAnswer></referenceAnswers><studentAnswers>{answers}</studentAnswers>"
        "</question>"
    )


def test_fit_writes_a_mark_model_with_provenance_that_the_grader_loads(tmp_path: Path) -> None:
    folder = tmp_path / "training"
    folder.mkdir()
    for number, (question, reference) in enumerate(TOPICS):
        (folder / f"q{number}.xml").write_text(question_xml(number, question, reference))
    out = tmp_path / "model.json"

    main(["--data", str(tmp_path), "--out", str(out)])

    document = json.loads(out.read_text(encoding="utf-8"))
    provenance = document["provenance"]
    assert provenance["answers"] == len(TOPICS) * len(ANSWERS)
    assert provenance["questions"] == len(TOPICS)
    assert provenance["command"] == "uv run python -m newspeech.grading.fit"
    assert provenance["training_in_sample"]["pearson_r"] > 0.8
    model = MarkModel.load(out)
    # More keyword and semantic evidence means a higher mark; the model answer earns it all.
    low = model.fraction(dict.fromkeys(model.features, 0.05))
    high = model.fraction(dict.fromkeys(model.features, 0.95))
    assert high > 0.6 > low
    assert model.fraction(dict.fromkeys(model.features, 1.0)) == 1.0
