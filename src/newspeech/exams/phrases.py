"""Everything the examiner says that is not a question, a case or feedback.

Fixed phrases are plain constants so the session loop can synthesise them once and replay them;
phrases with the candidate's name or score are small functions.
"""

from __future__ import annotations

from newspeech.results.rules import ResultSummary

YES_NO_PROMPT = "Yes or no."
TAKE_YOUR_TIME = "Take your time. Answer whenever you are ready."
ONCE_MORE = "Let me ask the question once more."
OF_COURSE = "Of course. Here is the question again."
ASK_AGAIN = "Of course."
IDENTITY_FIRST = "Before the first question, I need to know who I am speaking with."
CARRY_ON = "Very well, let's carry on. Here is the question again."
SAY_MORE = "Could you tell me a little more?"
SKIPPED = "All right, let's move on."
MOVE_ON_SILENT = "I haven't heard an answer, so let's move on."
NOT_MARKED = (
    "Thank you. I could not mark that answer just now; it is saved and an examiner will mark it."
)
CONFIRM_END = (
    "Do you want to end the exam now? The questions you have answered will be marked. "
    "Please say yes or no."
)
GOODBYE = "Thank you for taking this viva. Goodbye."
NOT_STARTED = "All right, the exam has not started. Goodbye."
IDENTITY_UNCONFIRMED = (
    "I could not confirm who I am speaking with, so the exam will not start. "
    "Please sign in again when you are ready. Goodbye."
)

CLOSING = {
    "completed": "That was the last question. Thank you.",
    "ended_by_student": "Very well, we will stop here. Your answers so far have been marked.",
    "time_limit": "We have reached the time limit for this exam, so we will stop here.",
    "identity_not_confirmed": IDENTITY_UNCONFIRMED,
}


def ask_identity(name: str) -> str:
    return f"Am I speaking with {name}? Please say yes or no."


def welcome(college_name: str, name: str) -> str:
    return (
        f"Welcome to your {college_name} viva. I am your examiner. Before we begin: "
        f"{ask_identity(name)}"
    )


def not_you(name: str) -> str:
    return (
        f"Thank you for telling me. This exam is booked for {name}, so I cannot start it for "
        "you. Please sign in with your own account. Goodbye."
    )


def instructions(name: str) -> str:
    return (
        f"Thank you, {name}. I will read you four short cases, with three questions on each. "
        "Answer in your own words. You can ask me to repeat a question, or to skip it. "
        "Here is the first case."
    )


def welcome_back(name: str) -> str:
    return f"Welcome back, {name}. Let's continue where we left off."


def result(summary: ResultSummary) -> str:
    verdict = "You have passed." if summary.passed else "You have not passed this time."
    return (
        f"You scored {summary.total_score} out of {summary.max_score}, which is "
        f"{summary.percentage:.0f} percent: grade {summary.grade}. {verdict}"
    )


CACHEABLE = (
    TAKE_YOUR_TIME,
    SAY_MORE,
    CONFIRM_END,
    GOODBYE,
    CARRY_ON,
    ONCE_MORE,
    OF_COURSE,
    SKIPPED,
    MOVE_ON_SILENT,
)
"""The fixed phrases the engine says as cacheable utterances (kept in the phrase caches and
pre-rendered by ``newspeech voice prerender``)."""
