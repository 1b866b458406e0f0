"""bpmn/: hardened loading, validation messages with lines, forms and properties from both dialects."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpmn
from conftest import DATA, EXAMPLE


def problems(*paths: Path) -> list[str]:
    return [str(p) for p in bpmn.validate_files(list(paths)).problems]


def test_example_validates_cleanly_with_lanes_forms_and_sla() -> None:
    report = bpmn.validate_files([EXAMPLE])
    assert report.ok and report.problems == ()
    (process,) = report.processes
    model = process.model
    assert model.process_id == "order_to_cash"
    assert model.dialect == "camunda"
    assert model.lanes == ("Customer Service", "Sales", "Finance", "Warehouse")
    assert model.properties["sla"] == "P3D"
    register = model.elements["Task_RegisterOrder"]
    assert register.lane == "Customer Service" and register.type == "userTask"
    fields = {f.id: f for f in register.form}
    assert fields["customer"].required and fields["customer"].type == "string"
    assert fields["amount"].type == "long" and fields["amount"].default == 1000
    assert fields["priority"].type == "enum" and [v for v, _ in fields["priority"].values] == [
        "standard",
        "express",
    ]
    assert model.elements["Task_ApproveCredit"].properties["sla"] == "PT8H"
    assert model.elements["Task_AssessRisk"].lane == "Finance"


def test_spiff_dialect_reads_properties_json_schema_form_and_pool() -> None:
    report = bpmn.validate_files([DATA / "spiff_purchase.bpmn", DATA / "purchase-form.json"])
    assert report.ok, report.problems
    model = report.processes[0].model
    assert model.dialect == "spiff"
    assert model.pool == "Purchasing Co"
    assert model.properties == {"sla": "P2D"}
    request = model.elements["request"]
    assert request.properties["sla"] == "PT4H"
    fields = {f.id: f for f in request.form}
    assert fields["item"].required and fields["item"].type == "string"
    assert fields["quantity"].type == "long" and fields["quantity"].default == 1
    assert fields["urgency"].type == "enum" and fields["needed_by"].type == "date"
    assert model.elements["approve"].lane == "Management"


def test_lint_warnings_name_file_and_line() -> None:
    path = DATA / "lint_findings.bpmn"
    report = bpmn.validate_files([path])
    assert report.ok  # warnings do not fail
    assert problems(path) == [
        f"{path}:5: warning: lane 'Lane_unnamed' has no name",
        f"{path}:13: warning: userTask 'Outside any lane' is outside any lane: no department owns it",
        f"{path}:13: warning: userTask 'Outside any lane' is unreachable from any start event",
    ]


def test_tasks_of_a_pool_without_lanes_belong_to_the_pool_and_are_not_warned_about() -> None:
    report = bpmn.validate_files([DATA / "pool_without_lanes.bpmn"])
    assert report.ok and report.problems == ()
    model = report.processes[0].model
    assert {model.elements[t].lane for t in ("check", "pay")} == {"Accounts payable"}
    # Without a pool name nothing stands for a lane: the warning stays (no_lanes.bpmn has no pool).
    assert [
        str(p).split(": warning: ")[1] for p in bpmn.validate_files([DATA / "no_lanes.bpmn"]).problems
    ] == [
        "userTask 'First' is outside any lane: no department owns it",
        "userTask 'Second' is outside any lane: no department owns it",
    ]


def test_refused_constructs_are_named() -> None:
    path = DATA / "refused_constructs.bpmn"
    report = bpmn.validate_files([path])
    assert not report.ok
    errors = [str(p) for p in report.errors]
    assert errors == [
        f"{path}:5: complexGateway 'Pick some': complex gateways are not supported",
        f"{path}:7: intermediateThrowEvent 'Go to B': link events are not supported (SpiffWorkflow cannot run them)",
        f"{path}:9: serviceTask 'Undo payment': compensation handlers are not supported",
    ]


def test_malformed_xml_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.bpmn"
    path.write_text('<?xml version="1.0"?>\n<definitions>\n  <process id="p">\n</definitions>\n')
    (problem,) = bpmn.validate_files([path]).problems
    assert problem.file == str(path) and problem.line == 4
    assert "malformed XML" in problem.message


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    ],
    ids=["external-entity", "entity-expansion"],
)
def test_entities_are_refused(tmp_path: Path, doctype: str) -> None:
    path = tmp_path / "evil.bpmn"
    path.write_text(
        f'<?xml version="1.0"?>\n{doctype}\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        '<bpmn:process id="p" name="&xxe;"/></bpmn:definitions>\n'.replace(
            "&xxe;", "&xxe;" if "xxe" in doctype else "&b;"
        )
    )
    report = bpmn.validate_files([path])
    assert not report.ok
    text = str(report.errors[0])
    assert text.startswith(str(path)) and ("DOCTYPE" in text or "entity" in text.lower())
    assert "root:" not in text  # nothing of /etc/passwd leaks into the message


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.bpmn"
    path.write_bytes(b"<a>" + b" " * (bpmn.xml.MAX_FILE_BYTES + 1) + b"</a>")
    (problem,) = bpmn.validate_files([path]).problems
    assert "more than the limit" in problem.message


def test_dangling_sequence_flow_names_the_flow(tmp_path: Path) -> None:
    path = tmp_path / "dangling.bpmn"
    path.write_text(
        '<?xml version="1.0"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">\n'
        '  <bpmn:process id="p" isExecutable="true">\n'
        '    <bpmn:startEvent id="s"/>\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="nowhere"/>\n'
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )
    assert problems(path) == [
        f"{path}:5: sequenceFlow 'f1' targetRef 'nowhere' is not an element of its process"
    ]


def test_idless_flows_get_ids_so_the_process_runs_as_drawn(tmp_path: Path) -> None:
    path = tmp_path / "idless.bpmn"
    path.write_text(
        '<?xml version="1.0"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">\n'
        '  <bpmn:process id="p" isExecutable="true">\n'
        '    <bpmn:startEvent id="s"/><bpmn:userTask id="t" name="Do it"/><bpmn:endEvent id="e"/>\n'
        '    <bpmn:sequenceFlow sourceRef="s" targetRef="t"/><bpmn:sequenceFlow sourceRef="t" targetRef="e"/>\n'
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )
    report = bpmn.validate_files([path])
    assert report.ok
    spec = report.processes[0].spec["spec"]["task_specs"]
    assert spec["t"]["outputs"] == ["e"]  # the flow into the end event survived


def test_unknown_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (problem,) = bpmn.validate_files([tmp_path / "missing.bpmn"]).problems
    assert problem.file.endswith("missing.bpmn") and "cannot read" in problem.message
