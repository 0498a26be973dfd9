"""Segment rows and the full-text query of each backend.

PostgreSQL: ``to_tsvector('simple', text) @@ phraseto_tsquery('simple', term) && ...``, served
by the GIN index over that expression. SQLite: ``MATCH`` on the FTS5 table, each term a quoted
phrase of its tokens. MariaDB: ``MATCH ... AGAINST (... IN BOOLEAN MODE)`` with ``+word`` for
the words InnoDB indexes (at least ``innodb_ft_min_token_size`` letters and not a stopword);
a term with none of those is narrowed with ``LIKE`` instead. Each returns candidates: the
caller keeps those :func:`newspeech.analysis.search.query.find_terms` confirms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    column,
    delete,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.search.query import Term
from newspeech.models import Transcription, TranscriptSegment

FTS_TABLE = "ft_analysis_transcript_segments"
_SIMPLE: ColumnElement[str] = literal_column("'simple'")
Candidate = tuple[TranscriptSegment, Transcription]


class SegmentRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def replace(self, transcription_id: int, segments: Sequence[dict[str, Any]]) -> None:
        """Store a transcript's segments (those with text, each at its index in the
        transcript's ``segments``), replacing any stored before."""
        await self.db.execute(
            delete(TranscriptSegment).where(TranscriptSegment.transcription_id == transcription_id)
        )
        for position, segment in enumerate(segments):
            if not str(segment["text"]).strip():
                continue  # nothing to find; the others keep their index in the transcript
            self.db.add(
                TranscriptSegment(
                    transcription_id=transcription_id,
                    position=position,
                    start_seconds=float(segment["start"]),
                    end_seconds=float(segment["end"]),
                    text=str(segment["text"]),
                    words=list(segment.get("words") or []),
                )
            )
        await self.db.flush()

    async def candidates(
        self,
        terms: list[Term],
        recordings: list[ColumnElement[bool]],
        *,
        offset: int,
        limit: int,
    ) -> list[Candidate]:
        """Segments the backend's index matches, newest recording first, in transcript order."""
        query = (
            select(TranscriptSegment, Transcription)
            .join(Transcription, Transcription.id == TranscriptSegment.transcription_id)
            .where(*recordings)
            .order_by(TranscriptSegment.transcription_id.desc(), TranscriptSegment.position)
            .offset(offset)
            .limit(limit)
        )
        query = await self._matching(query, terms)
        return [(row[0], row[1]) for row in await self.db.execute(query)]

    async def _matching(self, query: Select[*Candidate], terms: list[Term]) -> Select[*Candidate]:
        dialect = self.db.get_bind().dialect.name
        if dialect == "postgresql":
            vector = func.to_tsvector(_SIMPLE, TranscriptSegment.text)
            tsquery: ColumnElement[Any] = func.phraseto_tsquery(_SIMPLE, terms[0].text)
            for term in terms[1:]:
                tsquery = tsquery.op("&&")(func.phraseto_tsquery(_SIMPLE, term.text))
            return query.where(vector.op("@@")(tsquery))
        if dialect == "sqlite":
            expression = " ".join('"' + " ".join(term.tokens) + '"' for term in terms)
            matching = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts")
            ids = matching.bindparams(fts=expression).columns(column("rowid", Integer))
            return query.where(TranscriptSegment.id.in_(ids))
        return query.where(*await self._mariadb(terms))

    async def _mariadb(self, terms: list[Term]) -> list[ColumnElement[bool]]:
        row = (
            await self.db.execute(
                text("SELECT @@innodb_ft_min_token_size, @@innodb_ft_enable_stopword")
            )
        ).one()
        min_size, stopwords_on = int(row[0]), bool(row[1])
        stopwords: set[str] = set()
        if stopwords_on:
            found = await self.db.scalars(
                text("SELECT value FROM information_schema.INNODB_FT_DEFAULT_STOPWORD")
            )
            stopwords = {str(word) for word in found}
        required: list[str] = []
        conditions: list[ColumnElement[bool]] = []
        for term in terms:
            indexed = [t for t in term.tokens if len(t) >= min_size and t not in stopwords]
            if indexed:
                required.extend(f"+{token}" for token in indexed)
            else:
                conditions.append(
                    and_(
                        *(TranscriptSegment.text.contains(t, autoescape=True) for t in term.tokens)
                    )
                )
        if required:
            against = " ".join(required)
            conditions.append(
                text("MATCH (analysis_transcript_segments.text) AGAINST (:ft IN BOOLEAN MODE)")
                .bindparams(ft=against)
                .self_group()  # type: ignore[arg-type]
            )
        return conditions
