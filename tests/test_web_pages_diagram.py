"""An instance's path on its diagram (engine/diagrams.py), as the instance and task pages draw it: the
activities its history completed, the gateways and events between them, the flows taken, where it waits."""

from __future__ import annotations

from bpmn.diagram import parse_diagram
from conftest import DATA, EXAMPLE
from engine.diagrams import instance_path

ORDER = parse_diagram(EXAMPLE.read_bytes())
CLAIM = parse_diagram((DATA / "web_pages_claim.bpmn").read_bytes())


def test_a_path_through_a_split_marks_what_was_passed_and_where_it_waits() -> None:
    assert ORDER is not None
    marks = instance_path(
        ORDER,
        completed=["Task_RegisterOrder", "Task_AssessRisk", "Task_ApproveCredit"],
        waiting=["Task_PickAndPack", "Task_IssueInvoice"],
    )
    assert marks.done == {
        "StartEvent_OrderReceived",
        "Task_RegisterOrder",
        "Task_AssessRisk",
        "Task_ApproveCredit",
        "Gateway_CreditApproved",
        "Gateway_SplitFulfilment",
    }
    assert marks.waiting == {"Task_PickAndPack", "Task_IssueInvoice"}
    assert "Flow_CreditGranted" in marks.flows and "Flow_ToPickAndPack" in marks.flows
    assert "Flow_CreditRefused" not in marks.flows, "the branch not taken"
    assert "Gateway_JoinFulfilment" not in marks.done and "EndEvent_OrderClosed" not in marks.done
    assert "Flow_InvoiceToJoin" not in marks.flows, "work waiting there has not moved on"


def test_a_finished_path_reaches_its_end_and_a_failure_is_its_own() -> None:
    assert CLAIM is not None
    finished = instance_path(CLAIM, completed=["check", "compute", "pay"], waiting=[], finished=True)
    assert finished.done == {"start", "check", "approved_gw", "compute", "pay", "done"}
    assert finished.flows == {"f1", "f2", "f3", "f5", "f6"}
    failed = instance_path(CLAIM, completed=["check"], waiting=[], failed=["compute"])
    assert failed.failed == {"compute"} and "compute" not in failed.done
    assert failed.done == {"start", "check", "approved_gw"} and failed.flows == {"f1", "f2", "f3"}
    rejected = instance_path(CLAIM, completed=["check"], waiting=[], finished=True)
    assert "rejected" in rejected.done and "done" not in rejected.done and "f4" in rejected.flows
