"""The gdr verbs from Python: check, verify, fuzz and replay run the compiled harness (the
same code as the `gdr` tool) over the built-in subjects plus Python ones, with its rules,
reports, files and exit codes. Each returns a Result with the records it wrote."""

import dataclasses
import json
import os
import pathlib
import sys
import tempfile

from . import _core, _subjects

PROGRAM = "python -m gdr_verify"


@dataclasses.dataclass
class Result:
    """exit_code: the gate's (0 passed, 1 a failure, 2 bad usage); records: one dict per case
    (the --jsonl records); summary: the --json summary (None where the verb wrote none)."""
    exit_code: int
    records: list
    summary: dict | None

    @property
    def passed(self):
        return self.exit_code == 0

    def outcomes(self):
        """{outcome: count} over the cases, e.g. {'PASSED': 14}: check's, verify's and replay's
        case records, or a campaign's progress records ([case, outcome, ...] each)."""
        counts = {}
        for record in self.records:
            if record.get("record") == "progress":
                outcomes = [case[1] for case in record.get("cases", [])]
            elif "outcome" in record and record.get("record") is None:
                outcomes = [record["outcome"]]
            else:
                continue  # a campaign's start, progress and summary records
            for outcome in outcomes:
                counts[outcome] = counts.get(outcome, 0) + 1
        return counts


def run(args, subjects=()):
    """Runs `gdr <args>` with these Python subjects registered; returns the exit code. Output
    goes to this process's stdout and stderr as the tool prints it."""
    declarations = [subject.declaration() for subject in subjects]
    sys.stdout.flush()
    sys.stderr.flush()
    return _core.run_cli([str(arg) for arg in args], declarations, PROGRAM)


def _option_args(options):
    """Keyword options as the verbs' flags: seconds=5 -> --seconds 5, strict=True -> --strict,
    determinism=False -> --no-determinism, devices=[0, 1] -> --devices 0,1."""
    args = []
    for key, value in options.items():
        if value is None or value is False and key != "determinism":
            continue
        if key == "determinism":
            if not value:
                args.append("--no-determinism")
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args


def _run_with_records(verb_args, subjects, options):
    with tempfile.TemporaryDirectory(prefix="gdr_verify-") as scratch:
        jsonl = pathlib.Path(scratch, "cases.jsonl")
        summary = pathlib.Path(scratch, "summary.json")
        args = verb_args + _option_args(options)
        if "--jsonl" not in args:
            args += ["--jsonl", jsonl]
        if "--json" not in args:
            args += ["--json", summary]
        code = run(args, subjects)
        records = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()] if jsonl.exists() else []
        return Result(code, records, json.loads(summary.read_text()) if summary.exists() else None)


def _subject_args(subject):
    """(--subject args, Python subjects to register) for a Subject, a callable or a built-in name."""
    if isinstance(subject, str):
        if subject in _subjects.builtin_names():
            return ["--subject", subject], []
        resolved = _subjects.resolve(subject)
    else:
        resolved = _subjects.as_subject(subject)
    return ["--subject", resolved.name], [resolved]


def check(subject, case, **options):
    """Checks one case (the case-spec text, e.g. 'B=2 T=1 H=1 HV=2 K=16 V=8') against a
    subject (a Subject, a callable, a built-in name). Options are check's flags, e.g.
    strict=True, math='fast', tolerances=path, determinism=False, dump_dir=path."""
    args, subjects = _subject_args(subject)
    return _run_with_records(["check"] + args + ["--case", case], subjects, options)


def verify(subject, **options):
    """The default cases (every layout, dtype, grouping, circular and special-value case)."""
    args, subjects = _subject_args(subject)
    return _run_with_records(["verify"] + args, subjects, options)


def fuzz(subject, **options):
    """A campaign: seconds=, cases=, seed=, out= (replay files, campaign.jsonl), workers=,
    devices=, work_budget=, stop_at_first_failure=, no_shrink=, resume=, shape_palette=,
    palette_features= (for JIT-compiled subjects), key_dims=, value_dims=."""
    args, subjects = _subject_args(subject)
    return _run_with_records(["fuzz"] + args, subjects, options)


def replay(subject, paths, **options):
    """Reruns replay files; subject=None runs each file's own subject (imported when it is a
    'module:function' reference)."""
    paths = [os.fspath(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    if subject is None:
        subjects = [_subjects.resolve(name) for name in sorted(_replay_subjects(paths))]
        return _run_with_records(["replay"] + paths, subjects, options)
    args, subjects = _subject_args(subject)
    return _run_with_records(["replay"] + paths + args, subjects, options)


def _replay_subjects(paths):
    """The Python subjects (not built in) the replay files name."""
    builtin = _subjects.builtin_names()
    names = set()
    for path in paths:
        try:
            name = json.loads(pathlib.Path(path).read_text()).get("subject")
        except (OSError, ValueError, AttributeError):
            continue  # the harness reports the unreadable file itself
        if isinstance(name, str) and name not in builtin and ":" in name:
            names.add(name)
    return names


def main(argv=None):
    """python -m gdr_verify VERB ...: the gdr tool's verbs, where --subject may also name a
    Python subject as 'module:function' (imported; the current directory is on the path)."""
    args = list(sys.argv[1:] if argv is None else argv)
    builtin = _subjects.builtin_names()
    names = set()
    for i, arg in enumerate(args):
        if arg == "--subject" and i + 1 < len(args):
            names.add(args[i + 1])
        elif arg.startswith("--subject="):
            names.add(arg.split("=", 1)[1])
    if args and args[0] == "replay" and not names:
        names = _replay_subjects([a for a in args[1:] if not a.startswith("-")])
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        subjects = [_subjects.resolve(name) for name in sorted(names) if name not in builtin and ":" in name]
    except ValueError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 2
    return run(args, subjects)
