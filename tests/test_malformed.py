"""A corpus of malformed scenario files and command lines: every one is refused with exit code 2,
a message naming the problem, no traceback, and nothing written or lost.

Each file is given to ``coprod validate`` and to ``coprod sweep --out`` (in process, through
Typer's runner: fast); each command line is run the same way. After each case the folder is
exactly as before: no output folder, no empty ``runs/``, no file changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coprod_sim.cli.app import build

APP = build()

OK_HEAD = 'name = "t"\nsteps = 2\n[parameters]\npopulation.n_citizens = 100\n'
GRID = '[sweep]\ndesign = "grid"\n"administration.staff_incentives" = [0.1, 0.6]\n'
UNIVERSAL = '[policies.universal]\n"policy.outreach" = "universal"\n'


def deep(open_: str, close: str, n: int) -> str:
    return "a = " + open_ * n + close * n + "\n"


# (case id, file text or bytes, fragment of the message)
FILES: list[tuple[str, str | bytes, str]] = [
    # the file itself
    ("empty", "", "is empty"),
    ("comment-only", "# only a comment\n\n", "is empty"),
    ("not-utf8", b"name = \"\xff\xfe\"\n", "is not UTF-8"),
    ("nul-byte", 'name = "a"\n\x00\n', "NUL byte"),
    ("too-large", "# " + "x" * (1 << 20) + "\n", "larger than 1024 KiB"),
    ("deep-arrays", deep("[", "]", 3000), "nested too deeply"),
    ("deep-arrays-20", deep("[", "]", 20), "nested too deeply"),
    ("deep-inline-tables", "a = " + "{b = " * 30 + "1" + "}" * 30 + "\n", "nested too deeply"),
    ("deep-dotted-key", "a" + ".b" * 40 + " = 1\n", "nested too deeply"),
    ("deep-table-header", "[" + ".".join(["t"] * 40) + "]\nx = 1\n", "nested too deeply"),
    ("toml-no-value", "name = \n", "not valid TOML"),
    ("toml-bad-string", 'name = "open\n', "not valid TOML"),
    ("toml-bare-word", "name = hello\n", "not valid TOML"),
    ("toml-duplicate-key", 'name = "a"\nname = "b"\n', "given twice"),
    ("toml-duplicate-table", OK_HEAD + "[parameters]\n", "given twice"),
    ("toml-unclosed-table", "[parameters\n", "not valid TOML"),
    # top level
    ("unknown-top-level", 'nmae = "x"\n', "unknown top-level key 'nmae'"),
    ("name-number", "name = 3\n", "must be a non-empty string"),
    ("name-empty", 'name = ""\n', "must be a non-empty string"),
    ("name-blank", 'name = "   "\n', "must be a non-empty string"),
    ("description-number", 'name = "a"\ndescription = 1\n', "must be a string"),
    ("replications-zero", 'name = "a"\nreplications = 0\n', "out of bounds"),
    ("replications-negative", 'name = "a"\nreplications = -1\n', "out of bounds"),
    ("replications-huge", 'name = "a"\nreplications = 1000000000\n', "out of bounds"),
    ("replications-beyond-64-bit", 'name = "a"\nreplications = 99999999999999999999999\n',
     "replications"),
    ("replications-text", 'name = "a"\nreplications = "3"\n', "wrong type"),
    ("replications-bool", 'name = "a"\nreplications = true\n', "wrong type"),
    ("replications-float", 'name = "a"\nreplications = 2.5\n', "wrong type"),
    ("replications-date", 'name = "a"\nreplications = 1979-05-27\n', "wrong type"),
    ("steps-zero", 'name = "a"\nsteps = 0\n', "simulation.steps"),
    ("steps-text", 'name = "a"\nsteps = "many"\n', "wrong type"),
    ("steps-huge", 'name = "a"\nsteps = 100000000\n', "simulation.steps"),
    ("seed-negative", 'name = "a"\nseed = -1\n', "simulation.seed"),
    ("seed-huge", 'name = "a"\nseed = 1099511627776\n', "simulation.seed"),
    ("steps-twice", 'name = "a"\nsteps = 3\n[parameters]\nsimulation.steps = 4\n', "disagrees"),
    # base values
    ("unknown-parameter", 'name = "a"\n[parameters]\npolicy.outrech = "universal"\n',
     "Did you mean 'policy.outreach'"),
    ("not-a-parameter", 'name = "a"\n[parameters]\noutreach = "universal"\n', "is not a parameter"),
    ("bad-choice", 'name = "a"\n[parameters]\npolicy.outreach = "everyone"\n', "one of"),
    ("citizens-negative", 'name = "a"\n[parameters]\npopulation.n_citizens = -5\n', "n_citizens"),
    ("citizens-huge", 'name = "a"\n[parameters]\npopulation.n_citizens = 1e12\n', "n_citizens"),
    ("citizens-text", 'name = "a"\n[parameters]\npopulation.n_citizens = "many"\n', "wrong type"),
    ("citizens-list", 'name = "a"\n[parameters]\npopulation.n_citizens = [1, 2]\n', "wrong type"),
    ("value-nan", 'name = "a"\n[parameters]\nadministration.risk_aversion = nan\n', "not allowed"),
    ("value-inf", 'name = "a"\n[parameters]\nadministration.risk_aversion = inf\n', "not allowed"),
    ("value-above", 'name = "a"\n[parameters]\nadministration.risk_aversion = 1.5\n', "out of bounds"),
    ("value-range-table", 'name = "a"\n[parameters]\npolicy.outreach_rate = { low = 0, high = 1 }\n',
     "wrong type"),
    ("parameters-scalar", 'name = "a"\nparameters = 3\n', "must be a table"),
    ("group-scalar", 'name = "a"\npopulation = 3\n', "is a parameter group"),
    ("group-unknown-key", 'name = "a"\n[population]\ncitizens = 5\n', "population.citizens"),
    ("min-above-max", 'name = "a"\n[parameters]\nadministration.risk_aversion_min = 0.9\n'
     'administration.risk_aversion_max = 0.1\n', "must not exceed"),
    ("threshold-mode", 'name = "a"\n[parameters]\nthreshold.mode = "sideways"\n', "one of"),
    ("custom-key-without-rule", 'name = "a"\n[parameters]\ncrowding.strength = 2\n',
     "Unknown parameter 'crowding.strength'"),
    ("nul-key", 'name = "a"\n[parameters]\n"a\\u0000b.c" = 1\n', "Unknown parameter"),
    ("long-key", 'name = "a"\n[parameters]\n' + "k" * 5000 + ".x = 1\n", "Unknown parameter"),
    # rules: names only, nothing imported
    ("rule-unknown", 'name = "a"\n[rules]\nparticipation = "nope"\n', "no rule of that name"),
    ("rule-zen", 'name = "a"\n[rules]\nparticipation = "this:s"\n', "module 'this' is not loaded"),
    ("rule-exec", 'name = "a"\n[rules]\nparticipation = "builtins:exec"\n', "not registered as a rule"),
    ("rule-eval", 'name = "a"\n[rules]\nparticipation = "builtins:eval"\n', "not registered as a rule"),
    ("rule-subprocess", 'name = "a"\n[rules]\nparticipation = "subprocess:run"\n',
     "Rule 'subprocess:run' for stage 'participation'"),
    ("rule-os-system", 'name = "a"\n[rules]\nparticipation = "os:system"\n', "not registered as a rule"),
    ("rule-evil-module", 'name = "a"\n[rules]\nparticipation = "evil:f"\n', "module 'evil' is not loaded"),
    ("rule-evil-in-policy", 'name = "a"\n[policies.x]\nrules.outcome = "evil:f"\n', "evil"),
    ("rule-evil-swept", 'name = "a"\n[sweep]\n"rules.outcome" = ["evil:f", "evil:g"]\n', "evil"),
    ("rule-number", 'name = "a"\n[rules]\nparticipation = 3\n', "rules.participation"),
    ("rule-wrong-stage", 'name = "a"\n[rules]\nparticipation = "mastery_vicarious"\n',
     "is a rule for stage 'efficacy_feedback'"),
    ("rule-unknown-stage", 'name = "a"\n[rules]\nteleport = "x"\n', "rules.teleport"),
    ("rule-no-module", 'name = "a"\n[rules]\nparticipation = ":f"\n', "package.module:function"),
    ("rule-path", 'name = "a"\n[rules]\nparticipation = "../evil.py:f"\n', "package.module:function"),
    # policies
    ("policies-scalar", 'name = "a"\npolicies = 3\n', "must be tables"),
    ("policies-list-of-numbers", 'name = "a"\npolicies = [1]\n', "needs name"),
    ("policy-empty", 'name = "a"\n[policies.x]\n', "changes nothing"),
    ("policy-not-table", 'name = "a"\n[policies]\nx = 3\n', "must be a table"),
    ("policy-slash", 'name = "a"\n[policies."a/b"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-escape", 'name = "a"\n[policies."x/../../../ESCAPED"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-dotdot", 'name = "a"\n[policies.".."]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-nul", 'name = "a"\n[policies."a\\u0000b"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-space", 'name = "a"\n[policies."a b"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-hidden", 'name = "a"\n[policies.".hidden"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-dash-first", 'name = "a"\n[policies."-rf"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-too-long", f'name = "a"\n[policies.{"p" * 65}]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-newline", 'name = "a"\n[policies."a\\nb"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-unicode", 'name = "a"\n[policies."é"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-backslash", 'name = "a"\n[policies."a\\\\b"]\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-empty-name", 'name = "a"\n[policies.""]\n"policy.outreach" = "universal"\n', "empty name"),
    ("policy-list-slash", 'name = "a"\n[[policies]]\nname = "a/b"\n"policy.outreach" = "universal"\n',
     "not a policy name"),
    ("policy-list-no-name", 'name = "a"\n[[policies]]\n"policy.outreach" = "universal"\n', "needs name"),
    ("policy-description-number", 'name = "a"\n[policies.x]\ndescription = 3\n'
     '"policy.outreach" = "universal"\n', "must be a string"),
    ("policy-duplicate", 'name = "a"\n[policies.x]\n"policy.outreach" = "universal"\n'
     '[policies.y]\n"policy.outreach" = "universal"\n', "duplicate policy"),
    ("policy-sets-seed", 'name = "a"\n[policies.x]\n"simulation.seed" = 3\n', "set once"),
    ("policy-sets-steps", 'name = "a"\n[policies.x]\n"simulation.steps" = 3\n', "set once"),
    ("policy-and-sweep", 'name = "a"\n' + GRID + '[policies.x]\n"administration.staff_incentives" = 0.2\n',
     "either swept or set"),
    ("policy-bad-value", 'name = "a"\n[policies.x]\n"policy.outreach" = ["universal"]\n', "wrong type"),
    ("policy-unknown-key", 'name = "a"\n[policies.x]\n"policy.nothing" = 1\n', "Unknown parameter"),
    # sweeps and designs
    ("sweep-empty", 'name = "a"\n[sweep]\n', "sweeps nothing"),
    ("sweep-scalar", 'name = "a"\nsweep = 3\n', "must be a table"),
    ("sweep-bad-design", 'name = "a"\n[sweep]\ndesign = "magic"\n"policy.outreach_rate" = [0.1, 0.2]\n',
     "is not a design"),
    ("sweep-design-number", 'name = "a"\n[sweep]\ndesign = 3\n"policy.outreach_rate" = [0.1, 0.2]\n',
     "is not a design"),
    ("sweep-misspelt-setting", 'name = "a"\n[sweep]\ndesgin = "grid"\n"policy.outreach_rate" = [0.1, 0.2]\n',
     "is not a sweep setting"),
    ("sweep-single-value", 'name = "a"\n[sweep]\n"policy.outreach_rate" = [0.1]\n', "single value"),
    ("sweep-empty-list", 'name = "a"\n[sweep]\n"policy.outreach_rate" = []\n', "empty list"),
    ("sweep-duplicate-values", 'name = "a"\n[sweep]\n"policy.outreach_rate" = [0.1, 0.1]\n', "twice"),
    ("sweep-scalar-value", 'name = "a"\n[sweep]\n"policy.outreach_rate" = 0.1\n', "several values"),
    ("sweep-bad-values", 'name = "a"\n[sweep]\n"policy.outreach_rate" = [0.1, 7]\n', "out of bounds"),
    ("sweep-mixed-types", 'name = "a"\n[sweep]\n"policy.outreach_rate" = [0.1, "x"]\n', "wrong type"),
    ("range-low-above-high", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.5, high = 0.1,'
     ' num = 3 }\n', "must be below"),
    ("range-no-count", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5 }\n',
     "exactly one of"),
    ("range-both-counts", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5,'
     ' num = 3, step = 0.1 }\n', "exactly one of"),
    ("range-num-one", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5, num = 1 }\n',
     "must be an integer in [2"),
    ("range-num-huge", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5,'
     ' num = 1000000000 }\n', "must be an integer in [2"),
    ("range-num-float", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5,'
     ' num = 2.5 }\n', "must be an integer"),
    ("range-step-zero", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5,'
     ' step = 0 }\n', "positive number"),
    ("range-step-tiny", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5,'
     ' step = 1e-9 }\n', "more than 10000"),
    ("range-step-too-big", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5,'
     ' step = 1.0 }\n', "one value"),
    ("range-step-nan", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 0.5,'
     ' step = nan }\n', "positive number"),
    ("range-unknown-entry", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, hi = 0.5 }\n',
     "unknown range entry"),
    ("range-missing-high", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, num = 3 }\n',
     "needs both low and high"),
    ("range-on-text", 'name = "a"\n[sweep]\n"policy.outreach" = { low = 0, high = 1, num = 2 }\n',
     "needs a numeric parameter"),
    ("range-not-whole", 'name = "a"\n[sweep]\n"population.n_citizens" = { low = 100, high = 200, num = 3'
     '0 }\n', "every value is whole"),
    ("range-out-of-bounds", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0.1, high = 5.0,'
     ' num = 3 }\n', "out of bounds"),
    ("lhs-with-list", 'name = "a"\n[sweep]\ndesign = "lhs"\nsamples = 4\n'
     '"policy.outreach_rate" = [0.1, 0.2]\n', "samples a range"),
    ("lhs-no-samples", 'name = "a"\n[sweep]\ndesign = "lhs"\n'
     '"policy.outreach_rate" = { low = 0, high = 1 }\n', "needs samples"),
    ("lhs-samples-zero", 'name = "a"\n[sweep]\ndesign = "lhs"\nsamples = 0\n'
     '"policy.outreach_rate" = { low = 0, high = 1 }\n', "positive integer"),
    ("lhs-samples-huge", 'name = "a"\n[sweep]\ndesign = "lhs"\nsamples = 1000000000\n'
     '"policy.outreach_rate" = { low = 0, high = 1 }\n', "more than the 100,000 allowed"),
    ("lhs-with-num", 'name = "a"\n[sweep]\ndesign = "lhs"\nsamples = 4\n'
     '"policy.outreach_rate" = { low = 0, high = 1, num = 3 }\n', "applies to grid"),
    ("sobol-not-power", 'name = "a"\n[sweep]\ndesign = "sobol"\nsamples = 3\n'
     '"policy.outreach_rate" = { low = 0, high = 1 }\n', "power of two"),
    ("sobol-2-30", 'name = "a"\n[sweep]\ndesign = "sobol"\nsamples = 1073741824\n'
     '"policy.outreach_rate" = { low = 0, high = 1 }\n', "more than the 100,000 allowed"),
    ("sobol-2-20", 'name = "a"\n[sweep]\ndesign = "sobol"\nsamples = 1048576\n'
     '"policy.outreach_rate" = { low = 0, high = 1 }\n"policy.effort_group" = { low = 0, high = 1 }\n',
     "more than the 100,000 allowed"),
    ("sobol-samples-text", 'name = "a"\n[sweep]\ndesign = "sobol"\nsamples = "many"\n'
     '"policy.outreach_rate" = { low = 0, high = 1 }\n', "positive integer"),
    ("grid-1000x1000", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0, high = 1, num = 1000 }\n'
     '"policy.effort_group" = { low = 0, high = 1, num = 1000 }\n', "1,000,000 points"),
    ("grid-500x500", 'name = "a"\n[sweep]\n"policy.outreach_rate" = { low = 0, high = 1, num = 500 }\n'
     '"policy.effort_group" = { low = 0, high = 1, num = 500 }\n', "more than the 100,000 allowed"),
    ("grid-samples", 'name = "a"\n[sweep]\nsamples = 4\n"policy.outreach_rate" = [0.1, 0.2]\n',
     "applies to latin_hypercube"),
    ("oat-too-many", 'name = "a"\n[sweep]\ndesign = "oat"\n'
     + "".join(f'"{k}" = {{ low = 0, high = 1, num = 10000 }}\n' for k in
               ("policy.outreach_rate", "policy.effort_group", "policy.effort_individual",
                "policy.effort_collective", "administration.staff_incentives",
                "administration.risk_aversion", "administration.learning_rate",
                "administration.quality_rate", "administration.culture_anchor",
                "administration.screening_group", "administration.screening_individual")),
     "more than the 100,000 allowed"),
    ("sweep-seed-negative", 'name = "a"\n[sweep]\nseed = -1\n"policy.outreach_rate" = [0.1, 0.2]\n',
     "non-negative integer"),
    ("sweep-the-seed", 'name = "a"\n[sweep]\n"simulation.seed" = [1, 2]\n', "cannot be swept"),
    ("sweep-the-steps", 'name = "a"\n[sweep]\n"simulation.steps" = [1, 2]\n', "cannot be swept"),
    ("sweep-unknown-key", 'name = "a"\n[sweep]\n"policy.nothing" = [1, 2]\n', "Unknown parameter"),
    ("sweep-samples-no-levers", 'name = "a"\n[sweep.parameters]\n', "sweeps nothing"),
    ("sweep-twice", 'name = "a"\n[sweep]\n"policy.outreach_rate" = [0.1, 0.2]\n[sweep.parameters]\n'
     '"policy.outreach_rate" = [0.3, 0.4]\n', "given twice"),
    ("too-many-runs", 'name = "a"\nreplications = 100000\n[sweep]\n'
     '"policy.outreach_rate" = { low = 0, high = 1, num = 20 }\n', "more than the 1,000,000 allowed"),
    ("bias-several", 'nmae = 1\nreplications = 0\n[parameters]\npolicy.outreach = "x"\n', "3 problems"),
]


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime)
            for p in sorted(folder.rglob("*"))}


def assert_refused(result, fragment: str, before: dict, folder: Path) -> None:
    output = result.output
    assert result.exit_code == 2, output
    assert fragment in output, output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert snapshot(folder) == before, "something was written or changed"


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """A folder with a module that must never be imported (it would write a marker file)."""
    (tmp_path / "evil.py").write_text("open('IMPORTED', 'w').write('x')\ndef f(s, p): pass\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(args: list[str]):
    return CliRunner(env={"COLUMNS": "200"}).invoke(APP, args)


@pytest.mark.parametrize("command", ["validate", "sweep"])
@pytest.mark.parametrize(("text", "fragment"), [c[1:] for c in FILES], ids=[c[0] for c in FILES])
def test_a_malformed_file_is_refused_naming_the_problem(here, text, fragment, command):
    path = here / "case.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    before = snapshot(here)
    args = [command, str(path)] + (["--out", str(here / "out"), "--workers", "1"]
                                   if command == "sweep" else [])
    result = invoke(args)
    assert_refused(result, fragment, before, here)
    assert not (here / "IMPORTED").exists()


SPECIAL = [("dev-null", "/dev/null", "is empty"), ("dev-zero", "/dev/zero", "larger than"),
           ("folder", ".", "is a folder"), ("missing", "nowhere.toml", "no such scenario file")]


@pytest.mark.parametrize(("path", "fragment"), [c[1:] for c in SPECIAL], ids=[c[0] for c in SPECIAL])
@pytest.mark.parametrize("command", ["validate", "sweep"])
def test_a_path_that_is_not_a_scenario_is_refused(here, path, fragment, command):
    before = snapshot(here)
    result = invoke([command, path] + (["--out", "out"] if command == "sweep" else []))
    assert_refused(result, fragment, before, here)


# ---------------------------------------------------------------------- command lines
VALID = OK_HEAD + GRID + UNIVERSAL  # 2 policies x 2 design points

OPTIONS: list[tuple[str, list[str], str]] = [
    ("validate-workers-zero", ["validate", "s.toml", "--workers", "0"], "--workers 0"),
    ("validate-workers-negative", ["validate", "s.toml", "--workers", "-5"], "--workers -5"),
    ("validate-replications-zero", ["validate", "s.toml", "--replications", "0"], "--replications 0"),
    ("validate-set-unknown", ["validate", "s.toml", "--set", "nope.key=1"], "Unknown parameter"),
    ("validate-rules-module-missing", ["validate", "s.toml", "--rules-module", "nowhere_zz"],
     "module 'nowhere_zz' not found"),
    ("validate-bogus-option", ["validate", "s.toml", "--bogus"], "No such option"),
    ("validate-no-file", ["validate"], "Missing argument"),
    ("sweep-workers-zero", ["sweep", "s.toml", "--out", "o", "--workers", "0"], "--workers 0"),
    ("sweep-workers-negative", ["sweep", "s.toml", "--out", "o", "--workers", "-5"], "--workers -5"),
    ("sweep-workers-text", ["sweep", "s.toml", "--out", "o", "--workers", "two"], "Invalid value"),
    ("sweep-timeout-zero", ["sweep", "s.toml", "--out", "o", "--run-timeout", "0"], "--run-timeout 0"),
    ("sweep-timeout-negative", ["sweep", "s.toml", "--out", "o", "--run-timeout", "-3"],
     "--run-timeout -3"),
    ("sweep-timeout-nan", ["sweep", "s.toml", "--out", "o", "--run-timeout", "nan"], "--run-timeout"),
    ("sweep-timeout-inf", ["sweep", "s.toml", "--out", "o", "--run-timeout", "inf"], "--run-timeout"),
    ("sweep-replications-zero", ["sweep", "s.toml", "--out", "o", "--replications", "0"],
     "--replications 0"),
    ("sweep-replications-negative", ["sweep", "s.toml", "--out", "o", "--replications", "-2"],
     "--replications -2"),
    ("sweep-replications-huge", ["sweep", "s.toml", "--out", "o", "--replications", "1000000000"],
     "out of bounds"),
    ("sweep-citizens-zero", ["sweep", "s.toml", "--out", "o", "--citizens", "0"], "n_citizens"),
    ("sweep-citizens-negative", ["sweep", "s.toml", "--out", "o", "--citizens", "-5"], "n_citizens"),
    ("sweep-citizens-text", ["sweep", "s.toml", "--out", "o", "--citizens", "many"], "Invalid value"),
    ("sweep-steps-zero", ["sweep", "s.toml", "--out", "o", "--steps", "0"], "simulation.steps"),
    ("sweep-set-unknown", ["sweep", "s.toml", "--out", "o", "--set", "nope.key=1"], "Unknown parameter"),
    ("sweep-set-bad-choice", ["sweep", "s.toml", "--out", "o", "--set", "policy.outreach=everyone"],
     "one of"),
    ("sweep-set-no-equals", ["sweep", "s.toml", "--out", "o", "--set", "policy.outreach"],
     "not of the form"),
    ("sweep-set-no-key", ["sweep", "s.toml", "--out", "o", "--set", "=3"], "not of the form"),
    ("sweep-set-swept", ["sweep", "s.toml", "--out", "o", "--set", "administration.staff_incentives=0.5"],
     "varies administration.staff_incentives"),
    ("sweep-set-policy-key", ["sweep", "s.toml", "--out", "o", "--set", "policy.outreach=targeted_area"],
     "policy 'universal' sets policy.outreach"),
    ("sweep-set-bad-rule", ["sweep", "s.toml", "--out", "o", "--set", "rules.outcome=nope"],
     "no rule of that name"),
    ("sweep-set-nan", ["sweep", "s.toml", "--out", "o", "--set", "administration.risk_aversion=nan"],
     "not allowed"),
    ("sweep-resume-and-overwrite", ["sweep", "s.toml", "--out", "o", "--resume", "--overwrite"],
     "choose one"),
    ("sweep-out-is-a-file", ["sweep", "s.toml", "--out", "s.toml"], "is a file, not a folder"),
    ("sweep-out-under-a-file", ["sweep", "s.toml", "--out", "s.toml/sub"], "is a file, not a folder"),
    ("sweep-rules-module-bad-name", ["sweep", "s.toml", "--out", "o", "--rules-module", "a/b"],
     "is not a module name"),
    ("sweep-rules-module-missing", ["sweep", "s.toml", "--out", "o", "--rules-module", "nowhere_zz"],
     "module 'nowhere_zz' not found"),
    ("sweep-rules-module-broken", ["sweep", "s.toml", "--out", "o", "--rules-module", "broken_rules"],
     "importing module 'broken_rules' failed: ZeroDivisionError"),
    ("sweep-scheduler-unreachable", ["sweep", "s.toml", "--out", "o", "--scheduler", "tcp://127.0.0.1:9"],
     "cannot reach the Dask scheduler"),
    ("sweep-bogus-option", ["sweep", "s.toml", "--bogus"], "No such option"),
]


@pytest.mark.parametrize(("args", "fragment"), [c[1:] for c in OPTIONS], ids=[c[0] for c in OPTIONS])
def test_an_impossible_command_line_is_refused_writing_nothing(here, args, fragment):
    (here / "s.toml").write_text(VALID)
    (here / "broken_rules.py").write_text("x = 1 / 0\n")
    before = snapshot(here)
    result = invoke(args)
    assert_refused(result, fragment, before, here)
    assert not (here / "o").exists() and not (here / "IMPORTED").exists()


# ---------------------------------------------------------------------- damaged or busy folders
def folder_with(here: Path, manifest: str | None, parts: dict[str, bytes] | None = None) -> Path:
    out = here / "o"
    (out / "runs").mkdir(parents=True)
    if manifest is not None:
        (out / "manifest.json").write_text(manifest)
    for name, data in (parts or {}).items():
        (out / "runs" / name).write_bytes(data)
    (out / "runs" / "my_notes.txt").write_text("mine")
    return out


FOLDERS: list[tuple[str, str | None, dict[str, bytes], list[str], str]] = [
    ("manifest-empty-object", "{}", {}, ["--resume"], "is damaged"),
    ("manifest-list", "[]", {}, ["--resume"], "is damaged"),
    ("manifest-garbage", "{not json", {}, ["--resume"], "cannot be read"),
    ("manifest-scenario-text", '{"scenario": "x"}', {}, ["--resume"], "is damaged"),
    ("manifest-runs-text", '{"scenario": {}, "runs": 3}', {}, ["--resume"], "is damaged"),
    ("runs-without-manifest", None, {"0000000.arrow": b"x"}, [], "holds run files but no manifest"),
    ("other-sweep-no-resume", json.dumps({"scenario": {"name": "other", "n_runs": 4}, "runs": []}), {},
     [], "already holds a sweep of 'other'"),
    ("other-plan-resume", json.dumps({"scenario": {"name": "other", "fingerprint": "x"}, "runs": []}),
     {}, ["--resume"], "different plan"),
]


@pytest.mark.parametrize(("manifest", "parts", "extra", "fragment"), [c[1:] for c in FOLDERS],
                         ids=[c[0] for c in FOLDERS])
def test_a_damaged_or_foreign_output_folder_is_refused_and_kept(here, manifest, parts, extra, fragment):
    (here / "s.toml").write_text(VALID)
    folder_with(here, manifest, parts)
    before = snapshot(here)
    result = invoke(["sweep", "s.toml", "--out", "o", "--workers", "1", *extra])
    assert_refused(result, fragment, before, here)


def test_a_folder_in_use_is_refused_naming_the_holder(here):
    from coprod_sim.sweep.lock import folder_lock

    (here / "s.toml").write_text(VALID)
    out = folder_with(here, None)
    with folder_lock(out, "a test holding the lock"):
        before = snapshot(here)
        result = invoke(["sweep", "s.toml", "--out", "o", "--overwrite", "--workers", "1"])
        assert_refused(result, f"is in use by process {os.getpid()}", before, here)
        assert "a test holding the lock" in result.output


def test_the_corpus_is_large_enough():
    assert 2 * len(FILES) + 2 * len(SPECIAL) + len(OPTIONS) + len(FOLDERS) + 1 >= 150
