"""Examiner-side document work: question bank import/export, statistics, PDF rendering.

    scripts/bench documents            # table + bench/results/documents.json
    scripts/bench documents --runs 5

1. Export and parse of all 72 shipped bank questions in GIFT, Moodle XML and CSV.
2. Item and test statistics over a synthetic college: 1,000 sittings x 12 questions (seeded
   random scores), the pure functions only.
3. One certificate and one 12-answer session report rendered with fpdf2 (the work a pool
   thread does per passed sitting).
Each figure is the median wall time of ``--runs`` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from newspeech import __version__
from newspeech.certificates.render import (
    CertificateData,
    PdfFonts,
    ReportAnswer,
    SessionReportData,
    render_certificate,
    render_session_report,
)
from newspeech.questions.banks import load_banks
from newspeech.questions.interchange import (
    BankQuestion,
    ImportFormat,
    export_questions,
    parse_questions,
)
from newspeech.statistics.measures import CandidateScores, exam_statistics, item_statistics

RESULTS = Path(__file__).resolve().parent / "results"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def interchange(runs: int) -> list[dict[str, Any]]:
    questions = [
        BankQuestion.from_row(SimpleNamespace(**row))
        for bank in load_banks()
        for row in bank.question_rows()
    ]
    rows = []
    for fmt in ImportFormat:
        data = export_questions(questions, fmt)
        rows.append(
            {
                "format": fmt.value,
                "questions": len(questions),
                "bytes": len(data),
                "export_ms": median_ms(partial(export_questions, questions, fmt), runs),
                "parse_ms": median_ms(partial(parse_questions, data, fmt), runs),
            }
        )
    return rows


def item_and_test_statistics(runs: int) -> dict[str, Any]:
    rng = random.Random(7)
    items = dict.fromkeys(range(12), 10.0)
    candidates = [
        CandidateScores(c, {n: float(rng.randint(0, 10)) for n in items}) for c in range(1000)
    ]

    def both() -> None:
        item_statistics(candidates, items)
        exam_statistics(candidates, items)

    return {"candidates": 1000, "questions": 12, "ms": median_ms(both, runs)}


def pdfs(runs: int) -> dict[str, Any]:
    fonts = PdfFonts.discover()
    certificate = CertificateData(
        "Amara Okafor", "Medical", "VIVA-0123456789AB", dt.date(2026, 11, 27),
        97, 120, 80.83, "B", "Verification code ABCD-EF01-2345-6789",
    )  # fmt: skip
    answer = ReportAnswer(
        1,
        "What is the most likely diagnosis, and which features support it?",
        "An inferior STEMI with ST elevation in II, III and aVF and reciprocal depression. " * 3,
        8,
        10,
        "Good: you named the diagnosis and cited the ECG. Mention the right coronary artery.",
    )
    report = SessionReportData(
        "Amara Okafor", "Medical", "VIVA-0123456789AB", dt.date(2026, 11, 27),
        [answer] * 12, 97, 120, 80.83, "B", passed=True,
    )  # fmt: skip
    return {
        "font": str(fonts.regular) if fonts.regular else "Helvetica (core)",
        "certificate_ms": median_ms(lambda: render_certificate(certificate, fonts), runs),
        "certificate_bytes": len(render_certificate(certificate, fonts)),
        "report_12_answers_ms": median_ms(lambda: render_session_report(report, fonts), runs),
        "report_bytes": len(render_session_report(report, fonts)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    formats = interchange(args.runs)
    stats = item_and_test_statistics(args.runs)
    documents = pdfs(args.runs)

    print(f"{'format':<11} {'questions':>9} {'bytes':>8} {'export ms':>10} {'parse ms':>9}")
    for row in formats:
        print(
            f"{row['format']:<11} {row['questions']:>9} {row['bytes']:>8} "
            f"{row['export_ms']:>10} {row['parse_ms']:>9}"
        )
    print(
        f"\nstatistics, {stats['candidates']} sittings x {stats['questions']} questions: "
        f"{stats['ms']} ms"
    )
    print(f"\nPDF ({documents['font']}):")
    print(
        f"  certificate        {documents['certificate_ms']:>8} ms "
        f"{documents['certificate_bytes']:>8} bytes"
    )
    print(
        f"  report, 12 answers {documents['report_12_answers_ms']:>8} ms "
        f"{documents['report_bytes']:>8} bytes"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "documents.json"
    payload = {
        "version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": args.runs,
        "interchange": formats,
        "statistics": stats,
        "pdf": documents,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
