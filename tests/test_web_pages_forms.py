"""Task forms on the pages: what bpmn/ reads of Camunda and SpiffArena forms (uiSchema basics, help, limits),
what the engine checks, how web/forms.py draws fields and reads a browser's post, and how instructions
are rendered. No server here: the page and browser tests drive the same code over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import html as lxml_html

import bpmn
from conftest import DATA
from engine import InvalidInput
from engine.forms import check, fields_from_json
from web import forms
from web.pages.common import env
from web.pages.instructions import documentation_html, instructions_html

SPIFF = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="leave" name="Leave request" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="ask" name="Ask for leave">
      <bpmn:documentation>Plain documentation.</bpmn:documentation>
      <bpmn:extensionElements>
        <spiffworkflow:instructionsForEndUser>Hello **{{ who }}**, see [the policy](https://example.org/p).</spiffworkflow:instructionsForEndUser>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="leave-schema.json" />
          <spiffworkflow:property name="formUiSchemaFilename" value="leave-uischema.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
SCHEMA = {
    "type": "object",
    "required": ["days", "reason"],
    "properties": {
        "reason": {
            "type": "string",
            "title": "Reason",
            "description": "Why you need the days",
            "maxLength": 200,
        },
        "days": {"type": "integer", "title": "Days", "minimum": 1, "maximum": 30},
        "kind": {"type": "string", "title": "Kind", "enum": ["holiday", "unpaid"], "default": "holiday"},
        "half_day": {"type": "boolean", "title": "Half day"},
        "code": {"type": "string", "title": "Code", "default": "L1"},
    },
}
UI = {
    "ui:order": ["days", "*", "code"],
    "reason": {"ui:widget": "textarea", "ui:help": "Say it briefly", "ui:placeholder": "e.g. moving house"},
    "kind": {"ui:widget": "radio", "ui:title": "Type of leave"},
    "code": {"ui:readonly": True},
    "half_day": {"ui:widget": "<script>"},
}


@pytest.fixture
def leave(tmp_path: Path) -> bpmn.ProcessModel:
    (tmp_path / "leave.bpmn").write_text(SPIFF)
    (tmp_path / "leave-schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "leave-uischema.json").write_text(json.dumps(UI))
    report = bpmn.validate_files(sorted(tmp_path.iterdir()))
    assert report.ok, report.problems
    return report.processes[0].model


def test_spiffarena_schema_and_uischema_basics(leave: bpmn.ProcessModel) -> None:
    ask = leave.elements["ask"]
    form = {f.id: f for f in ask.form}
    assert [f.id for f in ask.form] == ["days", "reason", "kind", "half_day", "code"]  # ui:order with *
    assert form["reason"].widget == "textarea" and form["reason"].help == "Say it briefly"
    assert form["reason"].placeholder == "e.g. moving house"
    assert form["reason"].constraints == {"maxlength": 200}
    assert form["days"].constraints == {"min": 1, "max": 30} and form["days"].type == "long"
    assert form["kind"].label == "Type of leave" and form["kind"].widget == "radio"
    assert form["code"].readonly and form["half_day"].widget is None  # an unknown widget is not kept
    assert ask.instructions is not None and ask.instructions.startswith("Hello **{{ who }}**")
    assert ask.documentation == "Plain documentation."
    again = bpmn.ProcessModel.from_json(json.loads(json.dumps(leave.to_json())))
    assert again.elements["ask"] == ask, "what is stored reads back the same"


def test_camunda_limits_and_start_forms() -> None:
    model = bpmn.validate_files([DATA / "web_pages_claim.bpmn"]).processes[0].model
    amount = next(f for f in model.elements["check"].form if f.id == "amount")
    assert amount.required and amount.constraints == {"min": 1, "max": 10000}
    assert [f.id for f in model.elements["start"].form] == ["customer", "rate"]


def test_the_engine_checks_limits_and_names_the_field(leave: bpmn.ProcessModel) -> None:
    form = leave.elements["ask"].form
    with pytest.raises(InvalidInput) as caught:
        check(form, {"days": "31", "reason": "x"}, "task 1 (Ask for leave)")
    assert caught.value.fields == ("days",) and "must be at most 30, got 31" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        check(form, {"days": "2", "reason": "x" * 201}, "task 1")
    assert caught.value.fields == ("reason",) and "at most 200 characters" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        check(form, {"days": "2"}, "task 1")
    assert caught.value.fields == ("reason",)
    with pytest.raises(InvalidInput) as caught:
        check(form, {"days": "2", "reason": "x", "dayz": 1}, "task 1")
    assert caught.value.fields == ("dayz",)
    assert check(form, {"days": "2", "reason": "x"}, "task 1")["days"] == 2


def test_fields_drawn_and_posts_read(leave: bpmn.ProcessModel) -> None:
    form = [f.to_json() for f in leave.elements["ask"].form]
    drawn = {f.id: f for f in forms.fields(form, {"days": 3, "half_day": True})}
    assert drawn["days"].control == "text" and drawn["days"].inputmode == "numeric"
    assert drawn["days"].value == "3" and drawn["days"].attrs == (("min", "1"), ("max", "30"))
    assert drawn["reason"].control == "textarea" and drawn["reason"].attrs == (("maxlength", "200"),)
    assert drawn["kind"].control == "radio" and [o.value for o in drawn["kind"].options if o.selected] == [
        "holiday"
    ]
    assert drawn["half_day"].control == "checkbox" and drawn["half_day"].checked
    assert drawn["code"].readonly and drawn["code"].value == "L1"
    posted = {"f-days": "4", "f-reason": "move", "f-kind": "unpaid", "f-code": "HACK", "csrf_token": "t"}
    data = forms.submitted(form, posted)
    assert data == {"days": "4", "reason": "move", "kind": "unpaid", "half_day": "false"}
    errors = forms.field_errors(form, {"days": "0", "reason": ""}, "task 1")
    assert errors == {"days": "must be at least 1, got 0", "reason": "required: please fill this in"}
    with pytest.raises(InvalidInput) as caught:
        check(fields_from_json(form), {"days": "x", "reason": "r"}, "task 1 (Ask)")
    assert forms.errors_of(caught.value, form) == ({"days": "must be a whole number, got 'x'"}, None)


def test_field_markup_escapes_labels_and_values() -> None:
    form = [
        {"id": "note", "label": "<script>alert(1)</script>", "type": "string", "help": "<b>help</b>"},
        {"id": "pick", "label": "Pick", "type": "enum", "values": [{"id": 'a"b', "name": "<i>A</i>"}]},
    ]
    fields = forms.fields(form, {"note": '"><img src=x onerror=alert(1)>'}, {"note": "<u>bad</u>"})
    macro = env.from_string(
        '{% from "macros.html" import field %}{% for f in fields %}{{ field(f) }}{% endfor %}'
    )
    page = macro.render(fields=fields)
    tree = lxml_html.fromstring(f"<div>{page}</div>")
    assert not tree.xpath("//script | //img | //b | //i | //u")
    assert tree.xpath("//label[@for='f-note']")[0].text_content().strip() == "<script>alert(1)</script>"
    assert tree.xpath("//input[@name='f-note']/@value") == ['"><img src=x onerror=alert(1)>']
    assert tree.xpath("//p[@class='error']")[0].text_content() == "<u>bad</u>"
    assert tree.xpath("//option[@value='a\"b']")[0].text_content() == "<i>A</i>"


def test_instructions_are_markdown_without_markup_or_code() -> None:
    rendered = str(
        instructions_html(
            "## Hi {{ who }}\n\n<script>alert(1)</script> [x](javascript:alert(1)) {{ missing }} {{ a.b }}",
            {"who": "<img src=x onerror=alert(1)>", "a": {"b": 7}},
        )
    )
    tree = lxml_html.fromstring(f"<div>{rendered}</div>")
    assert tree.xpath("//h2")[0].text_content() == "Hi <img src=x onerror=alert(1)>"
    assert not tree.xpath("//script | //img | //a[starts-with(@href, 'javascript')]")
    assert "{{ missing }}" in tree.text_content() and "7" in tree.text_content()
    assert str(instructions_html("{% for i in range(10**9) %}x{% endfor %}", {})).count("x") == 1
    docs = str(documentation_html("one <b>\n\ntwo"))
    assert docs == "<p>one &lt;b&gt;</p><p>two</p>"
