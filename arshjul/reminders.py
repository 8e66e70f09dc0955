"""E-mail reminders of overdue steps: who is late with what, told at most once a week.

A unit is reminded of a milestone when a deadline of it, in a cycle the current calendar
shows (data years C-1 and C of calendar year C), has passed and the step is not done for the
unit (:func:`arshjul.status.step_status`). A :class:`Reminder` is a unit and milestone with
every overdue deadline of it; a unit and milestone reminded less than seven days ago is left
alone. A run sends one message per address (``recipients.yaml``), a daily digest of every
reminder due for it, and records each of them in ``reminder_sent`` once the mail server has
accepted the message. So a coordinator whom 34 reminders are due for gets one message, not
34; and the same unit and milestone is named again a week later at the earliest, while a new
overdue step is named the morning after its deadline. The database decides, and one reminder
run at a time holds the lock (:func:`arshjul.locks.step_lock`) while it looks, sends and
records, so two runs — scheduled, by hand, on another machine — never both send.

Links go to ``calendar.base_url``, where the output folder is published, and only to pages
that exist in it: the year's status page, and the unit's document or the year's index only
once written. Links to this machine's own address (the default ``http://127.0.0.1:8080``)
would reach nobody who reads the mail: with them nothing is sent (:func:`check_links`).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select

from arshjul.config import LEVEL_SV, Config, Recipients, SmtpSettings
from arshjul.errors import ArshjulError, ConfigError
from arshjul.ics import document_path
from arshjul.locks import step_lock
from arshjul.milestone_status import Progress
from arshjul.models import ReminderSent
from arshjul.org import OrgTree, Unit
from arshjul.status import StatusRow, cycle_dues, step_status

#: the least time between two reminders of the same unit and milestone
INTERVAL = timedelta(days=7)
#: the lock one reminder run holds (:mod:`arshjul.locks`)
LOCK_STEP = "reminders"

log = logging.getLogger("arshjul")


class ReminderDeliveryError(ArshjulError):
    """Some reminders were not accepted by the mail server; the others were sent."""


class DeliveryRefused(Exception):
    """One message was not accepted; the text says by whom and why."""


@dataclass(frozen=True)
class Overdue:
    """One passed deadline of a milestone that is not done for the unit."""

    data_year: int
    row: StatusRow
    description: str
    #: the unit's document for the step, or the year's index of documents, once written
    documents: str | None
    #: the deadline's section of the year's status page, once written
    status_page: str | None


@dataclass(frozen=True)
class Reminder:
    """One message: a unit's overdue deadlines of one milestone, to one address."""

    unit: Unit
    milestone: str
    recipient: str
    overdue: tuple[Overdue, ...]

    @property
    def first_due(self) -> date:
        return min(o.row.due_date for o in self.overdue)

    def __str__(self) -> str:
        dates = ", ".join(o.row.due_date.isoformat() for o in self.overdue)
        return f"{self.unit.name} ({self.unit.id}) {self.milestone} ({dates})"

    def swedish(self) -> str:
        """What is overdue, as the run's log tells the coordinator."""
        dates = ", ".join(o.row.due_date.isoformat() for o in self.overdue)
        return f"{self.unit.name} ({self.unit.id}): {self.overdue[0].row.title}, senast {dates}"


@dataclass(frozen=True)
class Digest:
    """One message: every reminder due for one address, in deadline order."""

    recipient: str
    reminders: tuple[Reminder, ...]

    def __str__(self) -> str:
        return f"{self.recipient}: {'; '.join(map(str, self.reminders))}"

    def swedish(self) -> str:
        return f"{self.recipient}: {'; '.join(r.swedish() for r in self.reminders)}"


def digests(reminders: list[Reminder]) -> list[Digest]:
    """The reminders as one message per address, the address with the earliest deadline
    first; each message lists its reminders in deadline order."""
    by_recipient: dict[str, list[Reminder]] = {}
    for reminder in sorted(reminders, key=lambda r: r.first_due):
        by_recipient.setdefault(reminder.recipient, []).append(reminder)
    return [Digest(recipient, tuple(rs)) for recipient, rs in by_recipient.items()]


@dataclass(frozen=True)
class Failure:
    digest: Digest
    error: str

    def __str__(self) -> str:
        return f"{self.digest}: {self.error}"


@dataclass(frozen=True)
class Outcome:
    """What a reminder run found due, sent and failed to send: messages, one per address."""

    due: tuple[Digest, ...]
    sent: tuple[Digest, ...]
    failed: tuple[Failure, ...]
    #: False: SMTP is disabled (or a dry run), nothing was sent
    delivered: bool

    def raise_for_failures(self) -> None:
        """Fail when any message was refused, after the others went, so a retry sends it."""
        if self.failed:
            lines = "\n".join(f"  {f}" for f in self.failed)
            raise ReminderDeliveryError(
                f"{len(self.failed)} of {len(self.due)} messages were not sent"
                f" (nothing recorded for them; a later run tries again):\n{lines}"
            )


# --- which reminders are due ---------------------------------------------------------------


def data_years(config: Config, now: datetime) -> tuple[int, int]:
    """The data years whose cycles the current calendar year shows: C-1 and C."""
    year = now.astimezone(ZoneInfo(config.wheel.timezone)).year
    return (year - 1, year)


def recently_reminded(conn: Connection, *, now: datetime) -> set[tuple[str, str]]:
    """(unit id, milestone id) reminded less than :data:`INTERVAL` before ``now``."""
    rows = conn.execute(
        select(ReminderSent.unit_id, ReminderSent.milestone_id)
        .where(ReminderSent.sent_at > now - INTERVAL)
        .group_by(ReminderSent.unit_id, ReminderSent.milestone_id)
    )
    return {(unit_id, milestone_id) for unit_id, milestone_id in rows}


def check_units(config: Config, recipients: Recipients, tree: OrgTree) -> None:
    """Every unit ``recipients.yaml`` names is in the organisation (a typo would silently
    send that unit's reminders to the default address)."""
    path = config.path("recipients.yaml")
    unknown = [
        f"{path}: key 'units.{unit_id}', value {unit_id!r}: no unit with this id in the"
        " organisation"
        for unit_id in recipients.units
        if unit_id not in tree
    ]
    if unknown:
        raise ConfigError("\n".join(unknown))


def published(out: Path, base_url: str, path: str | None) -> str | None:
    """The link to ``path`` (relative to the output folder) if it was written, else None."""
    if path is None or not (out / path).is_file():
        return None
    return f"{base_url.rstrip('/')}/{path}"


def due_reminders(
    conn: Connection, config: Config, tree: OrgTree, out: Path, *, now: datetime
) -> list[Reminder]:
    """The reminders to send at ``now``: per unit and milestone with a passed deadline not
    done, unless reminded in the last seven days; in deadline order. Links go to what is
    written in ``out``."""
    if not len(tree):  # no organisation imported: no unit has a deadline
        return []
    recipients = config.recipients
    check_units(config, recipients, tree)
    skip = recently_reminded(conn, now=now)
    base_url = config.settings.calendar.base_url
    groups: dict[tuple[str, str], list[Overdue]] = {}
    for year in data_years(config, now):
        dues = {
            (due.milestone.id, LEVEL_SV[due.deadline.level], due.date): due
            for due in cycle_dues(config, year)
        }
        for row in step_status(conn, config, tree, year, now=now):
            if row.progress is not Progress.OVERDUE or (row.unit_id, row.milestone) in skip:
                continue
            due = dues[(row.milestone, row.level, row.due_date)]
            status_page = published(out, base_url, f"{year}/status.html")
            anchor = quote(f"{row.milestone}-{row.level}-{row.due_date.isoformat()}")
            groups.setdefault((row.unit_id, row.milestone), []).append(
                Overdue(
                    data_year=year,
                    row=row,
                    description=due.milestone.description,
                    documents=published(out, base_url, document_path(due, tree[row.unit_id])),
                    status_page=status_page and f"{status_page}#{anchor}",
                )
            )
    reminders = [
        Reminder(
            unit=tree[unit_id],
            milestone=milestone,
            recipient=recipients.address(unit_id, overdue[0].row.owner_role),
            overdue=tuple(overdue),
        )
        for (unit_id, milestone), overdue in groups.items()
    ]
    return sorted(reminders, key=lambda r: r.first_due)


def record_sent(conn: Connection, reminder: Reminder, *, now: datetime) -> None:
    """Note ``reminder`` as sent at ``now``: a row per deadline it named."""
    conn.execute(
        insert(ReminderSent),
        [
            {
                "unit_id": reminder.unit.id,
                "milestone_id": reminder.milestone,
                "due_date": o.row.due_date,
                "sent_at": now,
                "recipient": reminder.recipient,
            }
            for o in reminder.overdue
        ],
    )


# --- the message ---------------------------------------------------------------------------


def compose(digest: Digest, config: Config, *, now: datetime) -> EmailMessage:
    """The Swedish plain-text message (UTF-8, quoted-printable, so any relay carries it)."""
    settings = config.settings
    coordinator = config.recipients.default
    today = now.astimezone(ZoneInfo(config.wheel.timezone)).date()
    message = EmailMessage()
    if len(digest.reminders) == 1:
        [only] = digest.reminders
        subject = f"{only.overdue[0].row.title} – {only.unit.name} är försenad"
    else:
        subject = f"{len(digest.reminders)} försenade steg i årshjulet"
    message["Subject"] = f"Påminnelse: {subject}"
    message["From"] = Address(
        f"Årshjul patientsäkerhet, {settings.region.name}", addr_spec=settings.smtp.sender
    )
    message["To"] = digest.recipient
    message["Reply-To"] = coordinator
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("arshjul", domain=settings.smtp.sender.split("@")[1])
    # an automatic message: out-of-office replies are not sent back (RFC 3834)
    message["Auto-Submitted"] = "auto-generated"
    lines = [
        "Hej!",
        "",
        f"Enligt årshjulet för patientsäkerhetsarbetet i {settings.region.name} är detta inte"
        " klart:",
    ]
    for reminder in digest.reminders:
        lines += ["", *_reminder_lines(reminder, today)]
    lines += [
        "",
        "Påminnelsen upphör när steget är registrerat som klart för enheten i årshjulet;"
        " statussidan visar vad som är klart. Vi påminner högst en gång i veckan om samma steg"
        " för samma enhet, och skickar högst ett meddelande om dagen.",
        "",
        "Frågor, fel mottagare eller vill du inte längre få påminnelser om detta? Svara på"
        f" meddelandet eller skriv till kvalitetssamordnaren: {coordinator}.",
        "",
        "Detta är ett automatiskt meddelande från årshjulet (arshjul).",
    ]
    message.set_content("\n".join(lines) + "\n", charset="utf-8", cte="quoted-printable")
    return message


def _reminder_lines(reminder: Reminder, today: date) -> list[str]:
    unit = reminder.unit
    lines = [f"{unit.name} ({LEVEL_SV[unit.level.value]}, HSA-id {unit.id}):"]
    for o in reminder.overdue:
        row = o.row
        days = (today - row.due_date).days
        ago = f"{days} dag sedan" if days == 1 else f"{days} dagar sedan"
        lines += [
            f"* {row.title}",
            f"  Skulle vara klart senast: {row.due_date.isoformat()} ({ago})",
            f"  Ansvarig: {row.owner_role}",
        ]
        if o.description:
            lines.append(f"  Vad som ska göras: {o.description}")
        if o.documents:
            lines.append(f"  Underlag: {o.documents}")
        if o.status_page:
            lines.append(f"  Status: {o.status_page}")
    return lines


# --- sending -------------------------------------------------------------------------------


def smtp_password(smtp: SmtpSettings) -> str | None:
    """The password from the environment variable the settings name; None without login."""
    if smtp.username is None:
        return None
    password = os.environ.get(smtp.password_env)
    if not password:
        raise ConfigError(
            f"settings.yaml: key 'smtp.password_env', value {smtp.password_env!r}: the"
            f" environment variable is not set (the password of smtp.username"
            f" {smtp.username!r})"
        )
    if not password.isascii():
        # smtplib sends AUTH in ASCII only: it would fail every message with a UnicodeError
        raise ConfigError(
            f"settings.yaml: key 'smtp.password_env', value {smtp.password_env!r}: the password"
            " in this environment variable has non-ASCII characters, which SMTP login cannot"
            " send: choose an ASCII password"
        )
    return password


class Mailer:
    """One connection to the mail server for many messages, opened on the first.

    A message the server refuses fails alone and the connection goes on; a connection that
    breaks is opened again for the next message; a server that cannot be reached at all fails
    every message left without waiting for it again.
    """

    def __init__(self, smtp: SmtpSettings, password: str | None):
        self.smtp = smtp
        self.password = password
        self._client: smtplib.SMTP | None = None
        self._unreachable: str | None = None

    @property
    def server(self) -> str:
        return f"{self.smtp.host}:{self.smtp.effective_port}"

    def _connect(self) -> smtplib.SMTP:
        smtp = self.smtp
        tls = None if smtp.security == "none" else ssl.create_default_context(cafile=smtp.ca_file)
        client: smtplib.SMTP
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.effective_port, timeout=smtp.timeout_seconds, context=tls
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.effective_port, timeout=smtp.timeout_seconds)
        try:
            client.ehlo()
            if smtp.security == "starttls":
                client.starttls(context=tls)
                client.ehlo()
            if smtp.username is not None and self.password is not None:
                client.login(smtp.username, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: EmailMessage) -> None:
        """Hand ``message`` to the server; raises :class:`DeliveryRefused` with the reason."""
        if self._unreachable is not None:
            raise DeliveryRefused(f"not tried: {self._unreachable}")
        if self._client is None:
            try:
                self._client = self._connect()
            except (OSError, smtplib.SMTPException) as exc:
                self._unreachable = f"mail server {self.server}: {describe(exc)}"
                raise DeliveryRefused(self._unreachable) from exc
        try:
            self._client.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
            # the server said no to this message and is ready for the next one
            raise DeliveryRefused(f"mail server {self.server} refused: {describe(exc)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryRefused(f"mail server {self.server}: {describe(exc)}") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def describe(exc: BaseException) -> str:
    """An SMTP or network error as one line: the server's code and words where it gave them."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"recipient {address}: {code} {_text(words)}"
            for address, (code, words) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        sender = f"sender {exc.sender}: " if isinstance(exc, smtplib.SMTPSenderRefused) else ""
        return f"{sender}{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _text(words: bytes | str) -> str:
    return words.decode("utf-8", "replace") if isinstance(words, bytes) else words


@contextmanager
def mailer(smtp: SmtpSettings) -> Iterator[Mailer]:
    """A :class:`Mailer` with the password from the environment, closed afterwards."""
    m = Mailer(smtp, smtp_password(smtp))
    try:
        yield m
    finally:
        m.close()


# --- a reminder run ------------------------------------------------------------------------


def check_links(config: Config) -> None:
    """Refuse to send links to this machine's own address (loopback, e.g. the default
    ``http://127.0.0.1:8080``): nobody reading the message could open them."""
    url = config.settings.calendar.base_url
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        log.error(
            "Påminnelser skickas inte: länkarna skulle gå till %s (calendar.base_url), den här"
            " datorns egen adress, som mottagarna inte kan öppna. Sätt calendar.base_url i"
            " settings.yaml till adressen där dokumenten publiceras.",
            url,
        )
        raise ConfigError(
            f"{config.path('settings.yaml')}: key 'calendar.base_url', value {url!r}: reminders"
            " would link to this machine's own address, which recipients cannot open: set it"
            " to where the output folder is published (or smtp.enabled: false)"
        )


def plan(engine: Engine, config: Config, out: Path, *, now: datetime) -> list[Digest]:
    """The messages due at ``now``, read in one transaction (what a dry run shows)."""
    with engine.connect() as conn:
        return digests(due_reminders(conn, config, OrgTree.load(conn), out, now=now))


def send_reminders(
    engine: Engine,
    config: Config,
    out: Path,
    *,
    now: datetime,
    run_id: str,
    dry_run: bool = False,
) -> Outcome:
    """Send the messages due at ``now`` and record the reminders of each the server
    accepted, at once (a run that dies half-way has recorded what it sent). With SMTP
    disabled or ``dry_run``, only find them. Refused messages are in
    :attr:`Outcome.failed`; the others still go."""
    smtp = config.settings.smtp
    if dry_run or not smtp.enabled:
        return Outcome(tuple(plan(engine, config, out, now=now)), (), (), delivered=False)
    check_links(config)
    sent: list[Digest] = []
    failed: list[Failure] = []
    with mailer(smtp) as m:
        today = now.astimezone(ZoneInfo(config.wheel.timezone)).date()
        with step_lock(
            engine,
            step=LOCK_STEP,
            period=str(today.year),
            unit_ids=[config.settings.region.id],
            run_id=run_id,
            clock=lambda: now,
            title="Påminnelser",
        ):
            due = plan(engine, config, out, now=now)
            for digest in due:
                try:
                    m.send(compose(digest, config, now=now))
                except DeliveryRefused as exc:
                    failed.append(Failure(digest, str(exc)))
                    continue
                with engine.begin() as conn:
                    for reminder in digest.reminders:
                        record_sent(conn, reminder, now=now)
                sent.append(digest)
    return Outcome(tuple(due), tuple(sent), tuple(failed), delivered=True)
