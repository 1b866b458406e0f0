"""Hostile input, case by case: uploads and form data that try to hurt, each refused with one line.

The rules are in docs/hostile-input.md. Every refusal here is checked for its exit code, for one
`error:` line that names the file (uploads) or the task and field (data), and for a database that is
unchanged, row for row, on SQLite and PostgreSQL. tests/test_hostile_properties.py searches the same
ground with hypothesis; the cases it found first are at the end of this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from conftest import DATA, EXAMPLE, ROOT, table_rows
from engine import InvalidInput

FORMS = DATA / "hostile_forms.bpmn"
KIB = 1024
MIB = 1024 * KIB


def cli(url: str, *args: object, user: str = "ann", env: dict[str, str] | None = None) -> Result:
    argv = ["--db", url, "--user", user, *(str(a) for a in args)]
    return CliRunner().invoke(main, argv, env=env)


def ok_json(url: str, *args: object) -> Any:
    result = CliRunner().invoke(main, ["--db", url, "--user", "ann", "--json", *(str(a) for a in args)])
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def one_error_line(result: Result, code: int, *fragments: str) -> str:
    """Exactly one `error: ...` line on stderr, nothing on stdout, the exit code, no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert result.exit_code == code, (result.exit_code, line)
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert len(line) < 400, f"an error line should stay readable, got {len(line)} characters"
    assert result.stdout == ""
    return line


@dataclass
class Claim:
    """expense_claim deployed, one instance waiting at 'Enter claim' (a form of every field type)."""

    url: str
    instance: int
    task: int  # Enter claim: a form with title*, receipts, amount, urgent, spent_on, category, cost_centre

    def note_task(self) -> int:
        """A fresh instance moved on to 'Add a note' (no form); returns that task's id."""
        view = ok_json(self.url, "start", "expense_claim")
        (task,) = [t["id"] for t in view["tasks"]]
        view = ok_json(self.url, "complete", task, "--data", "title=Taxi")
        (note,) = [t["id"] for t in view["tasks"] if t["name"] == "Add a note"]
        return int(note)


@pytest.fixture
def claim(db_url: str) -> Claim:
    assert cli(db_url, "init").exit_code == 0
    ok_json(db_url, "deploy", FORMS)
    view = ok_json(db_url, "start", "expense_claim", "--key", "C-1")
    (task,) = [t["id"] for t in view["tasks"]]
    return Claim(db_url, view["id"], task)


@pytest.fixture
def unchanged(claim: Claim) -> Iterator[Callable[[Callable[[], Result]], Result]]:
    """Run a command and assert that every row of every table is as it was."""

    def run(action: Callable[[], Result]) -> Result:
        before = table_rows(claim.url)
        result = action()
        assert table_rows(claim.url) == before, "the database changed"
        return result

    yield run


# --- uploads -----------------------------------------------------------------------------------------

PROCESS = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
    'targetNamespace="http://handoff.example/tests">\n'
    '  <bpmn:process id="tiny" name="{name}" isExecutable="true">\n'
    '    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>\n'
    '    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>\n'
    '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />\n'
    "  </bpmn:process>\n"
    "</bpmn:definitions>\n"
)
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def tiny(name: str = "Tiny") -> bytes:
    return DECLARATION + PROCESS.format(name=name).encode()


def with_doctype(doctype: bytes, name: str = "&xxe;") -> bytes:
    return DECLARATION + doctype + b"\n" + PROCESS.format(name=name).encode()


QUADRATIC = b'<!DOCTYPE bpmn:definitions [<!ENTITY xxe "' + b"x" * 50_000 + b'">]>'
UPLOADS: dict[str, tuple[bytes, str]] = {
    # name: (content, what the one line must say besides the file name)
    "empty": (b"", "file is empty"),
    "whitespace": (b" \n\t\n", "only whitespace"),
    "binary": (bytes(range(256)) * 16, "not an XML file: it holds binary data"),
    "gzip": (b"\x1f\x8b\x08\x00" + bytes(200), "binary data"),
    "json": (b'{"process": "tiny"}', "malformed XML"),
    "latin1_declared_utf8": (
        tiny("Caf\xe9").replace(b"Caf\xc3\xa9", b"Caf\xe9"),
        "not valid in the file's encoding",
    ),
    "unknown_encoding": (tiny().replace(b"UTF-8", b"X-NO-SUCH-CODEC"), "Unsupported encoding"),
    "truncated": (tiny()[:200], "malformed XML"),
    "quadratic_blowup": (with_doctype(QUADRATIC), "DOCTYPE and entity declarations are not allowed"),
    "parameter_entity": (
        with_doctype(b'<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', name="x"),
        "DOCTYPE",
    ),
    "external_dtd": (with_doctype(b'<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">', name="x"), "DOCTYPE"),
    "doctype_after_comment": (
        DECLARATION + b"<!-- innocent -->\n" + with_doctype(QUADRATIC).removeprefix(DECLARATION),
        "DOCTYPE",
    ),
    "utf16_doctype": (
        with_doctype(QUADRATIC).replace(b"UTF-8", b"UTF-16").decode().encode("utf-16"),
        "DOCTYPE",
    ),
    "undeclared_entity": (tiny("&xxe;"), "Entity 'xxe' not defined"),
    "deep_nesting": (
        DECLARATION
        + b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>"
        + b"<x>" * 300
        + b"</x>" * 300
        + b"</bpmn:definitions>",
        "nested deeper than 256 levels",
    ),
    # libxml2's message for this one ends in a line break: printed on one line all the same.
    "nul_byte": (tiny().replace(b"</bpmn:process>", b"\x00</bpmn:process>"), "Char 0x0 out of allowed range"),
    # Found by test_damaged_bpmn_cli_property (flip(a=1, b=0) of order-to-cash): two lines on stderr.
    "found_nul_at_byte_1": (
        EXAMPLE.read_bytes()[:1] + b"\x00" + EXAMPLE.read_bytes()[2:],
        ":1: malformed XML: Invalid character: Char 0x0 out of allowed range (column 2)",
    ),
    "lane_name_too_long": (
        FORMS.read_bytes().replace(b'name="Staff"', b'name="' + b"s" * 256 + b'"'),
        "lane name 'sss",
    ),
    "process_id_too_long": (
        tiny().replace(b'id="tiny"', b'id="' + b"p" * 256 + b'"'),
        "more than the limit of 255",
    ),
    "task_name_too_long": (tiny("n" * 256), "process name 'nnnnn"),
}


def test_hostile_uploads_are_refused(claim: Claim, unchanged: Any, tmp_path: Path) -> None:
    # One database for all the cases (each leaves it unchanged): setting one up costs more than a case.
    for name, (content, expected) in UPLOADS.items():
        path = tmp_path / f"{name}.bpmn"
        path.write_bytes(content)
        result = unchanged(lambda path=path: cli(claim.url, "deploy", path))
        one_error_line(result, 3, f"{path}", expected)
        # validate says the same, as file:line: message, and stores nothing either.
        result = unchanged(lambda path=path: cli(claim.url, "validate", path))
        assert result.exit_code == 3, name
        assert expected in result.stderr and result.stderr.count("\n") == 1, (name, result.stderr)


def test_utf16_file_is_fine(claim: Claim, tmp_path: Path) -> None:
    """A well-formed file in another encoding is not hostile: it deploys."""
    path = tmp_path / "utf16.bpmn"
    path.write_bytes(tiny("Klein").replace(b"UTF-8", b"UTF-16").decode().encode("utf-16"))
    assert ok_json(claim.url, "deploy", path)[0]["process"] == "tiny"


def test_billion_laughs_never_expands(claim: Claim, unchanged: Any) -> None:
    result = unchanged(lambda: cli(claim.url, "deploy", DATA / "bad_billion_laughs.bpmn"))
    one_error_line(result, 3, "bad_billion_laughs.bpmn:2:", "DOCTYPE and entity declarations are not allowed")


def test_upload_limit_default_and_configured(claim: Claim, unchanged: Any, tmp_path: Path) -> None:
    path = tmp_path / "padded.bpmn"
    padding = b"<!--" + b" " * (2 * KIB) + b"-->\n"
    path.write_bytes(tiny().replace(DECLARATION, DECLARATION + padding))
    size = path.stat().st_size
    # Under the default of 10 MiB it deploys; with HANDOFF_MAX_UPLOAD=1KiB the same file is refused.
    small = {"HANDOFF_MAX_UPLOAD": "1KiB"}
    result = unchanged(lambda: cli(claim.url, "deploy", path, env=small))
    one_error_line(
        result, 3, str(path), f"file is {size:,} bytes", "more than the limit of 1 KiB", "HANDOFF_MAX_UPLOAD"
    )
    result = unchanged(lambda: cli(claim.url, "validate", path, env=small))
    assert result.exit_code == 3 and "more than the limit of 1 KiB" in result.stderr
    for bad in ("lots", "-5", "0"):
        result = unchanged(lambda bad=bad: cli(claim.url, "deploy", path, env={"HANDOFF_MAX_UPLOAD": bad}))
        one_error_line(result, 2, "HANDOFF_MAX_UPLOAD", repr(bad))
    assert cli(claim.url, "deploy", path, env={"HANDOFF_MAX_UPLOAD": "3k"}).exit_code == 0


def test_oversized_upload_is_not_read_whole(claim: Claim, unchanged: Any, tmp_path: Path) -> None:
    """A file beyond the limit is refused after reading limit + 1 bytes: even one that never ends."""
    big = tmp_path / "big.bpmn"
    with big.open("wb") as f:
        f.write(DECLARATION)
        f.seek(10 * MIB + 10)
        f.write(b"x")
    result = unchanged(lambda: cli(claim.url, "deploy", big))
    one_error_line(result, 3, str(big), "more than the limit of 10 MiB")
    if Path("/dev/zero").exists():
        result = unchanged(
            lambda: cli(claim.url, "validate", "/dev/zero", env={"HANDOFF_MAX_UPLOAD": "64KiB"})
        )
        assert result.exit_code == 3 and "/dev/zero: file is endless" in result.stderr, result.stderr


def test_huge_text_node_is_refused_by_the_parser(claim: Claim, unchanged: Any, tmp_path: Path) -> None:
    """Above the upload limit, libxml2's own 10 MB limit on one text still holds (huge_tree is off)."""
    path = tmp_path / "huge_name.bpmn"
    path.write_bytes(tiny("n" * (10 * MIB + 1)))
    result = unchanged(lambda: cli(claim.url, "deploy", path, env={"HANDOFF_MAX_UPLOAD": "11MiB"}))
    one_error_line(result, 3, str(path), "larger than 10 MB")


def test_control_characters_in_upload_stay_escaped(claim: Claim, unchanged: Any, tmp_path: Path) -> None:
    """An element id may hold C1 controls (legal XML 1.0) that drive terminals: shown escaped, one line."""
    path = tmp_path / "csi.bpmn"
    path.write_bytes(tiny().replace(b'targetRef="end"', b'targetRef="&#x9b;2J&#x85;gone"'))
    result = unchanged(lambda: cli(claim.url, "deploy", path))
    line = one_error_line(result, 3, str(path), "\\x9b2J")
    assert "\x9b" not in line and "\x85" not in line


@pytest.mark.parametrize(
    "schema, fragment",
    [
        ("[1]", "must be an object"),
        ('{"properties": [1]}', "must be an object with an object of 'properties'"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("{'single': 'quotes'}", "not a JSON form schema"),
    ],
    ids=["list", "properties_list", "deep", "not_json"],
)
def test_broken_form_schema_is_refused(
    claim: Claim, unchanged: Any, tmp_path: Path, schema: str, fragment: str
) -> None:
    """A SpiffArena form schema beside its BPMN: these crashed validation (AttributeError, RecursionError)."""
    bpmn_file = tmp_path / "spiff_purchase.bpmn"
    bpmn_file.write_bytes((DATA / "spiff_purchase.bpmn").read_bytes())
    form = tmp_path / "purchase-form.json"
    form.write_text(schema)
    result = unchanged(lambda: cli(claim.url, "deploy", bpmn_file, form))
    one_error_line(result, 3, f"{form}: ", fragment)


def test_odd_form_schema_shapes_are_read_safely(claim: Claim, tmp_path: Path) -> None:
    """An object with odd members is a schema with fewer fields, never a crash (this one was a TypeError)."""
    bpmn_file = tmp_path / "spiff_purchase.bpmn"
    bpmn_file.write_bytes((DATA / "spiff_purchase.bpmn").read_bytes())
    form = tmp_path / "purchase-form.json"
    form.write_text('{"properties": {"item": {"enum": 5}, "n": 3}, "required": 5}')
    assert ok_json(claim.url, "deploy", bpmn_file, form)[0]["process"] == "purchase_request"


def test_long_user_name_is_refused(claim: Claim, unchanged: Any) -> None:
    result = unchanged(lambda: cli(claim.url, "start", "expense_claim", user="u" * 256))
    one_error_line(result, 2, "at most 255")


# --- form data ---------------------------------------------------------------------------------------

# (argv after `complete TASK`, fragments the line must hold besides the task). The task has a form.
ENTER = "(Enter claim)"
FORM_CASES: dict[str, tuple[list[str], list[str]]] = {
    "string_too_long": (
        ["--data", "title=" + "x" * (64 * KIB + 1)],
        ["field 'title'", "65,537 bytes", "64 KiB"],
    ),
    "multibyte_string_too_long": (
        ["--data", "title=" + "\u20ac" * 30_000],
        ["field 'title'", "90,000 bytes", "64 KiB"],
    ),
    "custom_type_too_long": (
        ["--data-json", json.dumps({"title": "x", "cost_centre": "c" * (64 * KIB + 1)})],
        ["field 'cost_centre'", "64 KiB"],
    ),
    "control_character": (["--data", "title=Taxi\x1b[2J"], ["field 'title'", "U+001B"]),
    "nul": (["--data-json", '{"title": "a\\u0000b"}'], ["field 'title'", "U+0000"]),
    "lone_surrogate": (["--data-json", '{"title": "\\ud800"}'], ["field 'title'", "not valid Unicode"]),
    "nan": (["--data-json", '{"title": "x", "amount": NaN}'], ["field 'amount'", "finite number", "nan"]),
    "infinity": (["--data-json", '{"title": "x", "amount": -Infinity}'], ["field 'amount'", "finite"]),
    "overflowing_float": (["--data-json", '{"title": "x", "amount": 1e999}'], ["field 'amount'", "finite"]),
    "nan_as_text": (["--data", "title=x", "--data", "amount=nan"], ["field 'amount'", "must be a number"]),
    "beyond_64_bits": (
        ["--data", "title=x", "--data", "receipts=9223372036854775808"],
        ["field 'receipts'", "within 64 bits"],
    ),
    "beyond_64_bits_json": (
        ["--data-json", '{"title": "x", "receipts": -9223372036854775809}'],
        ["field 'receipts'", "beyond 64 bits"],
    ),
    "underscored_number": (
        ["--data", "title=x", "--data", "receipts=1_000"],
        ["field 'receipts'", "whole number"],
    ),
    "list_for_long": (
        ["--data-json", '{"title": "x", "receipts": [1]}'],
        ["field 'receipts'", "whole number"],
    ),
    "bool_for_long": (
        ["--data-json", '{"title": "x", "receipts": true}'],
        ["field 'receipts'", "whole number"],
    ),
    "object_for_string": (["--data-json", '{"title": {"a": 1}}'], ["field 'title'", "must be a string"]),
    "text_for_boolean": (
        ["--data", "title=x", "--data", "urgent=maybe"],
        ["field 'urgent'", "true or false"],
    ),
    # As strict as the other types: only true and false, the same in --data and in JSON.
    "yes_for_boolean": (
        ["--data", "title=x", "--data", "urgent=yes"],
        ["field 'urgent'", "true or false, got 'yes'"],
    ),
    "yes_for_boolean_json": (
        ["--data-json", '{"title": "x", "urgent": "yes"}'],
        ["field 'urgent'", "true or false, got 'yes'"],
    ),
    "one_for_boolean": (
        ["--data", "title=x", "--data", "urgent=1"],
        ["field 'urgent'", "true or false, got '1'"],
    ),
    "number_for_boolean_json": (
        ["--data-json", '{"title": "x", "urgent": 0}'],
        ["field 'urgent'", "true or false, got 0"],
    ),
    "off_for_boolean": (
        ["--data", "title=x", "--data", "urgent=off"],
        ["field 'urgent'", "true or false, got 'off'"],
    ),
    "impossible_date": (["--data", "title=x", "--data", "spent_on=2026-02-30"], ["field 'spent_on'", "date"]),
    "number_for_date": (
        ["--data-json", '{"title": "x", "spent_on": 20260101}'],
        ["field 'spent_on'", "date"],
    ),
    "unknown_enum": (
        ["--data", "title=x", "--data", "category=bribes"],
        ["field 'category'", "travel, meals, other"],
    ),
    "unknown_field": (
        ["--data", "title=x", "--data", "titel=y"],
        ["no field 'titel'", "its fields are title"],
    ),
    "many_unknown_fields": (
        ["--data-json", json.dumps({f"f{i}": i for i in range(50)})],
        ["no field 'f0', 'f1', 'f2', 'f3', 'f4' and 45 more"],
    ),
    "huge_wrong_type": (
        ["--data", "title=x", "--data", "receipts=" + "x" * 60_000],
        ["field 'receipts'", "whole number, got 'xxxxxxxx"],
    ),
    "missing_required": (["--data", "receipts=2"], ["'title'", "required"]),
    "deep_json": (
        ["--data-json", '{"title": "x", "cost_centre": ' + "[" * 20 + "]" * 20 + "}"],
        ["field 'cost_centre", "nested deeper than 20 levels"],
    ),
}
# Refused before a task is looked up: they name the option.
OPTION_CASES: dict[str, tuple[list[str], list[str]]] = {
    "decoder_recursion": (
        ["--data-json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"],
        ["--data-json", "nested deeper than 20"],
    ),
    "payload_too_big": (
        ["--data-json", json.dumps({"title": "x" * (MIB + 10)})],
        ["--data-json", "more than the limit of 1 MiB"],
    ),
    "duplicate_key": (["--data-json", '{"title": "a", "title": "b"}'], ["--data-json", "'title' twice"]),
    "not_json": (["--data-json", "{title: x}"], ["--data-json", "not valid JSON"]),
    "huge_number_text": (
        ["--data-json", '{"receipts": ' + "9" * 5000 + "}"],
        ["--data-json", "beyond 64 bits"],
    ),
    "empty_data_json": (["--data-json", ""], ["--data-json", "not valid JSON"]),
    "not_an_object": (["--data-json", "[1, 2]"], ["--data-json", "JSON object"]),
    "bad_key": (["--data", "a b=1"], ["--data key 'a b'"]),
}


def test_hostile_form_data_is_refused(claim: Claim, unchanged: Any) -> None:
    for name, (argv, fragments) in {**FORM_CASES, **OPTION_CASES}.items():
        task_named = [f"task {claim.task} {ENTER}"] if name in FORM_CASES else []
        result = unchanged(lambda argv=argv: cli(claim.url, "complete", claim.task, *argv))
        one_error_line(result, 2, *task_named, *fragments)


def test_booleans_take_true_and_false_alike_from_data_and_json(claim: Claim) -> None:
    """What the form's type documents, whichever way it comes: true/false in JSON, the words as text."""
    given = [
        (["--data", "urgent=true"], True),
        (["--data", "urgent= FALSE "], False),
        (["--data-json", '{"urgent": true}'], True),
        (["--data-json", '{"urgent": "false"}'], False),
        (["--data-json", '{"urgent": "True"}'], True),
        ([], False),  # the form's default (defaultValue="false")
    ]
    for argv, stored in given:
        view = ok_json(claim.url, "start", "expense_claim")
        (task,) = [t["id"] for t in view["tasks"]]
        done = ok_json(claim.url, "complete", task, "--data", "title=x", *argv)
        assert done["data"]["urgent"] is stored, argv


def test_a_boolean_default_from_the_file_keeps_the_designers_words() -> None:
    """A person's input is strict, but a default is the process designer's text: older Camunda models
    write defaultValue="No" (the SpiffWorkflow corpus' lanes.bpmn), and a form left as it is submits it."""
    from bpmn import FormField
    from engine import forms

    for text, value in (("No", False), ("yes", True), ("true", True), ("FALSE", False)):
        field = FormField(id="clarify", label="Clarify?", type="boolean", default=text)
        assert forms.check([field], {}, "task 1 (Ask)") == {"clarify": value}
    with pytest.raises(
        InvalidInput, match="field 'clarify' of task 1 \\(Ask\\) must be true or false, got 'No'"
    ):
        forms.check(
            [FormField(id="clarify", label="Clarify?", type="boolean")], {"clarify": "No"}, "task 1 (Ask)"
        )


# Tasks without a form take any data, within the same limits; their field names become variables.
FREE_CASES: dict[str, tuple[list[str], list[str]]] = {
    "reserved_name": (["--data-json", '{"__builtins__": {}}'], ["'__builtins__'", "reserved"]),
    "not_a_variable_name": (
        ["--data-json", '{"two words": 1}'],
        ["'two words'", "not a valid variable name"],
    ),
    "empty_nested_name": (["--data-json", '{"a": {"": 1}}'], ["empty field name in 'a'"]),
    "long_nested_name": (["--data-json", json.dumps({"a": {"k" * 201: 1}})], ["longer than 200 characters"]),
    "control_in_nested_name": (["--data-json", '{"a": {"b\\u0007": 1}}'], ["in 'a'", "control character"]),
    "nan_deep_inside": (["--data-json", '{"a": {"b": [1, 2, NaN]}}'], ["field 'a.b[2]'", "finite number"]),
    "string_too_long_inside": (
        ["--data-json", json.dumps({"a": ["x" * (64 * KIB + 1)]})],
        ["field 'a[0]'", "64 KiB"],
    ),
    "payload_over_1mib": (
        [arg for i in range(18) for arg in ("--data", f"k{i}=" + "x" * 60_000)],
        ["data for task", "more than the limit of 1 MiB"],
    ),
    "too_deep": (
        ["--data-json", '{"a": ' + "[" * 20 + "]" * 20 + "}"],
        ["field 'a", "deeper than 20 levels"],
    ),
}


def test_hostile_free_data_is_refused(claim: Claim, unchanged: Any) -> None:
    note = claim.note_task()
    for argv, fragments in FREE_CASES.values():
        result = unchanged(lambda argv=argv: cli(claim.url, "complete", note, *argv))
        one_error_line(result, 2, f"task {note} (Add a note)", *fragments)


def test_hostile_start_data_and_key_are_refused(claim: Claim, unchanged: Any) -> None:
    where = "the start of process 'expense_claim'"
    for argv, fragments in [
        (["--data-json", '{"__class__": 1}'], [where, "reserved"]),
        (["--data-json", '{"x": Infinity}'], [where, "field 'x'", "finite"]),
        (["--data", "note=\x07"], [where, "field 'note'", "U+0007"]),
        (["--key", "k" * 256], ["business key", "more than the limit of 255"]),
        (["--key", "SO-1\nSO-2"], ["business key", "line break"]),
    ]:
        result = unchanged(lambda argv=argv: cli(claim.url, "start", "expense_claim", *argv))
        one_error_line(result, 2, *fragments)


def test_limits_are_inclusive(claim: Claim) -> None:
    """What is just inside each limit is stored exactly as given."""
    text = "x" * (64 * KIB) + ""
    view = ok_json(
        claim.url, "complete", claim.task, "--data", f"title={text}", "--data", "receipts=9223372036854775807"
    )
    assert view["data"]["title"] == text and view["data"]["receipts"] == 2**63 - 1
    note = claim.note_task()
    nested: Any = "bottom"
    for _ in range(19):
        nested = [nested]
    value = {"lines": "first\tsecond\r\nthird", "deep": nested, "small": -(2**63), "ratio": 1e-300}
    view = ok_json(claim.url, "complete", note, "--data-json", json.dumps(value))
    assert {k: view["data"][k] for k in value} == value


def test_services_refuse_what_json_cannot_say(claim: Claim) -> None:
    """Through the Python API: non-string names, tuples, sets, bytes and other objects are refused."""
    from datetime import date
    from decimal import Decimal

    from engine import Handoff, InvalidInput
    from storage import Database

    app = Handoff(Database(claim.url))
    try:
        before = table_rows(claim.url)
        for data, fragment in [
            ({1: "one"}, "must be strings; got 1"),
            ({"a": {("t",): 1}}, "must be strings; got ('t',) in 'a'"),
            ({"a": (1, 2)}, "tuple"),
            ({"a": {1, 2}}, "set"),
            ({"a": b"\x00"}, "bytes"),
            ({"a": Decimal("1.5")}, "Decimal"),
            ({"a": date(2026, 1, 1)}, "date"),
            (["not", "a", "mapping"], "must be an object of fields"),
        ]:
            with pytest.raises(InvalidInput) as caught:
                app.start("expense_claim", data=data, actor="ann")  # type: ignore[arg-type]
            assert fragment in str(caught.value) and "\n" not in str(caught.value)
        cyclic: list[Any] = []
        cyclic.append(cyclic)
        with pytest.raises(InvalidInput, match="nested deeper than 20"):
            app.start("expense_claim", data={"loop": cyclic}, actor="ann")
        assert table_rows(claim.url) == before
    finally:
        app.db.dispose()


# --- the same as a real process ----------------------------------------------------------------------


def test_hostile_input_as_a_real_process(claim: Claim, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HANDOFF_DB", "HANDOFF_USER")}
    bomb = tmp_path / "bomb.bpmn"
    bomb.write_bytes(with_doctype(QUADRATIC))
    before = table_rows(claim.url)
    for argv, code, fragment in [
        (["deploy", str(bomb)], 3, "DOCTYPE and entity declarations are not allowed"),
        (["deploy", "/dev/zero"], 3, "/dev/zero: file is endless"),
        (["complete", str(claim.task), "--data-json", '{"title": "x", "amount": NaN}'], 2, "field 'amount'"),
        (["complete", str(claim.task), "--data-json", "[" * 50_000], 2, "nested deeper than 20"),
    ]:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--db", claim.url, "--user", "ann", *argv],
            capture_output=True,
            text=True,
            env={**env, "HANDOFF_MAX_UPLOAD": "1MiB"},
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert proc.returncode == code, (argv[0], proc.stderr)
        assert "Traceback" not in proc.stderr
        (line,) = proc.stderr.splitlines()
        assert line.startswith("error: ") and fragment in line, line
    assert table_rows(claim.url) == before
