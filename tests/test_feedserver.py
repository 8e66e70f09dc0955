"""The feed server over real HTTP on loopback: caching answers, refusals, slow and big clients."""

from __future__ import annotations

import http.client
import os
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from arshjul.feedserver import FeedServer
from tests.tools import feed_server

TOKEN = "Zq3vH0xK9bYt2mW8rLc4nP1s"
OTHER_TOKEN = "Aa3vH0xK9bYt2mW8rLc4nP1s"
FEED = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    calendar = out / "calendar"
    (calendar / "t" / TOKEN).mkdir(parents=True)
    (calendar / "t" / OTHER_TOKEN).mkdir()
    (calendar / "region.ics").write_bytes(FEED)
    (calendar / "index.html").write_text("<!doctype html><title>Årshjul</title>", "utf-8")
    (calendar / "t" / TOKEN / "unit-E1.ics").write_bytes(b"unit E1")
    (calendar / "t" / OTHER_TOKEN / "unit-E2.ics").write_bytes(b"unit E2")
    (calendar / ".region.ics.x1y2.tmp").write_bytes(b"half written")
    (calendar / ".draft.ics").write_bytes(b"hidden")
    (calendar / ".git").mkdir()
    (calendar / ".git" / "HEAD.html").write_bytes(b"hidden")
    (out / "2025" / "enheter" / "E1").mkdir(parents=True)
    (out / "2025" / "enheter" / "E1" / "sammanstallning.html").write_text("<p>E1</p>", "utf-8")
    (out / "notes.txt").write_text("not a published type", "utf-8")
    (tmp_path / "secret.ics").write_bytes(b"outside the folder")
    (calendar / "link.ics").symlink_to(tmp_path / "secret.ics")
    return out


@pytest.fixture
def server(site: Path) -> Iterator[FeedServer]:
    with feed_server(site, client_timeout=1.0) as httpd:
        yield httpd


def get(
    server: FeedServer, path: str, method: str = "GET", **headers: str
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def body(server: FeedServer, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    conn.request("GET", path)
    data = conn.getresponse().read()
    conn.close()
    return data


def raw(server: FeedServer, request: bytes, wait: float = 5.0) -> bytes:
    """Send bytes as they are (no client library to tidy the path) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=wait) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# --- serving -------------------------------------------------------------------------------


def test_a_feed_is_served_as_text_calendar_with_validators(server):
    response = get(server, "/calendar/region.ics")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(FEED))
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) == 34
    assert response.headers["Last-Modified"].endswith(" GMT")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Server"] == "arshjul"
    assert body(server, "/calendar/region.ics") == FEED


def test_head_answers_the_headers_without_the_body(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    conn.request("HEAD", "/calendar/region.ics")
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["Content-Length"] == str(len(FEED))
    assert response.read() == b""
    # the connection stays usable: no stray body was sent
    conn.request("GET", "/calendar/region.ics")
    assert conn.getresponse().read() == FEED
    conn.close()


def test_a_client_with_the_current_etag_gets_304(server):
    etag = get(server, "/calendar/region.ics").headers["ETag"]
    response = get(server, "/calendar/region.ics", If_None_Match=etag)
    assert response.status == 304
    assert response.headers["ETag"] == etag
    assert "Content-Length" not in response.headers or response.headers["Content-Length"] == "0"
    assert get(server, "/calendar/region.ics", If_None_Match=f'"x", W/{etag}').status == 304
    assert get(server, "/calendar/region.ics", If_None_Match="*").status == 304
    assert get(server, "/calendar/region.ics", If_None_Match='"other"').status == 200


def test_a_client_with_a_copy_as_new_as_the_file_gets_304(server, site):
    modified = get(server, "/calendar/region.ics").headers["Last-Modified"]
    assert get(server, "/calendar/region.ics", If_Modified_Since=modified).status == 304
    older = formatdate(os.stat(site / "calendar" / "region.ics").st_mtime - 60, usegmt=True)
    assert get(server, "/calendar/region.ics", If_Modified_Since=older).status == 200
    assert get(server, "/calendar/region.ics", If_Modified_Since="not a date").status == 200
    # If-None-Match decides when both are sent
    both = {"If_Modified_Since": modified, "If_None_Match": '"other"'}
    assert get(server, "/calendar/region.ics", **both).status == 200


def test_a_changed_file_is_served_new_with_a_new_etag(server, site):
    etag = get(server, "/calendar/region.ics").headers["ETag"]
    path = site / "calendar" / "region.ics"
    path.write_bytes(FEED.replace(b"2.0", b"2.0\r\nX-NEW:1"))
    os.utime(path, (time.time() + 5, time.time() + 5))
    response = get(server, "/calendar/region.ics", If_None_Match=etag)
    assert response.status == 200
    assert response.headers["ETag"] != etag
    assert b"X-NEW:1" in body(server, "/calendar/region.ics")


def test_the_index_page_and_the_documents_are_served(server):
    home = get(server, "/")
    assert (home.status, home.headers["Location"]) == (302, "/calendar/")
    assert get(server, "/calendar").headers["Location"] == "/calendar/"
    page = get(server, "/calendar/")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert body(server, "/calendar/").startswith(b"<!doctype html>")
    assert get(server, "/2025/enheter/E1/sammanstallning.html").status == 200
    assert get(server, "/calendar/index.html").status == 200


def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    for _ in range(5):
        conn.request("GET", "/calendar/region.ics")
        assert conn.getresponse().read() == FEED
    conn.close()


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/../secret.ics",
        b"/calendar/../../secret.ics",
        b"/%2e%2e/secret.ics",
        b"/calendar/%2E%2E/%2e%2e/secret.ics",
        b"/calendar/..%2f..%2fsecret.ics",
        b"/calendar/..%5c..%5csecret.ics",
        b"//etc/passwd",
        b"/etc/passwd",
        b"/calendar/link.ics",  # a symbolic link out of the folder
        b"/calendar/.region.ics.x1y2.tmp",  # hidden: a file being written
        b"/calendar/.draft.ics",
        b"/calendar/.git/HEAD.html",
        b"/calendar/region.ics%00.html",
        b"/calendar/%ff.ics",
        b"/notes.txt",  # not a type the server publishes
        b"http://127.0.0.1/../secret.ics",
        b"/calendar/t/",  # no folder is ever listed
        b"/calendar/t/" + TOKEN.encode() + b"/",
    ],
)
def test_nothing_outside_the_published_files_is_served(server, target):
    answer = raw(server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) in (400, 404), answer[:80]
    assert b"outside the folder" not in answer and b"root:" not in answer


def test_a_unit_feed_is_served_only_under_its_own_token(server):
    assert body(server, f"/calendar/t/{TOKEN}/unit-E1.ics") == b"unit E1"
    assert get(server, f"/calendar/t/{OTHER_TOKEN}/unit-E1.ics").status == 404
    assert get(server, "/calendar/unit-E1.ics").status == 404
    assert get(server, f"/calendar/t/{TOKEN[:-1]}x/unit-E1.ics").status == 404


def test_other_methods_are_not_implemented(server):
    assert get(server, "/calendar/region.ics", method="POST").status == 501
    assert get(server, "/calendar/region.ics", method="DELETE").status == 501


def test_an_oversized_request_line_or_header_is_refused(server):
    long_line = b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert status_of(raw(server, long_line)) == 414
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"b" * 1000) for i in range(20))
    big = b"GET /calendar/region.ics HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
    assert status_of(raw(server, big)) == 431
    assert get(server, "/calendar/region.ics").status == 200, "the server is still there"


def test_a_slow_client_is_dropped_and_does_not_hold_up_others(server):
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as slow:
        slow.sendall(b"GET /calendar/region.ics HTTP/1.1\r\n")  # and then nothing more
        started = time.monotonic()
        assert get(server, "/calendar/region.ics").status == 200
        answer = b"".join(iter(lambda: slow.recv(1024), b""))  # until the server closes
        assert status_of(answer) == 408
        assert time.monotonic() - started < 5


def test_one_line_per_request_is_logged_without_the_token(server, capsys):
    get(server, "/calendar/region.ics")
    get(server, f"/calendar/t/{TOKEN}/unit-E1.ics")
    get(server, "/missing.ics")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert '"GET /calendar/region.ics HTTP/1.1" 200' in lines[0]
    assert '"GET /calendar/t/…/unit-E1.ics HTTP/1.1" 200' in lines[1]
    assert "404" in lines[2]
    assert all(TOKEN not in line for line in lines)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /calendar/region.ics HTTP/2.0\r\n\r\n", 400),
        (b"GET /calendar/region.ics HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /calendar/region.ics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400),
        (b"GET /calendar/region.ics HTTP/1.0\r\n\r\n", 200),  # answered, then closed
    ],
)
def test_malformed_requests_are_refused_and_the_connection_closed(server, request_bytes, status):
    answer = raw(server, request_bytes)  # returns when the server closes the connection
    assert status_of(answer) == status
    assert answer.count(b"HTTP/1.1 ") == 1


# --- links to the address asked for -----------------------------------------------------------

DEFAULT = "http://127.0.0.1:8080"
LONG = "Underlag: " + "x" * 50 + f" {DEFAULT}/2025/region/R1/sammanstallning.html"


def test_with_the_default_base_url_links_follow_the_address_asked_for(tmp_path: Path):
    from arshjul.ical_text import fold

    calendar = tmp_path / "calendar"
    calendar.mkdir()
    page = (
        f'<a href="webcal://127.0.0.1:8080/calendar/region.ics">{DEFAULT}/calendar/region.ics</a>'
    )
    (calendar / "index.html").write_text(page, "utf-8")
    feed = b"BEGIN:VCALENDAR\r\n" + fold(f"DESCRIPTION:{LONG}") + b"\r\nEND:VCALENDAR\r\n"
    assert b"\r\n " in feed  # the link is folded across lines
    (calendar / "region.ics").write_bytes(feed)
    with feed_server(tmp_path, rebase=DEFAULT) as server:
        port = server.server_port
        asked = f"127.0.0.1:{port}"
        response = get(server, "/calendar/", Host=asked)
        html = body_with_host(server, "/calendar/", asked).decode()
        assert html == (
            f'<a href="webcal://{asked}/calendar/region.ics">http://{asked}/calendar/region.ics</a>'
        )
        # the ETag is that of the page as served: a client's copy is current for its address
        etag = response.headers["ETag"]
        assert get(server, "/calendar/", Host=asked, If_None_Match=etag).status == 304
        elsewhere = f"localhost:{port}"
        assert get(server, "/calendar/", Host=elsewhere, If_None_Match=etag).status == 200
        served = body_with_host(server, "/calendar/region.ics", asked)
        assert b"127.0.0.1:8080" not in served
        unfolded = served.replace(b"\r\n ", b"")
        assert LONG.replace(DEFAULT, f"http://{asked}").encode() in unfolded
        assert max(len(line) for line in served.split(b"\r\n")) <= 75
        # the address asked for as it was written, or a Host that is no address: as written
        assert body_with_host(server, "/calendar/region.ics", "127.0.0.1:8080") == feed
        assert body_with_host(server, "/calendar/", 'x"><script>') == page.encode()
    # a configured base URL is left as written
    with feed_server(tmp_path) as server:
        assert (
            body_with_host(server, "/calendar/", f"localhost:{server.server_port}") == page.encode()
        )


def body_with_host(server: FeedServer, path: str, host: str) -> bytes:
    """The body served for ``path`` to a client that names the server ``host``."""
    return raw(
        server, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    ).split(b"\r\n\r\n", 1)[1]
