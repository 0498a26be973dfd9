"""Password rules after NIST SP 800-63B: length over composition, no common passwords, no
password built from the account's own names. No forced character classes, no rotation."""

from __future__ import annotations

import re

from newspeech.errors import ValidationFailed

MAX_LENGTH = 128

# The most common passwords of public breach corpora (and this product's own name) that are
# long enough to pass the length rule; shorter ones already fail it.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456789012345",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "aaaaaaaaaaaa",
        "abc123abc123",
        "abcdefghijkl",
        "administrator",
        "changeme1234",
        "iloveyou1234",
        "letmein12345",
        "password1234",
        "password12345",
        "password123456",
        "passwordpassword",
        "qwerty123456",
        "qwertyuiop12",
        "qwertyuiopasdf",
        "qazwsxedcrfv",
        "trustno1trustno1",
        "welcome12345",
        "newspeech1234",
        "newspeechnewspeech",
        "correcthorsebatterystaple",
        "football1234",
        "baseball1234",
        "superman1234",
        "princess1234",
        "sunshine1234",
        "monkey123456",
        "dragon123456",
        "master123456",
        "1234qwerasdf",
        "q1w2e3r4t5y6",
        "zaq12wsxcde3",
        "passw0rd1234",
        "p@ssw0rd1234",
        "p@ssword1234",
    }
)


def check_password(password: str, *, min_length: int, names: tuple[str, ...] = ()) -> None:
    """Raise ``ValidationFailed`` naming the first rule ``password`` breaks."""
    if len(password) < min_length:
        raise ValidationFailed(f"password must be at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(f"password must be at most {MAX_LENGTH} characters")
    folded = password.casefold()
    if folded in COMMON_PASSWORDS or len(set(folded)) <= 2:
        raise ValidationFailed("password is too common or repetitive; choose another")
    compact = re.sub(r"[^a-z0-9]", "", folded)
    for name in names:
        name = re.sub(r"[^a-z0-9]", "", name.casefold())
        if len(name) >= 4 and name in compact and len(compact) - len(name) < 6:
            raise ValidationFailed("password must not be built from your user name or email")
