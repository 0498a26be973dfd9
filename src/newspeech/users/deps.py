from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from newspeech.auth.deps import AuditorDep, AuthServiceDep
from newspeech.db.deps import DbSession
from newspeech.users.service import UserService


def get_user_service(db: DbSession, auth: AuthServiceDep, auditor: AuditorDep) -> UserService:
    return UserService(db, auth, auditor)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
