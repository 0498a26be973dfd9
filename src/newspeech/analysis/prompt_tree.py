"""Reading a prompt folder tree: ``<scenario>/<report type>/<building type>/part N <title>.md``.

A part whose answer is JSON has a sibling ``part N <title>.schema.json`` holding the JSON Schema
of that answer. Files above the building-type folders (a README) are ignored unless they are
named like a part (a prompt put a folder too high); hidden files are ignored. Everything else is
a mistake: the tree is read whole, and every problem is reported at once before anything is
stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for

from newspeech.analysis.keys import clean_name, dictionary_key, folder_title
from newspeech.errors import ValidationFailed
from newspeech.kit.text import forbidden_character

PROMPT_SUFFIX = ".md"
SCHEMA_SUFFIX = ".schema.json"
_PART = re.compile(r"^part[ _-]*(?P<number>\d+)(?P<title>.*)$", re.IGNORECASE)
_TITLE_EDGES = " \t-_.:\u2013\u2014"
DEPTH = 4
"""scenario / report type / building type / file."""
MAX_PROMPT_BYTES = 256 * 1024


@dataclass(frozen=True)
class PromptFile:
    """One part of a report's chain as found in the tree."""

    scenario: str
    report_type: str
    building_type: str
    run_part: int
    title: str
    text: str
    json_schema: dict[str, Any] | None
    source: str
    """The prompt file's path inside the tree (``interview/client-brief/hotel/part 1 ….md``)."""

    @property
    def returns_json(self) -> bool:
        return self.json_schema is not None

    @property
    def folder(self) -> tuple[str, str, str]:
        """The normalised keys of its scenario, report type and building type."""
        return (
            dictionary_key(self.scenario),
            dictionary_key(self.report_type),
            dictionary_key(self.building_type),
        )

    @property
    def sha256(self) -> str:
        return content_hash(self.text, self.json_schema)


def content_hash(text: str, json_schema: dict[str, Any] | None) -> str:
    """The hash a stored version is compared by: text and schema (canonical JSON) together."""
    schema = "" if json_schema is None else json.dumps(json_schema, sort_keys=True)
    return hashlib.sha256(f"{text}\n\x00{schema}".encode()).hexdigest()


def normalise_text(raw: str) -> str:
    """Line endings as LF, no trailing spaces on lines, one final newline: a checkout on
    Windows or an editor's whitespace does not make a new version."""
    lines = [line.rstrip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def read_prompt_tree(root: Path) -> list[PromptFile]:
    """Every prompt of the tree under ``root``, in (folder, run_part) order.

    Raises ``ValidationFailed`` listing every problem found (one per line).
    """
    if not root.is_dir():
        raise ValidationFailed(f"{root} is not a folder")
    problems: list[str] = []
    found: dict[tuple[str, str, str, int], PromptFile] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_dir():
            if len(relative.parts) >= DEPTH:
                problems.append(
                    f"{relative}: too deep; prompts go in <scenario>/<report type>/<building type>/"
                )
            continue
        if len(relative.parts) < DEPTH:
            if len(relative.parts) > 1 and _looks_like_a_part(path.name):
                problems.append(
                    f"{relative}: not in a building-type folder; prompts go in <scenario>/"
                    "<report type>/<building type>/"
                )
            continue
        if path.name.endswith(SCHEMA_SUFFIX):
            continue
        try:
            prompt = _read_prompt(root, relative)
        except ValidationFailed as exc:
            problems.append(exc.detail)
            continue
        slot = (*prompt.folder, prompt.run_part)
        if slot in found:
            problems.append(f"{relative}: part {prompt.run_part} is also {found[slot].source}")
            continue
        found[slot] = prompt
    problems += _orphan_schemas(root)
    if problems:
        raise ValidationFailed("the prompt tree has problems:\n" + "\n".join(problems))
    if not found:
        raise ValidationFailed(
            f"no prompts under {root}: expected <scenario>/<report type>/<building type>/"
            "part N <title>.md"
        )
    return [found[slot] for slot in sorted(found)]


def _looks_like_a_part(name: str) -> bool:
    return name.endswith((PROMPT_SUFFIX, SCHEMA_SUFFIX)) and _PART.match(name) is not None


def _read_prompt(root: Path, relative: Path) -> PromptFile:
    name = relative.name
    match = _PART.match(name[: -len(PROMPT_SUFFIX)]) if name.endswith(PROMPT_SUFFIX) else None
    if match is None:
        raise ValidationFailed(f"{relative}: not a prompt; name it 'part N <title>.md'")
    run_part = int(match["number"])
    if run_part < 1:
        raise ValidationFailed(f"{relative}: parts are numbered from 1")
    scenario, report_type, building_type = relative.parts[:3]
    try:
        for folder in (scenario, report_type, building_type):
            dictionary_key(folder)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{relative}: {exc.detail}") from exc
    text = _read_text(root / relative, relative)
    schema_path = (root / relative).with_name(name[: -len(PROMPT_SUFFIX)] + SCHEMA_SUFFIX)
    schema = _read_schema(schema_path, relative) if schema_path.exists() else None
    title = match["title"].strip(_TITLE_EDGES) or f"Part {run_part}"
    try:
        title = folder_title(title) if title == title.lower() else clean_name(title)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{relative}: bad title: {exc.detail}") from exc
    return PromptFile(
        scenario=scenario,
        report_type=report_type,
        building_type=building_type,
        run_part=run_part,
        title=title,
        text=text,
        json_schema=schema,
        source=relative.as_posix(),
    )


def _read_text(path: Path, relative: Path) -> str:
    if path.stat().st_size > MAX_PROMPT_BYTES:
        raise ValidationFailed(f"{relative}: larger than {MAX_PROMPT_BYTES // 1024} KiB")
    try:
        text = normalise_text(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{relative}: not UTF-8 text ({exc.reason})") from exc
    if not text.strip():
        raise ValidationFailed(f"{relative}: empty")
    problem = forbidden_character(text)
    if problem is not None:
        raise ValidationFailed(f"{relative}: {problem}")
    return text


def _read_schema(path: Path, relative: Path) -> dict[str, Any]:
    where = relative.with_name(path.name)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(schema, dict) or schema.get("type") not in ("object", "array"):
        raise ValidationFailed(
            f'{where}: a JSON Schema whose top-level "type" is "object" or "array"'
        )
    # Draft 2020-12 unless the schema names another draft with "$schema".
    validator = validator_for(schema, default=Draft202012Validator)
    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        at = "/".join(str(step) for step in exc.path) or "the top level"
        raise ValidationFailed(f"{where}: not a valid JSON Schema at {at}: {exc.message}") from exc
    return schema


def _orphan_schemas(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.glob("*/*/*/*" + SCHEMA_SUFFIX)):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        prompt = _prompt_of(relative)
        if not (root / prompt).is_file():
            problems.append(f"{relative}: a schema with no prompt '{prompt.name}'")
    return problems


def _prompt_of(schema: Path) -> Path:
    return schema.with_name(schema.name[: -len(SCHEMA_SUFFIX)] + PROMPT_SUFFIX)


def describe_folder(prompt: PromptFile) -> tuple[str, str, str]:
    """Display names of the prompt's scenario, report type and building type."""
    return (
        folder_title(prompt.scenario),
        folder_title(prompt.report_type),
        folder_title(prompt.building_type),
    )
