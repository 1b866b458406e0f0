"""Broken models caught at validate and deploy (issue 16 item 1): every script, condition, timer and DMN
entry is compiled as it will run, and a problem is `file:line: message` naming its element; Camunda DMN's
FEEL unary tests are translated and decide as Camunda would; a run-time failure names its element."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import DATA
from engine import DefinitionInvalid, Handoff, ScriptFailed

BROKEN = DATA / "broken"


def validate(*paths: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *map(str, paths)])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("name", "line", "says"),
    [
        ("script_syntax.bpmn", 6, "scriptTask 'Compute total' (script): SyntaxError: invalid syntax"),
        (
            "condition_syntax.bpmn",
            6,
            "exclusiveGateway 'Large order?' (the condition of its flow to 'approve'): SyntaxError",
        ),
        (
            "timer_timedelta.bpmn",
            6,
            "intermediateCatchEvent 'Cool off' (timer duration): timedelta(...) does not give an ISO 8601 text",
        ),
        ("timer_literal.bpmn", 6, "'P1X' is not a valid ISO 8601 duration"),
    ],
)
def test_each_broken_construct_is_refused_at_validate_with_its_line(name: str, line: int, says: str) -> None:
    code, err = validate(BROKEN / name)
    assert code == 3, err
    [problem] = [e for e in err.splitlines() if "warning" not in e]
    assert problem.startswith(f"{BROKEN / name}:{line}: ") and says in problem, problem


def test_a_refused_construct_and_an_import_say_the_sandbox_words(tmp_path: Path) -> None:
    source = (BROKEN / "script_syntax.bpmn").read_text()
    for script, says in [("import os", "import statements are not allowed"), ("x = y._z", '"_z"')]:
        path = tmp_path / "p.bpmn"
        path.write_text(source.replace("x = = 1", script))
        code, err = validate(path)
        assert code == 3 and f"{path}:6: scriptTask 'Compute total' (script): " in err and says in err, err


def test_deploy_refuses_a_broken_model_and_stores_nothing(app: Handoff) -> None:
    with pytest.raises(DefinitionInvalid) as raised:
        app.deploy([BROKEN / "timer_timedelta.bpmn"], actor="root")
    assert "timer_timedelta.bpmn:6: intermediateCatchEvent 'Cool off'" in str(raised.value)
    assert app.processes(actor="root") == []


def test_a_trusted_deploy_compiles_as_full_python(app: Handoff, tmp_path: Path) -> None:
    path = tmp_path / "trusted.bpmn"
    path.write_text((BROKEN / "script_syntax.bpmn").read_text().replace("x = = 1", "import math\nx = 1"))
    with pytest.raises(DefinitionInvalid, match="import statements are not allowed"):
        app.deploy([path], actor="root")
    [deployed] = app.deploy([path], actor="root", trusted_scripts=True)
    assert deployed.version == 1
    with pytest.raises(DefinitionInvalid, match="SyntaxError"):
        app.deploy([BROKEN / "script_syntax.bpmn"], actor="root", trusted_scripts=True)


def test_feel_tests_decide_as_camunda_would(app: Handoff) -> None:
    app.deploy([BROKEN / "feel_pricing.bpmn", BROKEN / "feel_band.dmn"], actor="root")
    cases = [
        ("EU", 50, "small"),  # "EU","US" and [0..100)
        ("US", 100, "mid"),  # [0..100) excludes 100; [100..500] includes it
        ("EU", 500, "mid"),
        ("EU", 700, "large"),  # > 500
        ("APAC", 50, "other"),  # not in the list of rule 2
        ("MARS", 1, "blocked"),  # not("EU","US","APAC")
    ]
    for region, amount, band in cases:
        view = app.start("feel_pricing", data={"region": region, "amount": amount}, actor="root")
        assert view.status == "completed" and view.data["band"] == band, (region, amount, view.data)


def test_an_untranslated_feel_test_is_refused_by_name() -> None:
    code, err = validate(BROKEN / "feel_pricing.bpmn", BROKEN / "feel_unknown.dmn")
    assert code == 3
    assert f"{BROKEN / 'feel_unknown.dmn'}:24: DMN input entry 'r2_a'" in err
    assert "FEEL's date and time() function is not translated" in err


def test_a_timer_that_fails_at_run_time_names_its_element(app: Handoff) -> None:
    app.deploy([BROKEN / "timer_from_data.bpmn"], actor="root")
    with pytest.raises(ScriptFailed) as raised:
        app.start("data_timer", data={"wait": 42}, actor="root")
    assert "Cool off (pause)" in str(raised.value)
    assert raised.value.instance_id is not None
    shown = app.show(raised.value.instance_id, actor="root").to_json()
    assert shown["error"]["task"] == "pause" and shown["error"]["task_name"] == "Cool off", shown["error"]


def test_the_sandbox_escapes_that_do_not_compile_are_refused_at_validate() -> None:
    """What RestrictedPython refuses when it compiles is refused at deploy, each with its line; the
    attempts that compile (getattr with a computed name, open(), a huge division...) are stopped when
    they run (tests/test_sandbox.py, deployed as versions from before this check were)."""
    escapes = DATA / "sandbox_escapes.bpmn"
    code, err = validate(escapes)
    assert code == 3
    found = {int(line.split(":")[1]): line for line in err.splitlines() if line.startswith(str(escapes))}
    assert sorted(found) == [34, 43, 53, 84, 113, 122], err
    assert (
        "scriptTask 'Call __import__' (script): " in found[43] and '"__import__" is an invalid' in found[43]
    )
    assert "import statements are not allowed in the script sandbox" in found[53]
    assert "Exec calls are not allowed" in found[113] and "Eval calls are not allowed" in found[122]


def test_code_too_deep_to_compile_is_one_short_line(tmp_path: Path) -> None:
    source = (BROKEN / "script_syntax.bpmn").read_text()
    for script in ["x = " + "(" * 3000 + "1" + ")" * 3000, "x = " + "-" * 100_000 + "1"]:
        path = tmp_path / "deep.bpmn"
        path.write_text(source.replace("x = = 1", script))
        code, err = validate(path)
        assert code == 3 and len(err.splitlines()) == 1 and len(err) < 700, err[:1000]
        assert f"{path}:6: scriptTask 'Compute total' (script): " in err
