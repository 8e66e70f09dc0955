"""Reminders of overdue steps, sent to a real SMTP server started here and read back."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import ipaddress
import re
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, func, select

from arshjul import reminders
from arshjul.config import BUNDLED_CONFIG, Config
from arshjul.db import make_engine, migrate
from arshjul.errors import ConfigError
from arshjul.importers import import_file
from arshjul.models import ReminderSent
from arshjul.org import OrgTree
from arshjul.status import record_done
from tests.conftest import FIXTURES, NOW, STOCKHOLM
from tests.evidence import decide, import_roster

ORGANISATION = FIXTURES / "compile" / "organisation.csv"
COORDINATOR = "kvalitet@test.example"
#: where the test region publishes its output folder (reminders never link to loopback)
BASE_URL = "https://arshjul.test.example"
RECIPIENTS = {
    "default": COORDINATOR,
    "roles": {"Controller": "controller@test.example", "chefläkare": "cl@test.example"},
    "units": {"E1": "enhet-e1@test.example"},
}


# --- a local SMTP server: enough of RFC 5321 (and 3207 STARTTLS, 4954 AUTH PLAIN) ----------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Behaviour:
    #: recipients answered with 550
    refused: set[str] = field(default_factory=set)
    #: (user, password) required before MAIL; offered only over TLS
    credentials: tuple[str, str] | None = None
    #: STARTTLS offered with this context, or (implicit) TLS from the first byte
    tls: ssl.SSLContext | None = None
    implicit_tls: bool = False


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: Behaviour):
        super().__init__(("127.0.0.1", 0), SmtpSession)
        self.behaviour = behaviour
        self.received: list[Received] = []
        self.connections = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class SmtpSession(socketserver.BaseRequestHandler):
    server: SmtpServer

    def handle(self) -> None:
        b = self.server.behaviour
        with self.server.lock:
            self.server.connections += 1
        sock: socket.socket = self.request
        sock.settimeout(10)
        secure = False
        if b.implicit_tls:
            assert b.tls is not None
            sock = b.tls.wrap_socket(sock, server_side=True)
            secure = True
        reader = sock.makefile("rb")
        authed = False
        envelope: tuple[str, list[str]] | None = None

        def reply(text: str) -> None:
            sock.sendall(text.encode() + b"\r\n")

        try:
            reply("220 test.local ESMTP")
            while raw := reader.readline():
                verb, _, arg = raw.decode().rstrip("\r\n").partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    lines = ["test.local", "8BITMIME"]
                    if b.tls is not None and not secure:
                        lines.append("STARTTLS")
                    if b.credentials is not None and secure:
                        lines.append("AUTH PLAIN")
                    reply("\r\n".join(f"250-{x}" for x in lines[:-1]) + f"\r\n250 {lines[-1]}")
                elif verb == "HELO":
                    reply("250 test.local")
                elif verb == "STARTTLS" and b.tls is not None and not secure:
                    reply("220 go ahead")
                    reader.close()
                    sock = b.tls.wrap_socket(sock, server_side=True)
                    reader = sock.makefile("rb")
                    secure = True
                elif verb == "AUTH" and b.credentials is not None and secure:
                    mechanism, _, initial = arg.partition(" ")
                    _, user, password = base64.b64decode(initial).decode().split("\0")
                    authed = mechanism.upper() == "PLAIN" and (user, password) == b.credentials
                    reply("235 2.7.0 ok" if authed else "535 5.7.8 bad credentials")
                elif verb == "MAIL":
                    if b.credentials is not None and not authed:
                        reply("530 5.7.0 authentication required")
                        continue
                    envelope = (_address(arg), [])
                    reply("250 ok")
                elif verb == "RCPT" and envelope is not None:
                    address = _address(arg)
                    if address in b.refused:
                        reply("550 5.1.1 no such mailbox here")
                    else:
                        envelope[1].append(address)
                        reply("250 ok")
                elif verb == "DATA" and envelope is not None and envelope[1]:
                    reply("354 end with <CRLF>.<CRLF>")
                    data = bytearray()
                    while (line := reader.readline()) != b".\r\n":
                        assert line, "connection closed inside DATA"
                        data += line[1:] if line.startswith(b".") else line
                    with self.server.lock:
                        self.server.received.append(Received(*envelope, bytes(data)))
                    envelope = None
                    reply("250 queued")
                elif verb == "RSET":
                    envelope = None
                    reply("250 ok")
                elif verb == "NOOP":
                    reply("250 ok")
                elif verb == "QUIT":
                    reply("221 bye")
                    break
                else:
                    reply("503 bad sequence of commands")
        finally:
            reader.close()
            sock.close()


def _address(arg: str) -> str:
    """``FROM:<a@b> SIZE=12`` -> ``a@b``."""
    return arg.split("<", 1)[1].split(">", 1)[0]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key) as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    wall = dt.datetime.now(dt.UTC)  # OpenSSL checks validity against the real clock
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(wall - dt.timedelta(days=1))
        .not_valid_after(wall + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def start_server() -> Iterator[Any]:
    """Start local SMTP servers with a given behaviour; all are stopped after the test."""
    servers: list[SmtpServer] = []

    def start(behaviour: Behaviour | None = None) -> SmtpServer:
        server = SmtpServer(behaviour or Behaviour())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def make_config(
    folder: Path, smtp: dict[str, Any], recipients: Any = RECIPIENTS, base_url: str = BASE_URL
) -> Config:
    """The bundled configuration with ``smtp`` settings, ``recipients`` and the address the
    output folder is published at of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load((BUNDLED_CONFIG / "settings.yaml").read_text(encoding="utf-8"))
    settings["smtp"] = smtp
    settings["calendar"]["base_url"] = base_url
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    (folder / "recipients.yaml").write_text(
        yaml.safe_dump(recipients, allow_unicode=True), encoding="utf-8"
    )
    return Config(folder)


def plain(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "sender": "arshjul@test.example",
        "timeout_seconds": 5,
        **extra,
    }


def done(conn: Any, step: str, period: str, units: list[str]) -> None:
    at = dt.datetime(2026, 1, 10, 12, 0, tzinfo=STOCKHOLM)
    record_done(
        conn,
        step=step,
        period=period,
        unit_documents=[(u, 1, None) for u in units],
        run_id="run-done",
        started_at=at,
        finished_at=at,
    )


EVERY_UNIT = ["R1", "A1", "A2", "V1", "V2", "E1", "E2", "E3"]


def leave_three_steps_open(conn: Any, config: Config, folder: Path) -> None:
    """The evidence of every deadline passed but the compilations of E1 and E2 and the
    region's approval of its action plan: three reminders."""
    done(conn, "compile", "2025", ["R1", "A1", "A2", "V1", "V2", "E3"])
    for step in ("analyse", "action_plan"):
        done(conn, step, "2025", EVERY_UNIT)
    done(conn, "safety_report", "2025", ["R1"])
    approved = dt.datetime(2026, 1, 11, 12, 0, tzinfo=STOCKHOLM)
    decide(conn, "safety_report", "2025", "R1", approved=True, at=approved)
    for period in ("2025", "2025-T1", "2025-T2", "2026-T1", "2026-T2"):
        done(conn, "interim_report", period, ["R1"])
    import_roster(conn, config, folder, EVERY_UNIT[1:], approved)


@pytest.fixture
def engine3(tmp_path: Path, config: Config) -> Iterator[Engine]:
    """A database of its own (reminder runs commit), with three steps overdue."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reminders.sqlite'}")
    migrate(engine)
    with engine.begin() as conn:
        import_file(conn, config, "organisation", ORGANISATION, now=NOW)
        leave_three_steps_open(conn, config, tmp_path)
    yield engine
    engine.dispose()


def sent_rows(engine: Engine) -> list[tuple[str, str, dt.date, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ReminderSent.unit_id,
                ReminderSent.milestone_id,
                ReminderSent.due_date,
                ReminderSent.recipient,
            ).order_by(ReminderSent.unit_id)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def run(engine: Engine, config: Config, now: dt.datetime = NOW) -> reminders.Outcome:
    """A reminder run; the output folder is the database's, where nothing is published."""
    out = Path(str(engine.url.database)).parent / "out"
    return reminders.send_reminders(engine, config, out, now=now, run_id=f"run-{now:%d%H%M}")


@pytest.fixture
def tree(conn: Any, config: Config) -> OrgTree:
    import_file(conn, config, "organisation", ORGANISATION, now=NOW)
    return OrgTree.load(conn)


def keyed(found: list[reminders.Reminder]) -> dict[tuple[str, str], reminders.Reminder]:
    return {(r.unit.id, r.milestone): r for r in found}


# --- which reminders are due ---------------------------------------------------------------


def test_every_overdue_step_is_one_reminder_per_unit_and_milestone(conn, tree, tmp_path):
    config = make_config(tmp_path / "cfg", {})
    found = keyed(reminders.due_reminders(conn, config, tree, tmp_path, now=NOW))
    cycle = {(u, m) for u in EVERY_UNIT for m in ("ps-compile", "ps-analyse", "ps-action-plan")}
    region = {("R1", m) for m in ("ps-report", "ir-t1", "ir-t2", "ir-year")}
    # no actions, so no follow-up is missing; no roster, so no unit's training is recorded
    training = {(u, "training") for u in EVERY_UNIT if u != "R1"}
    assert set(found) == cycle | region | training
    # the T1 reports of 2025 and of 2026 are both overdue: one message names both
    assert [(o.data_year, o.row.due_date) for o in found[("R1", "ir-t1")].overdue] == [
        (2025, dt.date(2025, 5, 15)),
        (2026, dt.date(2026, 5, 15)),
    ]
    # the unit's own address, else its owner role's (any case), else the coordinator
    assert found[("E1", "ps-compile")].recipient == "enhet-e1@test.example"
    assert found[("E2", "ps-compile")].recipient == COORDINATOR
    assert found[("R1", "ir-t1")].recipient == "controller@test.example"
    assert found[("R1", "ps-compile")].recipient == "cl@test.example"
    assert found[("R1", "ps-action-plan")].recipient == COORDINATOR


def test_a_unit_that_has_done_the_step_gets_none(conn, tree, config, tmp_path):
    done(conn, "compile", "2025", ["E1"])
    found = keyed(reminders.due_reminders(conn, config, tree, tmp_path, now=NOW))
    assert ("E1", "ps-compile") not in found
    assert ("E2", "ps-compile") in found
    assert ("E1", "ps-analyse") in found


def test_a_deadline_not_yet_passed_gets_none(conn, tree, config, tmp_path):
    deadline_day = dt.datetime(2026, 1, 20, 23, 59, tzinfo=STOCKHOLM)
    on_the_day = keyed(reminders.due_reminders(conn, config, tree, tmp_path, now=deadline_day))
    # only the 2025 interim reports are past on 20 January 2026
    assert set(on_the_day) == {("R1", "ir-t1"), ("R1", "ir-t2")}
    after = keyed(
        reminders.due_reminders(
            conn, config, tree, tmp_path, now=deadline_day + dt.timedelta(minutes=2)
        )
    )
    assert set(after) - set(on_the_day) == {
        ("E1", "ps-compile"),
        ("E2", "ps-compile"),
        ("E3", "ps-compile"),
    }


def test_a_unit_and_milestone_is_reminded_at_most_once_in_seven_days(conn, tree, config, tmp_path):
    first = keyed(reminders.due_reminders(conn, config, tree, tmp_path, now=NOW))
    reminders.record_sent(conn, first[("E1", "ps-compile")], now=NOW)
    for later in (dt.timedelta(0), dt.timedelta(days=3), dt.timedelta(days=7, seconds=-1)):
        found = keyed(reminders.due_reminders(conn, config, tree, tmp_path, now=NOW + later))
        assert ("E1", "ps-compile") not in found, later
        assert ("E1", "ps-analyse") in found and ("E2", "ps-compile") in found
    week = keyed(
        reminders.due_reminders(conn, config, tree, tmp_path, now=NOW + dt.timedelta(days=7))
    )
    assert ("E1", "ps-compile") in week


def message_of(digest: reminders.Digest, config: Config) -> EmailMessage:
    raw = reminders.compose(digest, config, now=NOW).as_bytes()
    raw.decode("ascii")  # 7-bit clean: any relay carries it
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_message_is_swedish_plain_text_in_utf8(conn, tree, tmp_path):
    config = make_config(tmp_path / "cfg", {"sender": "arshjul@test.example"})
    found = reminders.due_reminders(conn, config, tree, tmp_path, now=NOW)
    [digest] = [d for d in reminders.digests(found) if d.recipient == "enhet-e1@test.example"]
    message = message_of(digest, config)
    assert message["Subject"] == "Påminnelse: 4 försenade steg i årshjulet"
    assert message["To"] == "enhet-e1@test.example"
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Årshjul patientsäkerhet, Region Demoland",
        "arshjul@test.example",
    )
    assert message["Reply-To"] == COORDINATOR
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@test.example>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    body = message.get_content()
    title = "Sammanställning av avvikelser, klagomål och synpunkter för 2025"
    assert "Enhet Ett A (enhet, HSA-id E1):\n" in body
    assert f"* {title}\n" in body
    assert "Skulle vara klart senast: 2026-01-20 (307 dagar sedan)" in body
    assert "Ansvarig: enhetschef" in body
    assert f"skriv till kvalitetssamordnaren: {COORDINATOR}" in body
    assert "högst en gång i veckan" in body
    # compile, analysis, action plan and training, in deadline order, in one message
    titles = [line[2:] for line in body.splitlines() if line.startswith("* ")]
    first_words = ["Sammanställning", "Analys", "Handlingsplan", "Uppföljning"]
    assert [t.split(" ")[0] for t in titles] == first_words
    one = reminders.Digest("enhet-e1@test.example", digest.reminders[:1])
    assert message_of(one, config)["Subject"] == f"Påminnelse: {title} – Enhet Ett A är försenad"


def test_links_go_only_to_pages_that_are_published(conn, tree, tmp_path):
    config = make_config(tmp_path / "cfg", {})
    out = tmp_path / "out"

    def body() -> str:
        found = reminders.due_reminders(conn, config, tree, out, now=NOW)
        [digest] = [d for d in reminders.digests(found) if d.recipient == "enhet-e1@test.example"]
        return message_of(digest, config).get_content()

    # nothing written yet: no link a reader could not open
    assert "Underlag:" not in body() and "Status:" not in body()
    (out / "2025").mkdir(parents=True)
    (out / "2025" / "status.html").write_text("status", "utf-8")
    (out / "2025" / "index.html").write_text("index", "utf-8")
    text = body()
    assert f"Status: {BASE_URL}/2025/status.html#ps-compile-enhet-2026-01-20" in text
    # the overdue compilation is not written: its underlag is the year's index, not a 404
    assert f"Underlag: {BASE_URL}/2025/enheter/E1/sammanstallning.html" not in text
    assert f"Underlag: {BASE_URL}/2025/index.html" in text
    (out / "2025" / "enheter" / "E1").mkdir(parents=True)
    (out / "2025" / "enheter" / "E1" / "sammanstallning.html").write_text("s", "utf-8")
    assert f"Underlag: {BASE_URL}/2025/enheter/E1/sammanstallning.html" in body()


def test_a_recipient_gets_one_message_a_day_naming_each_step_at_most_once_a_week(
    conn, tree, tmp_path
):
    config = make_config(tmp_path / "cfg", {})
    found = reminders.due_reminders(conn, config, tree, tmp_path, now=NOW)
    messages = reminders.digests(found)
    # one message per address, however many units and steps are overdue for it
    assert sorted(d.recipient for d in messages) == sorted(
        [COORDINATOR, "enhet-e1@test.example", "controller@test.example", "cl@test.example"]
    )
    coordinator = next(d for d in messages if d.recipient == COORDINATOR)
    # E2, E3, V1, V2, A1 and A2: compile, analysis, action plan and training each; the
    # region's action plan
    assert len(coordinator.reminders) == 6 * 4 + 1
    assert len({(r.unit.id, r.milestone) for r in coordinator.reminders}) == 25
    for reminder in found:
        reminders.record_sent(conn, reminder, now=NOW)
    # the next morning: only what became overdue overnight (nothing here), not the same again
    tomorrow = NOW + dt.timedelta(days=1)
    assert reminders.due_reminders(conn, config, tree, tmp_path, now=tomorrow) == []
    a_week_on = reminders.digests(
        reminders.due_reminders(conn, config, tree, tmp_path, now=NOW + dt.timedelta(days=7))
    )
    assert [len(d.reminders) for d in a_week_on] == [len(d.reminders) for d in messages]


def test_nothing_is_sent_with_links_to_this_machines_own_address(
    engine3, tmp_path, start_server, arshjul_log
):
    server = start_server()
    for url in ("http://127.0.0.1:8080", "http://localhost:8080/arshjul", "http://[::1]/"):
        config = make_config(tmp_path / "cfg", plain(server), base_url=url)
        with pytest.raises(ConfigError, match=f"key 'calendar.base_url', value '{re.escape(url)}'"):
            run(engine3, config)
        assert (server.connections, sent_rows(engine3)) == (0, [])
        assert f"Påminnelser skickas inte: länkarna skulle gå till {url}" in arshjul_log.text
    # only sending needs them: a dry run lists what is due
    config = make_config(tmp_path / "cfg", plain(server), base_url="http://127.0.0.1:8080")
    dry = reminders.send_reminders(engine3, config, tmp_path, now=NOW, run_id="r", dry_run=True)
    assert len(dry.due) == 2


# --- recipients.yaml and smtp settings -----------------------------------------------------


@pytest.mark.parametrize(
    ("recipients", "expected"),
    [
        (
            {**RECIPIENTS, "units": {"E1": "not an address"}},
            "key 'units.E1', value 'not an address'",
        ),
        ({"roles": {}}, "key 'default'"),
        (
            {**RECIPIENTS, "roles": {"kassör": "k@test.example"}},
            "key 'roles.kassör', value 'kassör': not an owner role of the wheel",
        ),
    ],
)
def test_recipient_errors_name_file_key_and_value(tmp_path, recipients, expected):
    config = make_config(tmp_path / "cfg", {}, recipients)
    with pytest.raises(ConfigError) as caught:
        config.validate()
    assert str(tmp_path / "cfg" / "recipients.yaml") in str(caught.value)
    assert expected in str(caught.value)


def test_a_unit_recipients_yaml_names_must_exist(conn, tree, tmp_path):
    config = make_config(tmp_path / "cfg", {}, {**RECIPIENTS, "units": {"E9": "e9@test.example"}})
    with pytest.raises(ConfigError, match=r"key 'units\.E9', value 'E9': no unit with this id"):
        reminders.due_reminders(conn, config, tree, tmp_path, now=NOW)


def test_the_unit_example_in_the_bundled_recipients_yaml_is_a_unit_of_the_demo(config):
    """Uncommented, the example under ``units:`` names an enhet as its HSA-id is written
    (four digits: ``-E0001``), so a region copying it gets the form right."""
    from arshjul.demo.organisation import build_organisation

    text = (BUNDLED_CONFIG / "recipients.yaml").read_text("utf-8")
    commented = text.split("\nunits: {}\n", 1)[1].splitlines()
    example = yaml.safe_load("\n".join(line.removeprefix("#") for line in commented))
    [(unit_id, address)] = example.items()
    units = {u.id: u for u in build_organisation(config, "small")}
    assert unit_id in units, f"{unit_id} is no HSA-id of the demo organisation"
    assert units[unit_id].level == "unit" and address.endswith("@demoland.example")


def test_smtp_settings_never_log_in_in_clear(tmp_path):
    config = make_config(tmp_path / "cfg", {"security": "none", "username": "arshjul"})
    with pytest.raises(ConfigError, match=r"settings\.yaml: key 'smtp'.*never log in in clear"):
        config.validate()
    assert make_config(tmp_path / "ssl", {"security": "ssl"}).settings.smtp.effective_port == 465


# --- sending -------------------------------------------------------------------------------


def test_reminders_go_to_a_local_server_and_are_recorded_once_a_week(
    engine3, tmp_path, start_server
):
    server = start_server()
    config = make_config(tmp_path / "cfg", plain(server))
    outcome = run(engine3, config)
    # E1's and E2's compilations, each unit's to its own address (E2's the coordinator's), and
    # the region's action plan, not fastställd, to the coordinator with E2's
    assert (len(outcome.due), len(outcome.sent), outcome.failed) == (2, 2, ())
    by_address = {r.recipients[0]: r for r in server.received}
    assert set(by_address) == {"enhet-e1@test.example", COORDINATOR}
    assert [len(r.recipients) for r in server.received] == [1, 1]
    assert {r.sender for r in server.received} == {"arshjul@test.example"}
    e1 = by_address["enhet-e1@test.example"].message
    assert e1["Subject"] == (
        "Påminnelse: Sammanställning av avvikelser, klagomål och synpunkter för 2025 – Enhet Ett A"
        " är försenad"
    )
    assert "Skulle vara klart senast: 2026-01-20" in e1.get_content()
    both = by_address[COORDINATOR].message
    assert both["Subject"] == "Påminnelse: 2 försenade steg i årshjulet"
    assert "Enhet Ett B (enhet, HSA-id E2):" in both.get_content()
    assert "Region Test (region, HSA-id R1):" in both.get_content()
    assert server.connections == 1  # one connection for every message
    assert sent_rows(engine3) == [
        ("E1", "ps-compile", dt.date(2026, 1, 20), "enhet-e1@test.example"),
        ("E2", "ps-compile", dt.date(2026, 1, 20), COORDINATOR),
        ("R1", "ps-action-plan", dt.date(2026, 4, 30), COORDINATOR),
    ]
    # a second run the same week sends nothing and does not even connect
    assert run(engine3, config, NOW + dt.timedelta(days=6, hours=23)).due == ()
    assert (len(server.received), server.connections) == (2, 1)
    # a week later they are still overdue: reminded again
    assert len(run(engine3, config, NOW + dt.timedelta(days=7)).sent) == 2
    assert len(server.received) == 4
    assert len(sent_rows(engine3)) == 6


def test_a_refused_recipient_fails_alone_and_is_sent_by_a_later_run(
    engine3, tmp_path, start_server
):
    server = start_server(Behaviour(refused={"enhet-e1@test.example"}))
    config = make_config(tmp_path / "cfg", plain(server))
    outcome = run(engine3, config)
    assert [[r.unit.id for r in d.reminders] for d in outcome.sent] == [["E2", "R1"]]
    [failure] = outcome.failed
    assert [r.unit.id for r in failure.digest.reminders] == ["E1"]
    assert "refused: recipient enhet-e1@test.example: 550 5.1.1 no such mailbox here" in (
        failure.error
    )
    assert [r[0] for r in sent_rows(engine3)] == ["E2", "R1"]  # nothing recorded for E1
    assert len(server.received) == 1
    with pytest.raises(reminders.ReminderDeliveryError, match="1 of 2 messages were not sent"):
        outcome.raise_for_failures()
    server.behaviour.refused.clear()
    retry = run(engine3, config, NOW + dt.timedelta(minutes=30))
    assert ([d.recipient for d in retry.sent], retry.failed) == (["enhet-e1@test.example"], ())


def test_a_server_that_is_down_fails_every_message_and_records_nothing(engine3, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = make_config(
        tmp_path / "cfg", {"enabled": True, "host": "127.0.0.1", "port": port, "security": "none"}
    )
    outcome = run(engine3, config)
    assert (len(outcome.failed), outcome.sent) == (2, ())
    assert f"mail server 127.0.0.1:{port}: ConnectionRefusedError" in outcome.failed[0].error
    assert all("not tried: mail server" in f.error for f in outcome.failed[1:])
    assert sent_rows(engine3) == []


def test_with_smtp_disabled_nothing_is_sent_or_recorded(engine3, tmp_path, start_server):
    server = start_server()
    config = make_config(tmp_path / "cfg", {**plain(server), "enabled": False})
    outcome = run(engine3, config)
    assert (len(outcome.due), outcome.sent, outcome.delivered) == (2, (), False)
    assert (server.connections, sent_rows(engine3)) == (0, [])


def test_starttls_and_login_with_the_password_from_the_environment(
    engine3, tmp_path, start_server, server_tls, certificate, monkeypatch
):
    server = start_server(Behaviour(tls=server_tls, credentials=("arshjul", "hemligt-l0sen")))
    smtp = plain(
        server,
        security="starttls",
        username="arshjul",
        password_env="TEST_ARSHJUL_SMTP_PW",
        ca_file=str(certificate[0]),
    )
    config = make_config(tmp_path / "cfg", smtp)
    monkeypatch.delenv("TEST_ARSHJUL_SMTP_PW", raising=False)
    with pytest.raises(ConfigError, match="'TEST_ARSHJUL_SMTP_PW': the environment variable"):
        run(engine3, config)
    monkeypatch.setenv("TEST_ARSHJUL_SMTP_PW", "hemligt-lösen")
    with pytest.raises(ConfigError, match="non-ASCII characters"):
        run(engine3, config)
    monkeypatch.setenv("TEST_ARSHJUL_SMTP_PW", "fel")
    refused = run(engine3, config)
    assert "535 5.7.8 bad credentials" in refused.failed[0].error
    assert (refused.sent, len(server.received)) == ((), 0)
    monkeypatch.setenv("TEST_ARSHJUL_SMTP_PW", "hemligt-l0sen")
    assert len(run(engine3, config).sent) == 2
    assert len(server.received) == 2


def test_implicit_tls_checks_the_servers_certificate(
    engine3, tmp_path, start_server, server_tls, certificate
):
    server = start_server(Behaviour(tls=server_tls, implicit_tls=True))
    untrusted = make_config(tmp_path / "system-ca", plain(server, security="ssl"))
    assert "CERTIFICATE_VERIFY_FAILED" in run(engine3, untrusted).failed[0].error
    trusted = make_config(
        tmp_path / "own-ca", plain(server, security="ssl", ca_file=str(certificate[0]))
    )
    assert len(run(engine3, trusted).sent) == 2


def test_two_runs_at_once_send_each_reminder_once(engine3, tmp_path, start_server):
    server = start_server()
    config = make_config(tmp_path / "cfg", plain(server))
    outcomes: list[reminders.Outcome] = []

    def one_run(name: str) -> None:
        outcomes.append(reminders.send_reminders(engine3, config, tmp_path, now=NOW, run_id=name))

    threads = [threading.Thread(target=one_run, args=(f"run-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(o.sent) for o in outcomes) == [0, 2]
    assert len(server.received) == 2
    with engine3.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ReminderSent)) == 3


# --- the flow ------------------------------------------------------------------------------


def test_the_flow_sends_and_fails_at_the_end_when_a_message_was_refused(
    prefect_harness, workdir, start_server, monkeypatch, arshjul_log
):
    from arshjul.workspace import open_workspace
    from flows.reminders import send_reminders_flow

    server = start_server(Behaviour(refused={"enhet-e1@test.example"}))
    make_config(workdir / "cfg", plain(server))
    monkeypatch.setenv("ARSHJUL_CONFIG", str(workdir / "cfg"))
    ws = open_workspace()
    with ws.engine.begin() as conn:
        import_file(conn, ws.config, "organisation", ORGANISATION, now=NOW)
        leave_three_steps_open(conn, ws.config, workdir)
    flow = send_reminders_flow.with_options(retries=0)
    with pytest.raises(reminders.ReminderDeliveryError, match="1 of 2"):
        flow(now=NOW)
    assert len(server.received) == 1
    # what went out and what did not, in Swedish, for the coordinator
    compilation = "Sammanställning av avvikelser, klagomål och synpunkter för 2025"
    plan = "Handlingsplan med åtgärder, ansvarig och klart-datum (2025)"
    assert (
        f"Påminnelse skickad till {COORDINATOR}: Enhet Ett B (E2): {compilation},"
        f" senast 2026-01-20; Region Test (R1): {plan}, senast 2026-04-30"
    ) in arshjul_log.messages
    assert (
        f"Påminnelse gick inte iväg till enhet-e1@test.example: Enhet Ett A (E1): {compilation},"
        " senast 2026-01-20: mail server 127.0.0.1"
    ) in arshjul_log.text
    server.behaviour.refused.clear()
    assert flow(now=NOW + dt.timedelta(hours=1)) == 1
    make_config(workdir / "cfg", {**plain(server), "enabled": False})
    arshjul_log.clear()  # only what the last run logs
    assert flow(now=NOW + dt.timedelta(days=7)) == 0
    # E2 and the region were reminded a week ago; E1 an hour later, so not yet
    assert (
        "Påminnelser: 1 meddelanden skulle ha skickats; inget skickades, SMTP är avstängt"
        in arshjul_log.messages
    )
    assert (
        f"Påminnelse skickas inte (smtp.enabled är false) till {COORDINATOR}: Enhet Ett B (E2)"
        in arshjul_log.text
    )
    assert "(E1)" not in arshjul_log.text
    assert len(server.received) == 2
