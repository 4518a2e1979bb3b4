"""Progress: plain lines without carriage returns when stderr is not a terminal."""

from __future__ import annotations

import io

from kprlink._progress import progress


def test_plain_lines_when_not_a_terminal():
    buf = io.StringIO()
    assert list(progress(range(20), desc="tables", unit="table", file=buf)) == list(range(20))
    text = buf.getvalue()
    assert "\r" not in text and text.endswith(" s\n")
    lines = text.splitlines()
    assert lines[0].startswith("tables: 2/20 table") and "20 table done" in lines[-1]
    assert len(lines) == 10  # nine tenths, then the end


def test_disabled_is_silent_and_unknown_length_counts():
    buf = io.StringIO()
    assert list(progress(iter("abc"), desc="x", disable=True, file=buf)) == ["a", "b", "c"]
    assert buf.getvalue() == ""
    assert list(progress(iter("abc"), desc="x", file=buf)) == ["a", "b", "c"]
    assert buf.getvalue().splitlines() == [buf.getvalue().splitlines()[0]]
    assert "x: 3 it done" in buf.getvalue()


def test_terminal_gets_a_tqdm_bar():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    buf = Tty()
    assert list(progress(range(3), desc="bar", file=buf)) == [0, 1, 2]
    assert "\r" in buf.getvalue() and "bar" in buf.getvalue()
