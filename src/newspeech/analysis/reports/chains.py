"""Prompt chains over a transcript through an OpenAI-compatible chat model, without the database.

A prompt of the registry is run over the timed transcript (one line per utterance,
``[mm:ss] Speaker: text``, as the shipped prompts expect). A transcript longer than the model's
context is split at utterance boundaries into parts that fit; each part is answered on its own,
then one more call combines the answers. A JSON prompt's answer must parse and satisfy the
prompt's JSON Schema: an invalid one is sent back once with the error ("repair"), and a second
invalid answer fails the stage with that error.

Every request is written to the :class:`CallRecord` list the caller passes in, whether it
succeeded or not, so the runner can store each call with the stage's try that made it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match

from newspeech.errors import ConfigurationError, ValidationFailed
from newspeech.llm import ChatCompletion, ChatMessage, LLMClient

CHARS_PER_TOKEN = 3.5
"""A cautious estimate of characters per token for English text (no tokenizer is shipped for
an arbitrary server's model; a low estimate splits early rather than overflowing)."""

SYSTEM = (
    "You analyse transcripts of recorded conversations for a building design team. Follow the "
    "instructions exactly and base every statement on the transcript."
)

ROLES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "roles": {"type": "array", "items": {"enum": ["interviewer", "respondent"]}},
    },
    "required": ["roles"],
    "additionalProperties": False,
}


class InvalidAnswer(ValidationFailed):
    """The model answered a JSON prompt twice with something that is not valid against its
    schema; retrying the stage at the same temperature would not help."""


@dataclass(frozen=True)
class PromptSpec:
    prompt_version_id: int
    title: str
    text: str
    returns_json: bool
    json_schema: Mapping[str, Any] | None


@dataclass(frozen=True)
class ChainLimits:
    context_tokens: int = 8192
    """the model's context window"""
    answer_tokens: int = 1500
    """tokens kept free for (and asked as the most of) each answer"""
    temperature: float = 0.0


@dataclass
class CallRecord:
    purpose: str
    """``part``, ``combine``, ``repair`` or ``speakers``"""
    prompt_version_id: int | None
    part: int | None
    parts: int | None
    input_sha256: str
    model_requested: str
    parameters: dict[str, Any]
    latency_seconds: float = 0.0
    model_answered: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    raw_output: str | None = None
    parsed: Any = None
    error: str | None = None

    def columns(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Request:
    messages: list[ChatMessage]
    schema: Mapping[str, Any] | None
    record: CallRecord
    extra: dict[str, Any] = field(default_factory=dict)


def utterance_lines(segments: Sequence[Mapping[str, Any]]) -> list[str]:
    """The transcript as the prompts read it: ``[mm:ss] Speaker: text`` per segment."""
    return [
        f"[{clock(float(s['start']))}] {speaker_label(s.get('speaker'))}: {s['text']}"
        for s in segments
        if str(s.get("text") or "").strip()
    ]


def speaker_label(speaker: object) -> str:
    if speaker in ("interviewer", "respondent"):
        return str(speaker).capitalize()
    return "Speaker"


def clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def split_lines(lines: Sequence[str], budget_chars: int) -> list[list[str]]:
    """Consecutive runs of lines of at most ``budget_chars`` characters each (a longer line is
    a part of its own); at least one part, empty for an empty transcript."""
    parts: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if parts[-1] and size + len(line) + 1 > budget_chars:
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += len(line) + 1
    return parts


def parse_json(content: str) -> Any:
    """The JSON value of a reply; a Markdown code fence around it is tolerated."""
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").strip()
        text = text.removeprefix("json").strip()
    return json.loads(text)


def schema_error(value: Any, schema: Mapping[str, Any] | None) -> str | None:
    """Why ``value`` does not satisfy ``schema`` (its draft, 2020-12 by default), or None."""
    if schema is None:
        return None
    validator_class = validators.validator_for(schema, default=validators.Draft202012Validator)
    error = best_match(validator_class(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(the top level)"
    return f"at {where}: {error.message}"[:1000]


class PromptChain:
    """Runs prompts and the speaker-role pass on one LLM client."""

    def __init__(
        self,
        client: LLMClient,
        limits: ChainLimits | None = None,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.client = client
        self.limits = limits or ChainLimits()
        self.timer = timer

    @property
    def model(self) -> str:
        return self.client.model

    async def run_prompt(
        self, prompt: PromptSpec, segments: Sequence[Mapping[str, Any]], log: list[CallRecord]
    ) -> dict[str, Any]:
        """The prompt's answer over the whole transcript: ``{"markdown": ...}`` or
        ``{"data": ...}``, and how many parts the transcript was read in."""
        instructions = prompt_instructions(prompt)
        schema = prompt.json_schema if prompt.returns_json else None
        parts = split_lines(utterance_lines(segments), self.transcript_budget(instructions))
        answers = []
        for index, lines in enumerate(parts, start=1):
            where = (
                f"This is part {index} of {len(parts)} of the transcript; answer from this part."
            )
            body = "\n".join(lines) or "(the recording has no speech)"
            heading = f"{where}\n\n" if len(parts) > 1 else ""
            content = f"{instructions}\n\n{heading}Transcript:\n{body}"
            record = self._record("part", prompt, index, len(parts))
            answers.append(await self._ask(content, prompt, schema, record, log))
        if len(parts) == 1:
            answer = answers[0]
        else:
            shown = "\n\n".join(
                f"### Answer for part {i}\n{a if isinstance(a, str) else json.dumps(a)}"
                for i, a in enumerate(answers, start=1)
            )
            content = (
                f"{instructions}\n\nThe transcript was too long to read at once. These are the "
                f"answers to the instructions for each of its {len(parts)} parts, in order. "
                "Combine them into one answer that follows the instructions, as if written "
                f"from the whole transcript; drop repetitions.\n\n{shown}"
            )
            record = self._record("combine", prompt, None, len(parts))
            answer = await self._ask(content, prompt, schema, record, log)
        key = "data" if prompt.returns_json else "markdown"
        return {key: answer, "parts": len(parts)}

    async def label_speakers(
        self, segments: Sequence[Mapping[str, Any]], log: list[CallRecord]
    ) -> list[str]:
        """``interviewer`` or ``respondent`` for each segment, in order."""
        instructions = (
            "Below are the numbered utterances of a recorded conversation between an "
            "interviewer (a member of the design team who asks the questions or leads the "
            "walk-through) and a respondent (the client, or the person who answers). Say who "
            "speaks each utterance. Answer with one JSON object valid against this JSON Schema "
            f"and nothing else:\n{json.dumps(ROLES_SCHEMA)}\n`roles` has one entry per "
            "utterance, in order."
        )
        numbered = [
            f"{i}. [{clock(float(s['start']))}] {s['text']}" for i, s in enumerate(segments, 1)
        ]
        roles: list[str] = []
        parts = split_lines(numbered, self.transcript_budget(instructions))
        for index, lines in enumerate(parts, start=1):
            content = f"{instructions}\n\nUtterances ({len(lines)}):\n" + "\n".join(lines)
            record = self._record("speakers", None, index, len(parts))
            answer = await self._ask(content, None, ROLES_SCHEMA, record, log, count=len(lines))
            roles.extend(answer["roles"])
        return roles

    def transcript_budget(self, instructions: str) -> int:
        free = self.limits.context_tokens - self.limits.answer_tokens - 200
        budget = int(free * CHARS_PER_TOKEN) - len(SYSTEM) - len(instructions)
        if budget < 500:
            raise ConfigurationError(
                f"the model's context ({self.limits.context_tokens} tokens) leaves no room for "
                "the transcript after the instructions; raise NEWSPEECH_ANALYSIS_LLM_CONTEXT_TOKENS"
            )
        return budget

    def _record(
        self, purpose: str, prompt: PromptSpec | None, part: int | None, parts: int
    ) -> CallRecord:
        return CallRecord(
            purpose=purpose,
            prompt_version_id=prompt.prompt_version_id if prompt else None,
            part=part,
            parts=parts,
            input_sha256="",
            model_requested=self.client.model,
            parameters={},
        )

    async def _ask(
        self,
        content: str,
        prompt: PromptSpec | None,
        schema: Mapping[str, Any] | None,
        record: CallRecord,
        log: list[CallRecord],
        *,
        count: int | None = None,
    ) -> Any:
        """One answer: a call, and for JSON one repair call when the answer is invalid."""
        returns_json = schema is not None or (prompt is not None and prompt.returns_json)
        messages = [ChatMessage("system", SYSTEM), ChatMessage("user", content)]
        reply = await self._call(messages, schema, record, log)
        if not returns_json:
            return reply.content.strip()
        value, error = _check(reply.content, schema, count)
        record.parsed = value  # kept even when it fails the schema, to see what was wrong
        if error is None:
            return value
        record.error = f"invalid answer: {error}"
        messages += [
            ChatMessage("assistant", reply.content),
            ChatMessage(
                "user",
                f"That answer is not valid: {error}. Answer again with only the JSON value, "
                "valid against the schema given above.",
            ),
        ]
        repair = CallRecord(**{**record.columns(), "purpose": "repair", "error": None})
        reply = await self._call(messages, schema, repair, log)
        value, error = _check(reply.content, schema, count)
        repair.parsed = value
        if error is not None:
            repair.error = f"invalid answer: {error}"
            raise InvalidAnswer(
                f"the model's answer is not valid JSON for its schema, even after it was "
                f"shown the error: {error}"
            )
        return value

    async def _call(
        self,
        messages: list[ChatMessage],
        schema: Mapping[str, Any] | None,
        record: CallRecord,
        log: list[CallRecord],
    ) -> ChatCompletion:
        parameters: dict[str, Any] = {
            "temperature": self.limits.temperature,
            "max_tokens": self.limits.answer_tokens,
            "json_schema": schema is not None,
        }
        sent = {
            "model": self.client.model,
            "messages": [[m.role, m.content] for m in messages],
            "schema": schema,
            **parameters,
        }
        record.parameters = parameters
        record.input_sha256 = hashlib.sha256(
            json.dumps(sent, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        log.append(record)
        started = self.timer()
        try:
            reply = await self.client.complete(
                messages,
                json_schema=schema,
                temperature=self.limits.temperature,
                max_tokens=self.limits.answer_tokens,
            )
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"[:4000]
            raise
        finally:
            record.latency_seconds = round(self.timer() - started, 4)
        record.model_answered = reply.model
        record.raw_output = reply.content
        record.prompt_tokens = _tokens(reply.usage, "prompt_tokens")
        record.completion_tokens = _tokens(reply.usage, "completion_tokens")
        record.total_tokens = _tokens(reply.usage, "total_tokens")
        return reply


def prompt_instructions(prompt: PromptSpec) -> str:
    text = prompt.text.strip()
    if not prompt.returns_json:
        return text
    if prompt.json_schema is None:
        return f"{text}\n\nAnswer with one JSON value and nothing else."
    schema = json.dumps(prompt.json_schema, indent=1)
    return (
        f"{text}\n\nAnswer with one JSON value valid against this JSON Schema and nothing "
        f"else:\n{schema}"
    )


def _check(
    content: str, schema: Mapping[str, Any] | None, count: int | None
) -> tuple[Any, str | None]:
    try:
        value = parse_json(content)
    except ValueError as exc:
        return None, f"it is not JSON ({exc})"
    error = schema_error(value, schema)
    if error is None and count is not None and len(value["roles"]) != count:
        error = f"`roles` has {len(value['roles'])} entries for {count} utterances"
    return value, error


def _tokens(usage: Mapping[str, Any], key: str) -> int | None:
    value = usage.get(key)
    return value if isinstance(value, int) else None
