"""The life cycle of an exam sitting, in one place.

pending ──start──► in_progress ──complete──► completed
   │                    │
   └──terminate──►  terminated ◄──terminate──┘
"""

from __future__ import annotations

from newspeech.errors import InvalidState
from newspeech.models import SessionStatus

_ALLOWED: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.PENDING: frozenset({SessionStatus.IN_PROGRESS, SessionStatus.TERMINATED}),
    SessionStatus.IN_PROGRESS: frozenset({SessionStatus.COMPLETED, SessionStatus.TERMINATED}),
    SessionStatus.COMPLETED: frozenset(),
    SessionStatus.TERMINATED: frozenset(),
}


def ensure_transition(code: str, current: SessionStatus, target: SessionStatus) -> None:
    if target not in _ALLOWED[current]:
        raise InvalidState(
            f"exam session {code} is {current.value}; it cannot become {target.value}"
        )


def ensure_accepts_answers(code: str, current: SessionStatus) -> None:
    if current is not SessionStatus.IN_PROGRESS:
        raise InvalidState(
            f"exam session {code} is {current.value}; answers are accepted only while in_progress"
        )
