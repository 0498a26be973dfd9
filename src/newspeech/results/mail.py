"""The result e-mail a student gets when a sitting ends: what it says, and the signed link to
the certificate it carries (``GET /api/v1/results/{id}/certificate/signed``)."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from newspeech.kit.signed_links import LinkSigner

CERTIFICATE_LINK_PURPOSE = "result-certificate"
CERTIFICATE_LINK_PATH = "/api/v1/results/{result_id}/certificate/signed"


@dataclass(frozen=True)
class ResultMail:
    """Everything one result e-mail states, read inside the result's transaction."""

    result_id: int
    exam_session_id: int
    session_code: str
    user_id: int
    to: str
    student_name: str
    college_name: str
    total_score: int
    max_score: int
    percentage: float
    grade: str
    passed: bool
    corrected: bool = False
    """The result changed right after the sitting ended (its last answer went on): this mail
    replaces the first."""


_CORRECTION = (
    "Your last answer went on after the exam had ended and was marked again;",
    "this is your corrected result and replaces the earlier e-mail.",
    "",
)


def has_address(email: str | None) -> bool:
    """Whether a stored e-mail address can be written to (not blank, one ``@`` between a local
    part and a domain): a student without one is simply not mailed."""
    if not email or not email.strip():
        return False
    _, address = parseaddr(email.strip())
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain and not domain.startswith("."))


def address_of(email: str) -> str:
    """The bare address of a stored e-mail (which may carry a display name)."""
    return parseaddr(email.strip())[1]


def certificate_link(
    signer: LinkSigner, base_url: str, mail: ResultMail, *, expires_at: dt.datetime
) -> str:
    """A link to the result's certificate that needs no sign-in, bound to the result and its
    student, valid until ``expires_at``."""
    expires = int(expires_at.timestamp())
    signature = signer.sign(mail.result_id, mail.user_id, expires)
    path = CERTIFICATE_LINK_PATH.format(result_id=mail.result_id)
    return f"{base_url}{path}?user={mail.user_id}&expires={expires}&signature={signature}"


def compose(mail: ResultMail, *, sender: str, link: str | None) -> EmailMessage:
    """The message: plain text with an HTML alternative. ``link`` (the certificate) only for a
    passed sitting."""
    verdict = "passed" if mail.passed else "did not pass"
    score = f"{mail.total_score} / {mail.max_score}"
    percent = f"{mail.percentage:.1f}%"
    lines = [
        f"Dear {mail.student_name},",
        "",
        f"your {mail.college_name} oral exam (sitting {mail.session_code}) has ended.",
        "",
        *(_CORRECTION if mail.corrected else ()),
        f"Score: {score} ({percent})",
        f"Grade: {mail.grade}",
        f"Result: {verdict}",
        "",
    ]
    if link is not None:
        lines += ["Your certificate (PDF):", link, ""]
    lines += ["This message was sent automatically; please do not reply to it."]
    message = EmailMessage()
    subject = f"Your {mail.college_name} exam result: {verdict} ({percent})"
    message["Subject"] = f"Corrected: {subject}" if mail.corrected else subject
    message["From"] = sender
    message["To"] = Address(display_name=mail.student_name, addr_spec=address_of(mail.to))
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(idstring=f"result-{mail.result_id}", domain=domain)
    message.set_content("\n".join(lines) + "\n")
    message.add_alternative(_html(mail, verdict, score, percent, link), subtype="html")
    return message


def _html(mail: ResultMail, verdict: str, score: str, percent: str, link: str | None) -> str:
    e = html.escape
    rows = (("Score", f"{score} ({percent})"), ("Grade", mail.grade), ("Result", verdict))
    table = "".join(f"<tr><th align='left'>{k}</th><td>{e(v)}</td></tr>" for k, v in rows)
    correction = f"<p>{e(' '.join(_CORRECTION).strip())}</p>" if mail.corrected else ""
    certificate = f'<p><a href="{e(link)}">Download your certificate (PDF)</a></p>' if link else ""
    return (
        "<!DOCTYPE html><html><body>"
        f"<p>Dear {e(mail.student_name)},</p>"
        f"<p>your {e(mail.college_name)} oral exam (sitting {e(mail.session_code)}) has ended.</p>"
        f"{correction}<table cellpadding='4'>{table}</table>{certificate}"
        "<p><small>This message was sent automatically; please do not reply to it.</small></p>"
        "</body></html>\n"
    )
