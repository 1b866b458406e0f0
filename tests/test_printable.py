"""Error text bounded and cleaned (issue 14, item 6): an exception message of 100 MiB is cut to a bound
everywhere it is stored or printed, and escape sequences, C1 controls and bidirectional overrides from
uploads reach no terminal (engine/text.py). The helper on its own, then the real CLI in a child process
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hostile_bpmn import BPMN_HEAD, handoff, routed_scripts, write

from engine import Handoff
from engine.terminal import MAX_MESSAGE_CHARS, printable
from engine.text import table
from storage import Database

# What a terminal would obey: CSI (colour, clear screen), OSC (window title; OSC 52 writes the
# clipboard), the single-byte C1 CSI, a bidirectional override and isolate, a line separator.
HOSTILE = "\x1b[31mred\x1b[0m \x1b]0;owned\x07 \x1b]52;c;ZWNobw==\x07 \x9b2J \u202eevil\u202c \u2066x\u2069 a\u2028b"
RAW = ("\x1b", "\x07", "\x9b", "\x9c", "\u202e", "\u202c", "\u2066", "\u2067", "\u2069", "\u2028")


def test_printable_escapes_what_terminals_obey_and_keeps_the_rest() -> None:
    shown = printable(HOSTILE)
    assert not any(c in shown for c in RAW), ascii(shown)
    assert shown == (
        "\\x1b[31mred\\x1b[0m \\x1b]0;owned\\x07 \\x1b]52;c;ZWNobw==\\x07 \\x9b2J \\u202eevil\\u202c "
        "\\u2066x\\u2069 a\\u2028b"
    )
    assert printable("Prüfung – naïve café 注文 ✓") == "Prüfung – naïve café 注文 ✓"
    assert printable("two\nlines\ttab") == "two\\nlines\\ttab"
    assert printable("two\nlines\ttab", lines=True) == "two\nlines\ttab"
    assert printable("lone \ud800 surrogate") == "lone \\ud800 surrogate"


def test_printable_cuts_to_a_bound_and_says_how_long_the_text_was() -> None:
    huge = "x" * (100 * 1024 * 1024)
    shown = printable(huge)
    assert len(shown) <= MAX_MESSAGE_CHARS
    assert shown.endswith("... (104,857,600 characters in all)")
    # Escapes that lengthen the text are cut too.
    assert len(printable("\x1b" * 5000, 100)) <= 100


def test_tables_escape_every_cell() -> None:
    text = table(["NAME"], [[HOSTILE]], [300])
    assert not any(c in text for c in RAW), ascii(text)


ENV = {"HANDOFF_SCRIPT_CPU_SECONDS": "5", "HANDOFF_SCRIPT_MEMORY_MIB": "512"}


@pytest.fixture
def raising_db(tmp_path: Path, db_url: str) -> str:
    routes = {
        "huge_message": 'raise ValueError("x" * (100 * 1024 * 1024))',
        "hostile_message": f"raise ValueError({HOSTILE!r})",
    }
    app = Handoff(Database(db_url))
    try:
        app.init()
        app.deploy(
            [write(tmp_path, "raising.bpmn", routed_scripts("raising", routes, review=False))], actor="dan"
        )
    finally:
        app.db.dispose()
    return db_url


def test_a_100_mib_exception_message_is_cut_wherever_it_goes(raising_db: str, tmp_path: Path) -> None:
    """Before: 104 MB on stderr, 420 MB stored, 1.5 GB at the peak. The child here may use 1 GiB."""
    result = handoff(
        raising_db,
        "start",
        "raising",
        "--data",
        "attempt=huge_message",
        env=ENV,
        timeout=120,
        address_space=1 << 30,
    )

    assert result.returncode == 6, result.stderr[-500:]
    assert len(result.stderr) < 3 * MAX_MESSAGE_CHARS and result.stderr.count("\n") == 1
    assert "characters in all" in result.stderr
    number = re.search(r"instance (\d+) is now in error", result.stderr)
    assert number is not None, result.stderr[-500:]
    shown = handoff(raising_db, "--json", "show", number.group(1), timeout=60)
    view = json.loads(shown.stdout)
    assert len(view["error"]["message"]) <= MAX_MESSAGE_CHARS
    assert len(shown.stdout) < 20 * MAX_MESSAGE_CHARS  # the message, in the error and in the history
    history = handoff(raising_db, "--json", "history", number.group(1), timeout=60)
    assert history.returncode == 0 and len(history.stdout) < 20 * MAX_MESSAGE_CHARS
    if raising_db.startswith("sqlite:///"):
        assert os.path.getsize(raising_db.removeprefix("sqlite:///")) < 5 * 1024 * 1024


def test_escape_sequences_in_a_message_are_escaped_where_printed_and_stored(raising_db: str) -> None:
    result = handoff(
        raising_db, "start", "raising", "--data", "attempt=hostile_message", env=ENV, timeout=120
    )

    assert result.returncode == 6
    assert not any(c in result.stderr for c in RAW), ascii(result.stderr)
    assert "\\x1b]0;owned\\x07" in result.stderr and "\\u202eevil" in result.stderr
    listed = handoff(raising_db, "instances", timeout=60)
    assert listed.returncode == 0 and not any(c in listed.stdout for c in RAW), ascii(listed.stdout)
    shown = handoff(raising_db, "show", "1", timeout=60)
    assert shown.returncode == 0 and not any(c in shown.stdout for c in RAW), ascii(shown.stdout)


def _named(pid: str, process_name: str, task_name: str) -> str:
    def attr(text: str) -> str:
        return "".join(
            f"&#x{ord(c):x};" if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or ord(c) > 0x2000 else c
            for c in text
        )

    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />\n'
        f'    <bpmn:userTask id="work" name="{attr(task_name)}" />\n'
        '    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />\n'
        '    <bpmn:endEvent id="end" />\n'
    )
    return (
        BPMN_HEAD.format(pid=pid)
        + f'  <bpmn:process id="{pid}" name="{attr(process_name)}" isExecutable="true">\n{body}'
        "  </bpmn:process>\n</bpmn:definitions>\n"
    )


def test_names_from_an_upload_are_escaped_in_listings(tmp_path: Path, db_url: str) -> None:
    app = Handoff(Database(db_url))
    try:
        app.init()
    finally:
        app.db.dispose()
    # XML forbids C0 controls such as ESC even as character references; C1 controls (CSI is \x9b) and
    # bidirectional overrides it allows.
    path = write(
        tmp_path, "named.bpmn", _named("named", "Orders \x9b]0;owned\x9c \u2067x", "Check \u202eevil \x9b2J")
    )
    assert handoff(db_url, "deploy", str(path), timeout=120).returncode == 0
    assert handoff(db_url, "start", "named", timeout=120).returncode == 0

    processes = handoff(db_url, "processes", timeout=60)
    tasks = handoff(db_url, "tasks", timeout=60)

    for listing in (processes, tasks):
        assert listing.returncode == 0, listing.stderr
        assert not any(c in listing.stdout for c in RAW), ascii(listing.stdout)
    assert "Orders \\x9b]0;owned\\x9c \\u2067x" in processes.stdout
    assert "Check \\u202eevil \\x9b2J" in tasks.stdout
