"""A document rendered from the same context as its file is not rendered again (issue 18): the
key of what it is rendered from (:mod:`arshjul.render_key`) is kept with the file; a rerun
on the same data renders nothing and keeps the footer of the run that made the content, and
the output is what rendering would have given, byte for byte.

The region and its change are those of tests/test_incremental.py (R1 › A1 › V1 › E1, E2 and
R1 › A2 › V2 › E3; the change: a file of two deviations of E1).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from arshjul import analysis, compilation, documents, render_key
from arshjul.documents import RENDERED_FROM
from arshjul.importers import import_file
from tests import test_incremental
from tests.conftest import NOW
from tests.test_incremental import CHANGE, E1_AND_ABOVE, OTHERS, _write, files, run

#: the region of tests/test_incremental.py, imported
ws = test_incremental.ws

STEPS = [compilation.STEP, analysis.STEP]


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The units' documents rendered, by unit (one writer: it is this process); the pages
    that are not a unit's (the year's index) are not counted."""
    rendered: Counter[str] = Counter()
    real = documents.render

    def counted(template: str, **context: Any) -> str:
        if "unit" in context:
            rendered[context["unit"].id] += 1
        return real(template, **context)

    monkeypatch.setattr(documents, "render", counted)
    monkeypatch.setenv("ARSHJUL_WORKERS", "1")
    return rendered


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_a_rerun_on_the_same_data_renders_nothing(ws, step, renders):
    first = run(ws, step, "run-1", NOW)
    assert len(first.written) == 8 and sum(renders.values()) == 8
    before = files(ws.out)
    renders.clear()
    again = run(ws, step, "run-2", NOW + timedelta(hours=2))
    assert sum(renders.values()) == 0
    assert again.written == [] and {k.run_id for k in again.kept} == {"run-1"}
    assert files(ws.out) == before


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_what_is_not_rendered_is_what_rendering_gives(ws, step, renders):
    """The run that skipped rendering and one that rendered everything (no key kept) leave
    the same bytes and name the same run."""
    run(ws, step, "run-1", NOW)
    run(ws, step, "run-2", NOW + timedelta(hours=1))
    skipped = files(ws.out)
    for path in skipped:
        if RENDERED_FROM in os.listxattr(path):
            os.removexattr(path, RENDERED_FROM)
    renders.clear()
    rendered = run(ws, step, "run-3", NOW + timedelta(hours=2))
    assert sum(renders.values()) == 8
    assert rendered.written == [] and {k.run_id for k in rendered.kept} == {"run-1"}
    assert {p: b for p, (_, b) in files(ws.out).items()} == {p: b for p, (_, b) in skipped.items()}


def test_after_one_unit_changed_only_it_and_its_roll_ups_are_rendered(ws, renders):
    run(ws, compilation.STEP, "run-1", NOW)
    later = NOW + timedelta(hours=2)
    with ws.engine.begin() as conn:
        import_file(conn, ws.config, "deviations", _write(ws.out.parent, CHANGE), now=later)
    renders.clear()
    result = run(ws, compilation.STEP, "run-2", later)
    assert set(renders) == E1_AND_ABOVE
    assert {p.parent.name for p in result.written} == E1_AND_ABOVE
    assert {k.path.parent.name for k in result.kept} == OTHERS


def test_a_file_changed_by_hand_is_rendered_and_written_again(ws, renders):
    run(ws, compilation.STEP, "run-1", NOW)
    e2 = ws.out / "2025" / "enheter" / "E2" / "sammanstallning.html"
    with e2.open("r+", encoding="utf-8") as f:  # in place: the key stays with the file
        text = f.read()
        f.seek(0)
        f.write(text.replace("<main>", "<main><p>ändrad för hand</p>", 1))
    renders.clear()
    again = run(ws, compilation.STEP, "run-2", NOW + timedelta(hours=1))
    assert set(renders) == {"E2"}
    assert [p.parent.name for p in again.written] == ["E2"]
    assert "för hand" not in e2.read_text("utf-8")


def test_a_day_later_the_documents_aged_by_it_are_rendered(ws, renders):
    """The compilation ages open deviations to the run's day: the key holds the day."""
    run(ws, compilation.STEP, "run-1", NOW)
    renders.clear()
    run(ws, compilation.STEP, "run-2", NOW + timedelta(days=1))
    assert sum(renders.values()) == 8


# --- the key -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    value: Any


def k(**context: Any) -> str:
    return render_key.key("t.html.j2", context)


def test_the_key_is_of_the_values_not_of_the_objects():
    assert k(a=Box([1, "x"])) == k(a=Box([1, "x"]))
    assert k(a=Counter({"x": 1, "y": 2})) == k(a=Counter({"x": 1, "y": 2}))
    assert k(a={"b", "c"}) == k(a={"c", "b"})


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (1, True),
        (1, "1"),
        (1, 1.0),
        ([1, 2], [2, 1]),  # a template lists them in their order
        (Counter({"x": 1, "y": 2}), Counter({"y": 2, "x": 1})),
        ({"a": 1}, {"a": 2}),
        (date(2026, 1, 1), date(2026, 1, 2)),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1)),
        (Box(1), Box(2)),
        ((lambda: 1), (lambda: 2)),  # two lambdas of one line
    ],
)
def test_different_values_have_different_keys(one, other):
    assert k(a=one) != k(a=other)


def test_a_function_is_keyed_by_what_it_closes_over():
    def answer(n: int) -> Any:
        return lambda: n

    assert k(f=answer(1)) == k(f=answer(1))
    assert k(f=answer(1)) != k(f=answer(2))


def test_the_template_and_the_code_are_in_the_key(monkeypatch):
    assert render_key.key("a.html.j2", {}) != render_key.key("b.html.j2", {})
    before = k()
    monkeypatch.setattr(render_key, "code_version", lambda: "other code")
    assert k() != before


def test_a_value_of_an_unknown_kind_is_refused_not_keyed_by_identity():
    with pytest.raises(render_key.Unkeyable):
        k(a=object())
