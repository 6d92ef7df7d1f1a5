"""A test file whose every test skipped (the CUDA tests without a device) exits 77, which
ctest shows as skipped, never as passed."""

import pytest

_ran = {"run": 0, "skipped": 0}


def pytest_collectreport(report):
    if report.skipped:  # a module skipped as a whole (pytest.skip(allow_module_level=True))
        _ran["skipped"] += 1


def pytest_runtest_logreport(report):
    if report.skipped:
        _ran["skipped"] += 1
    elif report.when == "call":
        _ran["run"] += 1


def pytest_sessionfinish(session, exitstatus):
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) and _ran["run"] == 0 and _ran["skipped"]:
        session.exitstatus = 77
