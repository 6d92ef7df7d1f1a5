"""The harness from Python on the CPU: Python callables as subjects judged by the gdr rules,
with the same reports and exit codes as the gdr tool, a deliberately wrong one INCORRECT, and
the command line (python -m gdr_verify) finding 'module:function' subjects."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

import gdr_verify
import sample_subjects

HERE = pathlib.Path(__file__).resolve().parent
CASE = "B=2 T=2 H=1 HV=2 K=16 V=8 layout=vk in=f32 gate=f32 state=f32 seed=11"
CIRCULAR_CASE = "B=2 T=2 H=1 HV=2 K=16 V=8 layout=kv in=f32 gate=f32 state=f32 slots=3 circular=1 seed=3"
TIMING_KEYS = {"seconds", "subject_seconds", "stages", "peak_rss_bytes", "started", "finished", "duration_seconds"}


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING_KEYS and "seconds" not in k}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def run_module(*args, cwd=HERE):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "gdr_verify", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_a_correct_callable_passes_check_and_verify():
    result = gdr_verify.check(sample_subjects.cpu_decode, CASE)
    assert result.exit_code == 0 and result.passed
    assert [r["outcome"] for r in result.records] == ["PASSED"]
    assert result.records[0]["subject"] == "sample_subjects:cpu_decode"
    verified = gdr_verify.verify(sample_subjects.cpu_decode)
    assert verified.exit_code == 0, verified.outcomes()
    assert len(verified.records) >= 10 and set(verified.outcomes()) <= {"PASSED", "NOT_RUN"}


def test_returning_o_instead_of_writing_it_is_accepted():
    assert gdr_verify.check(sample_subjects.returns_o, CASE).passed


def test_a_wrong_callable_is_incorrect_with_a_reproduce_line_for_this_package():
    result = gdr_verify.check(sample_subjects.zero_output, CASE)
    assert result.exit_code == 1
    (record,) = result.records
    assert record["outcome"] == "INCORRECT"
    failed = [c for c in record["checks"] if c["outcome"] == "INCORRECT"]
    assert failed and any("o" in c["name"] for c in failed)
    assert record["reproduce"].startswith(
        "python -m gdr_verify check --subject sample_subjects:zero_output --case 'B=2 T=2")


def test_the_function_and_the_command_line_write_the_same_report(tmp_path):
    from_function = gdr_verify.check(sample_subjects.zero_output, CASE)
    jsonl = tmp_path / "cases.jsonl"
    process = run_module("check", "--subject", "sample_subjects:zero_output", "--case", CASE, "--jsonl", str(jsonl))
    assert process.returncode == 1, process.stderr
    (from_command,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert without_timing(from_command) == without_timing(from_function.records[0])
    assert "INCORRECT" in process.stdout


def test_a_built_in_subject_reports_as_the_gdr_tool_does(tmp_path):
    tool = os.environ.get("GDR_TOOL")
    if not tool:
        pytest.skip("GDR_TOOL (the gdr binary) is not set: run through ctest")
    jsonl = tmp_path / "tool.jsonl"
    completed = subprocess.run([tool, "check", "--subject", "cpu-emulated-reversed", "--case", CASE, "--jsonl", str(jsonl)],
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout
    from_tool = json.loads(jsonl.read_text())
    from_package = gdr_verify.check("cpu-emulated-reversed", CASE).records[0]
    # The reproduce line names the program that wrote it; the rest is the same.
    assert from_tool["reproduce"].startswith("gdr check --subject cpu-emulated-reversed")
    assert from_package["reproduce"] == "python -m gdr_verify" + from_tool["reproduce"][len("gdr"):]
    assert without_timing(from_tool) | {"reproduce": None} == without_timing(from_package) | {"reproduce": None}


def test_declared_limitations_make_not_supported_expected_and_strict_gates_the_undeclared():
    declared = gdr_verify.check(sample_subjects.no_circular_declared, CIRCULAR_CASE, strict=True)
    assert declared.exit_code == 0
    assert declared.records[0]["outcome"] == "NOT_SUPPORTED"
    assert declared.records[0]["declared_limitation"] == "no-circular"
    undeclared = gdr_verify.check(sample_subjects.no_circular_undeclared, CIRCULAR_CASE, strict=True)
    assert undeclared.exit_code == 1 and undeclared.records[0]["outcome"] == "NOT_SUPPORTED"
    lenient = gdr_verify.check(sample_subjects.no_circular_undeclared, CIRCULAR_CASE)
    assert lenient.exit_code == 0


def test_an_exception_in_the_callable_is_failed_with_its_text():
    result = gdr_verify.check(sample_subjects.raises_type_error, CASE)
    assert result.exit_code == 1
    record = result.records[0]
    assert record["outcome"] == "FAILED"
    assert "TypeError: this kernel has a bug in its argument handling" in json.dumps(record)


def test_fuzz_finds_the_wrong_callable_and_its_replay_file_reproduces_it(tmp_path):
    good = gdr_verify.fuzz(sample_subjects.cpu_decode, seconds=2, seed=5)
    assert good.exit_code == 0 and good.records and set(good.outcomes()) == {"PASSED"}
    out = tmp_path / "campaign"
    bad = gdr_verify.fuzz(sample_subjects.zero_output, seconds=30, seed=5, out=out, stop_at_first_failure=True,
                          max_shrink_seconds=5)
    assert bad.exit_code == 1
    replays = sorted(p for p in out.glob("*.json") if json.loads(p.read_text()).get("format", "").startswith("gdr-replay/"))
    assert replays, sorted(p.name for p in out.iterdir())
    assert json.loads(replays[0].read_text())["subject"] == "sample_subjects:zero_output"
    replayed = gdr_verify.replay(None, replays[0])  # the file's own subject, imported
    assert replayed.exit_code == 1 and replayed.records[0]["outcome"] == "INCORRECT"
    process = run_module("replay", str(replays[0]))
    assert process.returncode == 1, process.stdout + process.stderr


def test_the_command_line_refuses_what_it_cannot_import():
    process = run_module("check", "--subject", "no_such_module:kernel", "--case", CASE)
    assert process.returncode == 2
    assert "cannot import 'no_such_module'" in process.stderr
    assert run_module("check", "--subject", "sample_subjects:missing", "--case", CASE).returncode == 2


def test_subject_declarations_are_checked():
    with pytest.raises(ValueError, match="^device"):
        gdr_verify.Subject(sample_subjects.raises_type_error, device="tpu")
    with pytest.raises(ValueError, match="^math_mode"):
        gdr_verify.Subject(sample_subjects.raises_type_error, math_mode="sloppy")
    with pytest.raises(ValueError, match="^framework"):
        gdr_verify.Subject(sample_subjects.raises_type_error, device="cuda", framework="numpy")
    with pytest.raises(ValueError, match="^subject"):
        gdr_verify.check(sample_subjects.cpu_decode.renamed("cpu-emulated-reversed"), CASE)
