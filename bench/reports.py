"""Analysis reports: how long transcripts split into LLM requests, and the cost of a report.

    scripts/bench reports              # table + bench/results/reports.json
    scripts/bench reports --runs 3

For synthetic interview transcripts of 10, 30 and 120 minutes (a 15-word utterance every 6 s,
speakers taking turns):
1. the requests one prompt makes (parts + the combining call) for a model context of 8k, 32k
   and 128k tokens, with the shipped ``client-brief/hotel`` requirements prompt and its schema
   (the longest instructions of the set), as ``PromptChain`` plans them;
2. the transcript report (every utterance) as Markdown and as a PDF with fpdf2: median wall
   time of ``--runs`` runs, in milliseconds, and the sizes.
No LLM is called: this measures the product's own work around the model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from newspeech import __version__
from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.reports.chains import (
    ChainLimits,
    PromptChain,
    PromptSpec,
    prompt_instructions,
    split_lines,
    utterance_lines,
)
from newspeech.analysis.reports.render import ReportDocument, report_markdown, report_pdf
from newspeech.kit.pdf import PdfFonts
from newspeech.llm import OpenAIChatClient

RESULTS = Path(__file__).resolve().parent / "results"
SENTENCE = "we would like the lobby brighter with a new desk before june if the budget allows"
WORDS = SENTENCE.split(" ")


def transcript(minutes: int) -> list[dict[str, Any]]:
    return [
        {
            "start": 6.0 * i,
            "speaker": ("interviewer", "respondent")[i % 2],
            "text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(15)).capitalize() + ".",
        }
        for i in range(minutes * 10)
    ]


def requirements_prompt() -> PromptSpec:
    tree = read_prompt_tree(DEFAULT_PROMPTS)
    found = next(
        p
        for p in tree
        if (p.report_type, p.building_type, p.run_part) == ("client-brief", "hotel", 2)
    )
    return PromptSpec(1, found.title, found.text, found.returns_json, found.json_schema)


def requests(segments: list[dict[str, Any]], spec: PromptSpec, context: int) -> int:
    chain = PromptChain(
        OpenAIChatClient("http://unused.invalid/v1", model="m"),
        ChainLimits(context_tokens=context),
    )
    budget = chain.transcript_budget(prompt_instructions(spec))
    parts = len(split_lines(utterance_lines(segments), budget))
    return parts + (1 if parts > 1 else 0)


def median_ms(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spec = requirements_prompt()
    fonts = PdfFonts.discover()
    rows = []
    for minutes in (10, 30, 120):
        segments = transcript(minutes)
        doc = ReportDocument("Transcript: bench", [("Recording", f"{minutes} min")], (), segments)
        markdown = report_markdown(doc)
        pdf = report_pdf(markdown, fonts, title="bench")
        rows.append(
            {
                "minutes": minutes,
                "utterances": len(segments),
                "transcript_chars": sum(len(line) + 1 for line in utterance_lines(segments)),
                "requests_8k": requests(segments, spec, 8192),
                "requests_32k": requests(segments, spec, 32768),
                "requests_128k": requests(segments, spec, 131072),
                "markdown_ms": median_ms(lambda d=doc: report_markdown(d), args.runs),
                "pdf_ms": median_ms(lambda m=markdown: report_pdf(m, fonts, title="b"), args.runs),
                "pdf_bytes": len(pdf),
            }
        )
    header = f"{'min':>4} {'utter.':>6} {'chars':>7} {'req 8k':>6} {'req 32k':>7} {'req 128k':>8}"
    print(f"{header} {'md ms':>7} {'pdf ms':>8} {'pdf bytes':>9}")
    for r in rows:
        print(
            f"{r['minutes']:>4} {r['utterances']:>6} {r['transcript_chars']:>7} "
            f"{r['requests_8k']:>6} {r['requests_32k']:>7} {r['requests_128k']:>8} "
            f"{r['markdown_ms']:>7} {r['pdf_ms']:>8} {r['pdf_bytes']:>9}"
        )
    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "reports.json"
    payload = {
        "version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": args.runs,
        "font": "DejaVu Sans" if fonts.regular else "Helvetica",
        "load_average": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
        "transcripts": rows,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
