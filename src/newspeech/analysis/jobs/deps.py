from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from newspeech.analysis.jobs.broker import JobKicker


def get_job_kicker(request: Request) -> JobKicker:
    kicker: JobKicker = request.app.state.analysis_jobs
    return kicker


JobKickerDep = Annotated[JobKicker, Depends(get_job_kicker)]
