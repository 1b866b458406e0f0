"""`handoff export`: the history as an event log for process-mining tools (PM4Py, ProM, Disco, Celonis).

Two formats, both written as a stream in constant memory (DESIGN §5): rows come from the database a
batch at a time (storage.export_queries) and go out one event at a time.

- `xes`: IEEE 1849-2016 XES with the concept, time, lifecycle and org extensions; one trace per instance.
- `csv`: one row per event, the same events and fields (columns: CSV_COLUMNS).

Only activity lifecycle events are exported: `task_claimed` as `start`, `task_completed` as `complete`,
and with `schedule=True` also `task_ready` as `schedule` (the standard XES lifecycle model). Instance-level
events (started, completed, ...), releases, errors and hook failures are not activities and are left out.
The mapping is documented in docs/export.md.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain, groupby
from operator import attrgetter
from typing import IO, Any, cast

from storage import Database
from storage.export_queries import comments_by_instance, count_events, stream_events

from .errors import InvalidInput

FORMATS = ("xes", "csv")

# The resource of an event no person did: an automated activity's completion, a task becoming ready.
# Process-mining tools (PM4Py's organisational mining, resource classifiers) expect a resource on every
# event; a name in parentheses cannot be mistaken for a person's.
NO_PERSON = "(system)"

# Handoff event kind -> XES standard lifecycle transition.
LIFECYCLE = {"task_ready": "schedule", "task_claimed": "start", "task_completed": "complete"}

XES_NS = "http://www.xes-standard.org/"
XES_EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)
XES_CLASSIFIERS = (
    ("Activity", "concept:name"),
    ("Activity and lifecycle", "concept:name lifecycle:transition"),
    ("Resource", "org:resource"),
)

CSV_COLUMNS = (
    "case_id",
    "process",
    "version",
    "event_id",
    "activity",
    "element",
    "element_type",
    "lifecycle",
    "kind",
    "timestamp",
    "resource",
    "group",
    "activity_instance",
    "comments",  # the activity's comments (`handoff comment TASK`), on each of its events
    "case_comments",  # the instance's own comments (`handoff comment --instance`), on each of its rows
)
COMMENT_KIND = "comment_added"  # engine/comments.py

# Characters XML 1.0 cannot hold even escaped (C0 controls but tab, newline, return; surrogates; U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def timestamp(value: datetime) -> str:
    """xs:dateTime with milliseconds and an explicit zone, e.g. 2026-03-02T09:00:00.000+00:00."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def export_events(
    db: Database,
    out: IO[bytes] | IO[str],
    fmt: str,
    *,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    schedule: bool = False,
    instances: Any = None,
    progress: Callable[[int, int], Any] | None = None,
) -> int:
    """Write the activity events (`since <= at < until`, of one process or all, of the instances the
    storage select `instances` gives, if given) to `out` as XES or CSV.

    `out` is a binary or text file object; XES is UTF-8 (to a text object only if it has a `buffer`, as
    sys.stdout does). Returns the number of events written. `progress(done, total)` is called now and
    then (the total is counted first, only when it is asked for).
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    kinds = [k for k in LIFECYCLE if schedule or k != "task_ready"]
    chosen: dict[str, Any] = {
        "kinds": kinds,
        "process_id": process_id,
        "since": since,
        "until": until,
        "instances": instances,
    }
    with db.reader() as session:
        notes = Comments(
            comments_by_instance(session, kind=COMMENT_KIND, process_id=process_id, since=since, until=until)
        )
        rows: Iterator[Any] = stream_events(session, **chosen)
        if progress is not None:
            rows = _reporting(rows, count_events(session, **chosen), progress)
        if fmt == "csv":
            return _write_csv(rows, out, notes)
        return _write_xes(rows, _binary(out), notes)


class Comments:
    """The comments of the exported instances, as the text of an attribute: `author time: text` each,
    one per line, oldest first."""

    def __init__(self, found: dict[int, list[tuple[str | None, str | None, datetime, str]]]) -> None:
        self._found = found

    def _text(self, instance_id: int, token: str | None) -> str | None:
        lines = [
            f"{author or NO_PERSON} {timestamp(at)}: {text}"
            for of, author, at, text in self._found.get(instance_id, ())
            if of == token
        ]
        return "\n".join(lines) or None

    def of_case(self, instance_id: int) -> str | None:
        return self._text(instance_id, None) if self._found else None

    def of_activity(self, instance_id: int, token: str | None) -> str | None:
        return self._text(instance_id, token) if self._found and token else None


def _reporting(rows: Iterable[Any], total: int, progress: Callable[[int, int], Any]) -> Iterator[Any]:
    done = 0
    for done, row in enumerate(rows, 1):
        if done % 2000 == 0:
            progress(done, total)
        yield row
    progress(done, total)


def _binary(out: IO[Any]) -> IO[bytes]:
    if isinstance(out, io.TextIOBase):
        buffer = getattr(out, "buffer", None)
        if buffer is None:
            raise InvalidInput("XES is written as UTF-8 bytes: give a binary file")
        out.flush()
        return cast(IO[bytes], buffer)
    return out


# --- CSV --------------------------------------------------------------------------------------------


def _write_csv(rows: Iterable[Any], out: IO[Any], notes: Comments) -> int:
    if isinstance(out, io.TextIOBase):
        return _csv_rows(rows, out, notes)
    text = codecs.getwriter("utf-8")(out)  # no wrapper to detach/close: the caller owns `out`
    return _csv_rows(rows, text, notes)


def _csv_rows(rows: Iterable[Any], text: Any, notes: Comments) -> int:
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(
            (
                row.instance_id,
                row.process_id,
                row.version,
                row.id,
                row.element_name or row.element_id,
                row.element_id,
                row.element_type,
                LIFECYCLE[row.kind],
                row.kind,
                timestamp(row.at),
                row.actor or NO_PERSON,
                row.lane,
                row.token,
                notes.of_activity(row.instance_id, row.token),
                notes.of_case(row.instance_id),
            )
        )
        count += 1
    text.flush()
    return count


# --- XES --------------------------------------------------------------------------------------------


def _attr(parent: Any, kind: str, key: str, value: Any) -> None:
    from lxml import etree

    if value is None:
        return
    etree.SubElement(parent, kind, key=key, value=_xml_text(str(value)))


def _event_element(row: Any, notes: Comments) -> Any:
    from lxml import etree

    event = etree.Element("event")
    _attr(event, "string", "concept:name", row.element_name or row.element_id)
    _attr(event, "string", "concept:instance", row.token)
    _attr(event, "string", "lifecycle:transition", LIFECYCLE[row.kind])
    _attr(event, "date", "time:timestamp", timestamp(row.at))
    _attr(event, "string", "org:resource", row.actor or NO_PERSON)
    _attr(event, "string", "org:group", row.lane)
    _attr(event, "string", "element_id", row.element_id)
    _attr(event, "string", "element_type", row.element_type)
    _attr(event, "int", "event_id", row.id)
    _attr(event, "string", "comments", notes.of_activity(row.instance_id, row.token))
    return event


def _header(xf: Any) -> None:
    """Extensions, globals, classifiers and log attributes, in the order the XES schema requires."""
    from lxml import etree

    for name, prefix, uri in XES_EXTENSIONS:
        xf.write("\n  ", etree.Element("extension", name=name, prefix=prefix, uri=uri))
    trace_global = etree.Element("global", scope="trace")
    _attr(trace_global, "string", "concept:name", "__INVALID__")
    event_global = etree.Element("global", scope="event")
    _attr(event_global, "string", "concept:name", "__INVALID__")
    _attr(event_global, "string", "lifecycle:transition", "complete")
    _attr(event_global, "date", "time:timestamp", "1970-01-01T00:00:00.000+00:00")
    xf.write("\n  ", trace_global, "\n  ", event_global)
    for name, keys in XES_CLASSIFIERS:
        xf.write("\n  ", etree.Element("classifier", name=name, keys=keys))
    log_attributes = etree.Element("string", key="concept:name", value="Handoff event log")
    xf.write("\n  ", log_attributes)
    xf.write("\n  ", etree.Element("string", key="lifecycle:model", value="standard"))


def _write_xes(rows: Iterator[Any], out: IO[bytes], notes: Comments) -> int:
    from lxml import etree

    count = 0
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        # Children are written without a namespace inside the default-namespace root: they are XES
        # elements when parsed, with no repeated xmlns declaration on each one.
        with xf.element(f"{{{XES_NS}}}log", {"xes.version": "1849-2016"}, nsmap={None: XES_NS}):
            _header(xf)
            for instance_id, events in groupby(rows, key=attrgetter("instance_id")):
                xf.write("\n  ")
                with xf.element("trace"):
                    first = next(events)
                    trace_attributes = etree.Element("trace")
                    _attr(trace_attributes, "string", "concept:name", instance_id)
                    _attr(trace_attributes, "string", "process", first.process_id)
                    _attr(trace_attributes, "int", "process_version", first.version)
                    _attr(trace_attributes, "string", "comments", notes.of_case(instance_id))
                    for attribute in trace_attributes:
                        xf.write("\n    ", attribute)
                    for row in chain((first,), events):
                        xf.write("\n    ", _event_element(row, notes))
                        count += 1
                    xf.write("\n  ")
            xf.write("\n")
    out.write(b"\n")
    out.flush()
    return count
