"""The session loop, frame by frame on a virtual clock, with the real engines.

Silero VAD, Smart Turn v3.2, whisper tiny.en and Piper run for real on the shared recordings;
the exam is the scripted conversation. No assertion is about how long anything took.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from newspeech.config import Settings
from newspeech.voice.audio import decode_audio
from newspeech.voice.conversation import (
    Control,
    ExaminerTurn,
    HeardAnswer,
    SayMeanwhile,
    Utterance,
    UtteranceKind,
)
from newspeech.voice.engines import SpeechEngines
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, SpeechToText, Transcript
from newspeech.voice.session import LoopSettings, SessionEngines
from newspeech.voice.speaker import Speaker
from newspeech.voice.tts import CHUNK_SECONDS
from tests.fixtures.scripted_conversation import (
    TAKE_YOUR_TIME,
    ScriptedConversation,
    ScriptedQuestion,
)
from tests.voice.session_harness import REAL_TIMEOUT, Exam, silence, start_exam
from tests.voice.wer import normalize

QUESTIONS = (
    ScriptedQuestion("Count from one to three.", ("one", "two", "three")),
    ScriptedQuestion("What did the president ask of his fellow Americans?", ("country",)),
    ScriptedQuestion("Name a chamber of the heart.", ("ventricle",)),
)


@pytest.fixture(scope="module")
def engines(speech: SpeechEngines) -> SessionEngines:
    speaker = Speaker(speech.tts, PhraseCache(), speech.fallback_tts)
    return SessionEngines(speech.frame_pool, speech.vad, speech.turn, speech.stt, speaker)


@pytest.fixture(scope="module")
def jfk(shared_dir: Path) -> PCM16:
    return decode_audio((shared_dir / "audio/whisper_jfk.flac").read_bytes(), max_seconds=60)


@pytest.fixture(scope="module")
def one_two_three(shared_dir: Path) -> PCM16:
    data = (shared_dir / "audio/speech_recognition_english.wav").read_bytes()
    return decode_audio(data, max_seconds=60)


def said(text: str) -> str:
    return " ".join(normalize(text))


def at(pcm: PCM16, start: float, end: float | None = None) -> PCM16:
    return pcm[round(start * SAMPLE_RATE) : None if end is None else round(end * SAMPLE_RATE)]


async def listening(exam: Exam[Any], count: int = 1) -> None:
    await exam.wait_for_event("listening", count)


async def test_an_answer_ends_the_turn_is_transcribed_graded_and_measured(
    engines: SessionEngines, jfk: PCM16
) -> None:
    exam = start_exam(engines, ScriptedConversation(QUESTIONS[1:]))
    await listening(exam)
    await exam.play(at(jfk, 7.9))  # "ask what you can do for your country"
    await exam.wait_for_event("latency")

    (heard,) = exam.conversation.answers
    assert said(heard.transcript.text) == "ask what you can do for your country"
    assert exam.conversation.scores == [10.0]
    assert heard.pcm  # the answer's own audio goes to the exam for storage
    await exam.wait_for_event("question", 2)
    kinds = ("transcript", "evaluation", "speaking", "speaking_done", "question")
    types = [t for t in exam.wire.types() if t in kinds]
    after = types[types.index("transcript") :]
    # The next question's event goes out as it is spoken, after the feedback.
    assert after[:6] == [
        "transcript",
        "evaluation",
        "speaking",
        "speaking_done",
        "question",
        "speaking",
    ]
    (timings,) = exam.conversation.measured
    assert timings.first_audio_sent is not None
    assert timings.grade_ready is not None
    assert (
        timings.speech_started
        < timings.speech_ended
        <= timings.turn_declared
        <= timings.transcript_ready
        <= timings.grade_ready
        <= timings.first_audio_sent
    )
    latency = exam.wire.events("latency")[0]
    assert latency["question_number"] == 2  # the latency is the reply's: the next question
    assert {"response_ms", "voice_to_voice_ms"} <= set(latency)
    assert await exam.close() == "disconnected"
    assert exam.conversation.disconnects == 1


async def test_counting_with_pauses_is_one_answer_even_where_a_pause_ended_the_turn(
    engines: SessionEngines, one_two_three: PCM16
) -> None:
    """Counting "one … two … three" (pauses of half a second): Smart Turn may hear "One." as a
    finished sentence and end the turn, but the counting goes on before the reply is over, so
    the answer is reopened: one answer, all of it, under the first question."""
    exam = start_exam(engines, ScriptedConversation(QUESTIONS))
    await listening(exam)
    await exam.play(one_two_three)
    answers = exam.conversation.answers
    await exam.wait_until(
        lambda: bool(answers) and said(answers[-1].transcript.text)[-5:] == "three"
    )
    (heard,) = answers
    assert said(heard.transcript.text) == "one two three"
    assert exam.wire.events("evaluation")[-1]["question_number"] == 1
    await exam.close()


@dataclass
class HeardStretches:
    """The real engine, noting how many seconds of audio each decode was given."""

    stt: SpeechToText
    seconds: list[float] = field(default_factory=list)

    async def transcribe(self, pcm: PCM16, **options: Any) -> Transcript:
        self.seconds.append(pcm.size / SAMPLE_RATE)
        return await self.stt.transcribe(pcm, **options)


async def answer_after_a_pause(
    engines: SessionEngines, jfk: PCM16, settings: LoopSettings
) -> tuple[Exam[ScriptedConversation], HeardStretches, HeardAnswer]:
    """ "ask not what your country can do for you [2.5 s] ask what you can do for your
    country" as one answer, up to its evaluation: the exam, what each decode heard, the answer."""
    ears = HeardStretches(engines.stt)
    exam = start_exam(replace(engines, stt=ears), ScriptedConversation(QUESTIONS[1:]), settings)
    await listening(exam)
    await exam.play(np.concatenate([at(jfk, 3.0, 7.8), silence(2.5), at(jfk, 7.8)]))
    await exam.wait_for_event("evaluation")
    (heard,) = exam.conversation.answers
    return exam, ears, heard


async def test_a_thinking_pause_mid_answer_does_not_end_the_turn(
    engines: SessionEngines, jfk: PCM16
) -> None:
    """ "ask not what your country can do for you [2.5 s] ask what you can do for your
    country": one answer, both halves. Settling, the decode started in the pause is kept, and
    the one after it hears only the second half."""
    exam, ears, heard = await answer_after_a_pause(
        engines, jfk, LoopSettings(settle_min_seconds=3.0)
    )
    text = said(heard.transcript.text)
    assert text.startswith("ask not what your country")
    assert text.endswith("ask what you can do for your country")
    assert exam.session.stats.turns == 1
    assert exam.session.stats.settled_decodes >= 1
    # No decode heard the whole answer again: each heard at most what followed a pause.
    whole = heard.transcript.audio_seconds
    assert max(ears.seconds) < whole - 4.0
    # Word times are the whole answer's: the second half's words come after the pause.
    last = heard.transcript.words[-1]
    assert last.end > 4.8 + 2.5
    await exam.close()


async def test_by_default_every_decode_hears_the_answer_from_its_first_word(
    engines: SessionEngines, jfk: PCM16
) -> None:
    exam, ears, heard = await answer_after_a_pause(engines, jfk, LoopSettings())
    assert said(heard.transcript.text).endswith("ask what you can do for your country")
    assert exam.session.stats.settled_decodes == 0
    assert exam.session.stats.speculative_discarded >= 1
    assert max(ears.seconds) == pytest.approx(heard.transcript.audio_seconds)
    await exam.close()


async def test_a_short_piece_before_a_pause_is_heard_again_with_what_follows(
    engines: SessionEngines, jfk: PCM16
) -> None:
    """A piece shorter than ``settle_min_seconds`` is not kept: the decode after the pause
    starts from the answer's first word."""
    exam, ears, heard = await answer_after_a_pause(
        engines, jfk, LoopSettings(settle_min_seconds=10.0)
    )
    assert said(heard.transcript.text).startswith("ask not what your country")
    assert exam.session.stats.settled_decodes == 0
    assert max(ears.seconds) == pytest.approx(heard.transcript.audio_seconds)
    await exam.close()


async def test_the_natural_pauses_of_a_real_recording_stay_in_one_turn(
    engines: SessionEngines, jfk: PCM16
) -> None:
    exam = start_exam(engines, ScriptedConversation(QUESTIONS[1:]))
    await listening(exam)
    await exam.play(at(jfk, 3.0))  # pauses of 1.0 s and 0.5 s between phrases
    await exam.wait_for_event("evaluation")
    (heard,) = exam.conversation.answers
    assert "ask not" in said(heard.transcript.text)
    assert said(heard.transcript.text).endswith("your country")
    await exam.close()


def audio_between(
    exam: Exam[ScriptedConversation], first: dict[str, object], last_type: str
) -> list[bytes]:
    """Audio sent after event ``first`` and before the next event of type ``last_type``."""
    out: list[bytes] = []
    seen = False
    for _, what, payload in exam.wire.log:
        if what == "event" and payload is first:
            seen = True
        elif seen and what == "event" and payload["type"] == last_type:
            break
        elif seen and what == "audio":
            out.append(payload)
    return out


async def test_speech_over_the_examiner_barges_in_and_flushes_within_one_chunk(
    engines: SessionEngines, jfk: PCM16
) -> None:
    exam = start_exam(engines, ScriptedConversation(QUESTIONS[1:]))
    # The welcome is playing: wait for a little of its audio, then talk over it.
    await exam.wait_until(lambda: len([x for x in exam.wire.log if x[1] == "audio"]) > 10)
    await exam.play(at(jfk, 0.0, 2.6))  # "And so my fellow Americans"
    flush = await exam.wait_for_event("flush")

    assert exam.session.stats.barge_ins == 1
    ((utterance, played),) = exam.conversation.interruptions
    assert utterance.kind is UtteranceKind.WELCOME
    assert flush["played_ms"] == round(played * 1000)
    assert 0 < played < 10
    # Nothing of the welcome (nor the question queued behind it) is sent after the flush.
    assert audio_between(exam, flush, "speaking") == []
    stop_chunks = exam.session.stats.stop_seconds[0] / CHUNK_SECONDS
    assert stop_chunks <= 1.0
    # What the student said over the examiner is their answer.
    (heard,) = (await _answers(exam, 1)).answers
    assert said(heard.transcript.text).startswith("and so my fellow americans")
    await exam.close()


async def _answers(exam: Exam[ScriptedConversation], count: int) -> ScriptedConversation:
    await exam.wait_until(lambda: len(exam.conversation.answers) >= count)
    return exam.conversation


async def test_a_short_backchannel_over_the_examiner_does_not_interrupt(
    engines: SessionEngines, one_two_three: PCM16
) -> None:
    exam = start_exam(engines, ScriptedConversation(QUESTIONS))
    await exam.wait_until(lambda: len([x for x in exam.wire.log if x[1] == "audio"]) > 10)
    await exam.play(np.concatenate([at(one_two_three, 0.15, 0.35), silence(0.5)]))
    await listening(exam)

    assert exam.session.stats.backchannels == 1
    assert exam.session.stats.barge_ins == 0
    assert "flush" not in exam.wire.types()
    assert exam.conversation.interruptions == []
    assert exam.conversation.answers == []
    speaking = exam.wire.events("speaking")
    assert [e["kind"] for e in speaking] == ["welcome", "question"]
    assert exam.wire.events("speaking_done")[-1]["utterance_id"] == speaking[-1]["utterance_id"]
    await exam.close()


async def test_silence_prompts_then_repeats_then_moves_on(engines: SessionEngines) -> None:
    conversation = ScriptedConversation(QUESTIONS, silence_prompt_seconds=3.0)
    exam = start_exam(engines, conversation)
    await listening(exam)
    await listening(exam, 2)  # "Take your time."
    await listening(exam, 3)  # the question again
    await listening(exam, 4)  # no answer recorded; the next question

    texts = [e["text"] for e in exam.wire.events("speaking")]
    first = QUESTIONS[0].text
    assert texts[1:] == [first, TAKE_YOUR_TIME, first, QUESTIONS[1].text]
    assert len(conversation.silence_calls) == 3
    assert all(waited >= 3.0 for waited in conversation.silence_calls)
    assert conversation.scores == [None]
    await exam.close()


async def test_skip_and_end_controls(engines: SessionEngines) -> None:
    conversation = ScriptedConversation(QUESTIONS)
    exam = start_exam(engines, conversation)
    await listening(exam)
    await exam.control(Control.SKIP)
    await exam.wait_for_event("question", 2)
    await exam.control(Control.END)  # while the second question is being asked
    await exam.wait_until(lambda: exam.task.done())

    assert await exam.task == "ended_by_student"
    assert conversation.controls == [Control.SKIP, Control.END]
    assert exam.wire.types()[-1] == "ended"
    assert exam.wire.events("ended")[0]["reason"] == "ended_by_student"
    assert exam.wire.events("result")
    assert conversation.disconnects == 0


PAUSE = "Please bear with me: we have a short technical pause on our side."


@dataclass
class WaitingConversation(ScriptedConversation):
    """Its reply to a skip waits for ``back`` (a database coming back); meanwhile it asks the
    loop to say there is a technical pause, as the exam does."""

    say: SayMeanwhile | None = None
    back: asyncio.Event = field(default_factory=asyncio.Event)

    def speak_meanwhile(self, say: SayMeanwhile) -> None:
        self.say = say

    async def control(self, command: Control) -> ExaminerTurn:
        if command is Control.SKIP:
            assert self.say is not None
            pause = Utterance(PAUSE, UtteranceKind.PROMPT, cacheable=True)
            self.say(ExaminerTurn(utterances=(pause,), events=({"type": "technical_pause"},)))
            await self.back.wait()
        return await super().control(command)


def pause_audio(exam: Exam[WaitingConversation]) -> bool:
    """The pause's ``speaking`` event went out, and audio after it."""
    log = exam.wire.log
    begun = [
        i
        for i, (_, what, sent) in enumerate(log)
        if what == "event" and sent["type"] == "speaking" and sent["text"] == PAUSE
    ]
    return bool(begun) and any(what == "audio" for _, what, _ in log[begun[0] :])


async def test_what_the_conversation_says_meanwhile_is_spoken_before_its_reply_is_ready(
    engines: SessionEngines,
) -> None:
    """The reply waits (the database is away): the pause is spoken at once, and a button
    pressed meanwhile waits for the reply rather than cutting the pause and the reply short."""
    conversation = WaitingConversation(QUESTIONS)
    exam = start_exam(engines, conversation)
    await listening(exam)
    await exam.wire.push(Control.SKIP)  # no settling: the examiner waits on the conversation
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REAL_TIMEOUT
    while not pause_audio(exam):
        assert loop.time() < deadline, f"the pause was not said: {exam.wire.types()}"
        await asyncio.sleep(0.01)
    pauses = [e for e in exam.wire.events("speaking") if e["text"] == PAUSE]
    assert len(pauses) == 1  # its words are under way ...
    assert exam.wire.events("technical_pause")
    assert not exam.wire.events("question")[1:]  # ... before the reply exists
    await exam.wire.push(Control.REPEAT)  # pressed during the pause: deferred, not a cut
    conversation.back.set()
    await exam.wait_for_event("question", 3)  # the skip's question 2, then the repeat's

    assert conversation.controls == [Control.SKIP, Control.REPEAT]
    assert not exam.wire.events("flush")  # nothing cut short
    events = exam.wire.events()
    pause_done = events.index({"type": "speaking_done", "utterance_id": pauses[0]["utterance_id"]})
    second = events.index(exam.wire.events("question")[1])
    assert events.index(pauses[0]) < pause_done < second  # said in full, then the reply
    assert [e["number"] for e in exam.wire.events("question")] == [1, 2, 2]
    assert await exam.close() == "disconnected"


async def test_disconnect_mid_speech_cancels_everything_and_leaves_the_exam_resumable(
    engines: SessionEngines,
) -> None:
    conversation = ScriptedConversation(QUESTIONS)
    exam = start_exam(engines, conversation)
    await exam.wait_until(lambda: len([x for x in exam.wire.log if x[1] == "audio"]) > 3)
    sent = len(exam.wire.log)
    assert await exam.close() == "disconnected"
    assert conversation.disconnects == 1
    await exam.clock.advance(5.0)  # no paced speech is left running to send more
    assert len(exam.wire.log) == sent


async def test_repeated_questions_play_from_the_phrase_cache(engines: SessionEngines) -> None:
    cache = engines.speaker.cache
    conversation = ScriptedConversation(QUESTIONS)
    exam = start_exam(engines, conversation)
    await listening(exam)
    hits = cache.hits
    await exam.control(Control.REPEAT)
    await listening(exam, 2)
    assert cache.hits == hits + 1
    assert cache.get(QUESTIONS[0].text) is not None
    await exam.close()


def test_loop_settings_come_from_configuration(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, barge_in_min_ms=450)
    assert LoopSettings.from_settings(settings).barge_in_min_seconds == 0.45
    assert LoopSettings.from_settings(settings).settle_min_seconds is None
    settling = Settings(environment="test", data_dir=tmp_path, settle_min_seconds=3)
    assert LoopSettings.from_settings(settling).settle_min_seconds == 3.0


async def _declared_then_feedback(exam: Exam[ScriptedConversation], first_part: PCM16) -> None:
    """Answer with ``first_part`` and wait until the examiner speaks its feedback."""
    await listening(exam)
    await exam.play(first_part)
    await exam.wait_until(
        lambda: any(e["kind"] == "feedback" for e in exam.wire.events("speaking"))
    )


async def test_speech_that_resumes_over_the_feedback_is_the_same_answer_going_on(
    engines: SessionEngines, jfk: PCM16
) -> None:
    """ "ask not what your country can do for you" is taken as a whole answer (the silence
    fallback ends it), then, over the feedback, "ask what you can do for your country": the
    reply is withdrawn, the next question was never asked, and the whole answer — both halves,
    the pause between them kept — is amended in the first one's place."""
    conversation = ScriptedConversation(QUESTIONS[1:])
    exam = start_exam(engines, conversation, LoopSettings(turn_incomplete_stop_seconds=1.0))
    first, rest = at(jfk, 3.0, 7.8), at(jfk, 7.8)
    await _declared_then_feedback(exam, first)
    assert [e["question_number"] for e in exam.wire.events("evaluation")] == [1]
    assert [e["number"] for e in exam.wire.events("question")] == [1]  # 2 is held back
    await exam.play(rest)
    await exam.wait_for_event("question", 2)

    assert exam.session.stats.continuations == 1
    assert exam.wire.events("flush")
    assert exam.wire.events("listening")[1].get("resumed") is True
    assert exam.conversation.interruptions == []  # the feedback was withdrawn, not heard
    (whole,) = conversation.answers
    assert conversation.amended == [whole]
    text = said(whole.transcript.text)
    assert text.startswith("ask not what your country")
    assert text.endswith("ask what you can do for your country")
    assert len(whole.pcm) // 2 >= first.size + rest.size  # nothing between them dropped
    assert [e["question_number"] for e in exam.wire.events("evaluation")] == [1, 1]
    # Question 2 is asked once, and only after the whole answer's feedback.
    types = exam.wire.types()
    assert types.count("question") == 2
    assert types.index("question", types.index("evaluation") + 1) > types.index("flush")
    await exam.close()


async def test_a_cough_over_the_feedback_does_not_reopen_the_answer(
    engines: SessionEngines, jfk: PCM16, one_two_three: PCM16
) -> None:
    conversation = ScriptedConversation(QUESTIONS[1:])
    exam = start_exam(engines, conversation, LoopSettings(turn_incomplete_stop_seconds=1.0))
    await _declared_then_feedback(exam, at(jfk, 7.8))
    await exam.play(np.concatenate([at(one_two_three, 0.15, 0.35), silence(0.5)]))
    await exam.wait_for_event("question", 2)
    await listening(exam, 2)
    assert exam.session.stats.continuations == 0
    assert conversation.amended == []
    assert "flush" not in exam.wire.types()
    await exam.close()


async def test_i_have_not_finished_reopens_the_answer_after_the_next_question_began(
    engines: SessionEngines, jfk: PCM16
) -> None:
    """Once question 2 has been asked, speech would be its answer; the ``continue`` control
    reopens answer 1 instead: what follows is added to it, and question 2 is asked again."""
    conversation = ScriptedConversation(QUESTIONS[1:])
    exam = start_exam(engines, conversation, LoopSettings(turn_incomplete_stop_seconds=1.0))
    first, rest = at(jfk, 3.0, 7.8), at(jfk, 7.8)
    await _declared_then_feedback(exam, first)
    await listening(exam, 2)  # question 2 was asked in full; the student said nothing yet
    await exam.control(Control.CONTINUE)
    await exam.wait_until(lambda: exam.wire.events("listening")[-1].get("resumed") is True)
    await exam.play(rest)
    await exam.wait_for_event("question", 3)

    (whole,) = conversation.answers
    assert conversation.amended == [whole]
    text = said(whole.transcript.text)
    assert text.startswith("ask not what your country")
    assert text.endswith("ask what you can do for your country")
    assert [e["number"] for e in exam.wire.events("question")] == [1, 2, 2]
    await exam.close()


async def test_continue_with_no_answer_to_go_on_with_is_refused(engines: SessionEngines) -> None:
    exam = start_exam(engines, ScriptedConversation(QUESTIONS))
    await listening(exam)
    await exam.control(Control.CONTINUE)
    (error,) = exam.wire.events("error")
    assert error["error"] == "nothing_to_continue"
    assert exam.session.stats.continuations == 0
    await exam.close()


async def test_speech_over_the_next_question_is_the_last_answer_going_on(
    engines: SessionEngines, jfk: PCM16
) -> None:
    """The feedback is over and question 2 is being read when the candidate goes on: question
    2 was not heard, so this is no answer to it — it is answer 1 going on; question 2 is read
    again, in full, after the whole answer's feedback."""
    conversation = ScriptedConversation(QUESTIONS[1:])
    exam = start_exam(engines, conversation, LoopSettings(turn_incomplete_stop_seconds=1.0))
    await _declared_then_feedback(exam, at(jfk, 3.0, 7.8))
    await exam.wait_for_event("question", 2)  # sent as question 2 starts to be spoken
    await exam.play(at(jfk, 7.8))
    await listening(exam, 3)

    (whole,) = conversation.answers
    assert conversation.amended == [whole]
    assert said(whole.transcript.text).endswith("ask what you can do for your country")
    assert conversation.interruptions == []
    assert exam.session.stats.barge_ins == 0
    spoken = [e["kind"] for e in exam.wire.events("speaking")]
    assert spoken[-2:] == ["feedback", "question"]  # read again after the whole answer
    await exam.close()


async def test_the_last_answer_can_go_on_over_the_closing_words(
    engines: SessionEngines, jfk: PCM16
) -> None:
    """The only question's answer is taken at a pause, which ends the exam; the candidate goes
    on over the feedback: the whole answer is graded and the exam ends once, after it."""
    conversation = ScriptedConversation(QUESTIONS[1:2])
    exam = start_exam(engines, conversation, LoopSettings(turn_incomplete_stop_seconds=1.0))
    await _declared_then_feedback(exam, at(jfk, 3.0, 7.8))
    await exam.play(at(jfk, 7.8))
    await exam.wait_until(exam.task.done)

    assert await exam.task == "completed"
    (whole,) = conversation.answers
    assert conversation.amended == [whole]
    assert said(whole.transcript.text).endswith("ask what you can do for your country")
    assert exam.wire.types().count("ended") == 1
    assert exam.wire.events("result")[-1]["answers"][0]["transcript"] == whole.transcript.text


@pytest.mark.parametrize("command", [Control.SKIP, Control.REPEAT, Control.END])
async def test_a_button_pressed_while_the_examiner_says_goodbye_is_told_the_exam_is_over(
    engines: SessionEngines, command: Control
) -> None:
    """After "end exam" the result and goodbye are spoken out; a press meanwhile gets an
    ``exam_over`` error (never a server error), and the sitting ends as it was ending."""
    exam = start_exam(engines, ScriptedConversation(QUESTIONS))
    await listening(exam)
    await exam.control(Control.END)
    await exam.wait_until(lambda: any(e["kind"] == "goodbye" for e in exam.wire.events("speaking")))
    await exam.control(command)
    await exam.wait_for_event("ended")
    (error,) = exam.wire.events("error")
    assert error["error"] == "exam_over"
    assert exam.wire.events("ended")[0]["reason"] == "ended_by_student"
    goodbye = next(e for e in exam.wire.events("speaking") if e["kind"] == "goodbye")
    done = [e["utterance_id"] for e in exam.wire.events("speaking_done")]
    assert goodbye["utterance_id"] in done  # said to its end
    assert exam.conversation.controls == [Control.END]
    assert await exam.close() == "ended_by_student"
