"""The server side of bench/latency.py: the real app (real speech engines, the real WebSocket
edge and session loop) with the scripted conversation standing in for the exam engine, which
is not merged yet. Run as its own process so its memory can be measured alone.

    python -m bench._latency_server --port 8765
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import uvicorn
from tests.fixtures.scripted_conversation import ScriptedOpener, ScriptedQuestion

from newspeech.app import create_app
from newspeech.config import Settings

TOKEN = "bench-token"
QUESTIONS = (
    ScriptedQuestion("What did the president ask of his fellow Americans?", ("country",)),
    ScriptedQuestion("Which chamber of the heart pumps blood to the body?", ("left ventricle",)),
    ScriptedQuestion("What is the first line treatment of anaphylaxis?", ("adrenaline",)),
    ScriptedQuestion("What does the president ask in the full sentence?", ("ask not",)),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="newspeech-latency-"))
    settings = Settings(environment="test", data_dir=data_dir)
    opener = ScriptedOpener({TOKEN: "candidate"}, QUESTIONS, silence_prompt_seconds=15.0)
    app = create_app(settings, exam_opener=lambda _state: opener)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", ws_max_size=1 << 20)


if __name__ == "__main__":
    main()
