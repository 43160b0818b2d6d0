"""Selecting rules by name (or ``package.module:function`` of a module the user loaded), custom
rule parameters, and the errors a researcher's broken rule gets (naming rule, stage and what is
wrong; exit 2). Nothing but a function registered with @rule is ever selected, and a value in
a parameter set or a scenario file never imports a module."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from coprod_sim.cli.app import app
from coprod_sim.month.kernel import Kernel, RuleOutputError, Streams
from coprod_sim.names import STAGES
from coprod_sim.params import ParameterError, Parameters, parse_assignments
from coprod_sim.rules import RuleError, available, resolve, selected
from coprod_sim.rules.registry import custom_rule_files, declared_params, use_modules
from coprod_sim.run import run
from tests import rules_support
from tests.rules_support import crowding_source

custom = rules_support.custom  # the fixture

SMALL = {"population.n_citizens": 300, "population.n_neighbourhoods": 4, "simulation.steps": 6}


def test_every_stage_has_its_default_registered():
    defaults = Parameters()
    for stage in STAGES:
        assert defaults[f"rules.{stage}"] in available(stage)
        assert resolve(stage, defaults[f"rules.{stage}"]).stage == stage


def test_alternatives_are_selectable_by_name():
    p = Parameters({"rules.participation": "granovetter_threshold",
                    "rules.efficacy_feedback": "failure_harmless"})
    chosen = selected(p)
    assert chosen["participation"].__name__ == "granovetter_threshold"
    assert chosen["efficacy_feedback"].__name__ == "failure_harmless"
    assert set(declared_params(chosen["participation"])) == {
        "threshold.mean", "threshold.spread", "threshold.mode"}


def test_the_tree_is_whole_on_import_without_importing_any_rule():
    code = ("import sys\nfrom coprod_sim.params import TREE, spec\n"
            "assert spec('threshold.spread').default == 0.1 and 'legitimacy' in TREE\n"
            "assert not any(m.startswith('coprod_sim.rules') for m in sys.modules), sorted(sys.modules)\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_a_custom_rules_parameters_join_the_tree_when_it_is_selected_not_on_import(custom):
    import importlib

    mod = custom(crowding_source("crowding_e", "crowde"))
    importlib.import_module(mod)  # registers the rule, and changes nothing in the tree
    with pytest.raises(ParameterError, match=r"Unknown parameter 'crowde\.strength'"):
        Parameters({"crowde.strength": 3.0})
    assert Parameters({"rules.participation": "crowding_e", "crowde.strength": 3.0}).crowde.strength == 3.0
    other = custom(crowding_source("crowding_f", "crowdf"))
    use_modules([other])  # asked for by the user (--rules-module): its rules' parameters are known
    assert Parameters({"crowdf.strength": 3.0})["crowdf.strength"] == 3.0


def test_custom_rule_from_a_loaded_module_runs_and_its_parameter_is_validated(custom):
    mod = custom(crowding_source("crowding_a", "crowda"))
    use_modules([mod])  # what --rules-module does
    # the custom key comes first: the rule must still be found before it is checked
    p = Parameters({"crowda.strength": 3.0, **SMALL, "policy.outreach": "universal",
                    "rules.participation": "crowding_a"})
    assert Parameters({"rules.participation": f"{mod}:crowding_out"})["rules.participation"]
    assert p["crowda.strength"] == 3.0 and p.crowda.strength == 3.0
    kernel = Kernel(p, Streams.from_seed(1))
    assert kernel.rules["participation"].__name__ == "crowding_out"
    result = run(p)
    assert len(result.timeseries) == SMALL["simulation.steps"] + 1
    with pytest.raises(ParameterError, match=r"crowda\.strength = 11\.0 is out of bounds.*\[0, 10\]"):
        Parameters({"crowda.strength": 11, "rules.participation": "crowding_a"})
    assert f"{mod}.py" in [f.name for f in custom_rule_files()]  # what a remote Dask cluster needs


def test_set_options_load_the_rule_before_its_parameters_whatever_the_order(custom):
    mod = custom(crowding_source("crowding_b", "crowdb"))
    overrides = parse_assignments(["crowdb.strength=4", f"rules.participation={mod}:crowding_out"])
    assert overrides == {"crowdb.strength": 4.0, "rules.participation": f"{mod}:crowding_out"}


def test_a_custom_rule_changes_the_run_and_the_default_comes_back_unchanged(custom):
    mod = custom(crowding_source("crowding_c", "crowdc"))
    use_modules([mod])
    base = {**SMALL, "simulation.steps": 24, "policy.outreach": "universal", "policy.outreach_rate": 0.3}
    default = run(Parameters(base)).timeseries
    crowded = run(Parameters({**base, "rules.participation": f"{mod}:crowding_out",
                              "crowdc.strength": 10.0})).timeseries
    again = run(Parameters(base)).timeseries
    assert not default.equals(crowded)
    assert default.equals(again)


def test_unpickled_parameters_load_the_custom_rule_in_a_fresh_process(custom, tmp_path):
    """What a sweep worker does: it imports the modules its parent loaded, then unpickles."""
    mod = custom(crowding_source("crowding_d", "crowdd"))
    use_modules([mod])
    p = Parameters({**SMALL, "rules.participation": f"{mod}:crowding_out", "crowdd.strength": 5.0})
    (tmp_path / "params.pkl").write_bytes(pickle.dumps(p))
    expected = run(p).timeseries
    expected.to_parquet(tmp_path / "expected.parquet")
    code = (
        "import pickle, pandas as pd\n"
        "from coprod_sim.run import run\n"
        "from coprod_sim.rules.sources import import_trusted\n"
        f"import_trusted([{mod!r}])\n"
        "p = pickle.loads(open('params.pkl', 'rb').read())\n"
        "assert p.crowdd.strength == 5.0\n"
        "ts = run(p).timeseries\n"
        "assert ts.equals(pd.read_parquet('expected.parquet')), 'not bit-identical'\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


# ------------------------------------------------------------------ errors at selection time
BROKEN_MODULE = '''
import numpy as np
from coprod_sim.rules import rule

@rule("participation")
def one_argument(state):
    return np.zeros(state.n)

@rule("participation")
def keyword_only(*, state, params):
    return np.zeros(state.n)

def not_registered(state, params):
    """A function of the right shape, never declared with @rule."""
    return np.zeros((state.n, 3))

@rule("outcome")
def an_outcome_rule(state, params):
    """Declared for the outcome stage."""
    return np.full(state.n, 0.5)

NOT_A_FUNCTION = 3
'''


@pytest.mark.parametrize(("value", "fragment"), [
    ("{mod}:missing", "has no function 'missing'"),
    ("{mod}:one_argumnt", "Did you mean 'one_argument'?"),
    ("{mod}:one_argument", "wrong signature one_argument(state); a rule takes two positional arguments"),
    ("{mod}:keyword_only", "wrong signature"),
    ("{mod}:an_outcome_rule", "declared with @rule('outcome')"),
    ("{mod}:NOT_A_FUNCTION", "is a int, not a function"),
    ("no_such_module_xyz:rule", "module 'no_such_module_xyz' is not loaded, and a scenario file"),
    ("{mod}:not_registered", "'not_registered' is not registered as a rule"),
    ("builtins:exec", "'exec' is not registered as a rule"),
    ("subprocess:run", "'run' is not registered as a rule"),
    ("this:s", "module 'this' is not loaded"),
    ("mastery_vicarious", "'mastery_vicarious' is a rule for stage 'efficacy_feedback'"),
    ("logistic", "no rule of that name. Rules for this stage: granovetter_threshold,"),
    ("{mod}:", "a custom rule is written 'package.module:function'"),
])
def test_selection_errors_name_rule_stage_and_problem(custom, value, fragment, capsys):
    mod = custom(BROKEN_MODULE)
    use_modules([mod])
    name = value.format(mod=mod)
    with pytest.raises(RuleError) as err:
        Parameters({"rules.participation": name})
    assert "Zen of Python" not in capsys.readouterr().out  # no module named in a value was imported
    message = str(err.value)
    assert message.startswith(f"Rule {name!r} for stage 'participation'")
    assert fragment in message
    assert isinstance(err.value, ParameterError) and err.value.key == "rules.participation"


def test_a_module_that_fails_to_import_says_why(custom):
    mod = custom("import numpy as np\nx = np.zeros(3) + undefined_name\n")
    with pytest.raises(RuleError, match=rf"importing module '{mod}' failed: NameError: name"
                                        " 'undefined_name' is not defined"):
        resolve("outcome", f"{mod}:anything", trusted=True)
    missing = custom("import not_installed_package_xyz\n")
    with pytest.raises(RuleError, match="it imports 'not_installed_package_xyz', which is not installed"):
        resolve("outcome", f"{missing}:anything", trusted=True)


def test_a_custom_rule_may_not_take_a_built_in_name(custom):
    mod = custom('''
        import numpy as np
        from coprod_sim.rules import rule

        @rule("participation")
        def logistic_choice(state, params):
            return np.zeros((state.n, 3))
    ''')
    with pytest.raises(RuleError, match="a rule named 'logistic_choice' is already registered"):
        resolve("participation", f"{mod}:logistic_choice", trusted=True)
    assert available("participation")["logistic_choice"].__module__ == "coprod_sim.rules.defaults"


# ------------------------------------------------------------------ errors while running
RUNTIME_MODULE = '''
import numpy as np
from coprod_sim.rules import rule

@rule("participation")
def raises_in_month_three(state, params):
    if state.step >= 2:
        return np.ones(state.n) / np.array([])  # ValueError: shapes do not broadcast
    return np.zeros((state.n, 3))

@rule("participation")
def flat(state, params):
    return np.zeros(state.n)

@rule("participation")
def as_list(state, params):
    return [[0.0, 0.0, 0.0]] * state.n

@rule("participation")
def text(state, params):
    return np.full((state.n, 3), "a")

@rule("participation")
def too_likely(state, params):
    return np.full((state.n, 3), 0.5)

@rule("participation")
def negative(state, params):
    return np.full((state.n, 3), -0.1)

@rule("outcome")
def negative_outcome(state, params):
    return np.full(state.n, -0.1)

@rule("participation")
def not_a_number(state, params):
    return np.full((state.n, 3), np.nan)

@rule("participation")
def vandal(state, params):
    state.citizens.self_efficacy[:] = 1.0
    return np.zeros((state.n, 3))
'''


@pytest.mark.parametrize(("function", "fragment"), [
    ("raises_in_month_three", "it raised ValueError: operands could not be broadcast"),
    ("flat", "output has shape (300,), expected (300, 3)"),
    ("as_list", "output must be a NumPy array, got list"),
    ("text", "output has dtype <U1, expected a real number type"),
    ("too_likely", "sum to more than 1"),
    ("negative", "outside [0, 1]"),
    ("not_a_number", "NaN or infinite"),
    ("vandal", "assignment destination is read-only (a rule must not write into the state"),
])
def test_broken_outputs_are_reported_with_rule_and_stage(custom, function, fragment):
    mod = custom(RUNTIME_MODULE)
    use_modules([mod])
    p = Parameters({**SMALL, "rules.participation": f"{mod}:{function}"})
    with pytest.raises(RuleOutputError) as err:
        run(p)
    message = str(err.value)
    assert message.startswith(f"Rule '{mod}:{function}' for stage 'participation' broke its contract:")
    assert fragment in message
    assert isinstance(err.value, ParameterError)  # so the command line exits 2 without a traceback


def test_an_exception_inside_a_rule_points_at_its_line(custom, tmp_path):
    mod = custom(RUNTIME_MODULE)
    use_modules([mod])
    with pytest.raises(RuleOutputError) as err:
        run(Parameters({**SMALL, "rules.participation": f"{mod}:raises_in_month_three"}))
    line = RUNTIME_MODULE.splitlines().index(
        "        return np.ones(state.n) / np.array([])  # ValueError: shapes do not broadcast") + 1
    assert f"(at {tmp_path / (mod + '.py')}, line {line})" in str(err.value)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--set", "rules.participation={mod}:missing"], "has no function 'missing'"),
    (["--set", "rules.participation=nowhere_module_q:rule"], "module 'nowhere_module_q' not found"),
    (["--set", "rules.participation={mod}:flat"], "output has shape"),
    (["--set", "rules.participation={mod}:raises_in_month_three"], "it raised ValueError"),
    (["--set", "rules.outcome={mod}:negative_outcome"], "for stage 'outcome' broke its contract"),
])
def test_coprod_run_reports_a_broken_rule_in_one_paragraph_with_exit_2(custom, args, fragment):
    mod = custom(RUNTIME_MODULE)
    result = CliRunner().invoke(app, ["run", "--citizens", "300", "--steps", "4",
                                      *[a.format(mod=mod) for a in args]])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert fragment in result.output and "Rule '" in result.output


def test_an_installed_package_provides_rules_through_its_entry_point(custom, tmp_path, monkeypatch):
    from coprod_sim.rules import sources

    mod = custom('''
        import numpy as np
        from coprod_sim.params import Param
        from coprod_sim.rules import rule

        @rule("outcome", "packaged_outcome", group="packaged",
              params={"chance": Param(0.4, "Chance of success", "share", 0.0, 1.0)})
        def packaged(state, params):
            """A rule shipped by an installed package."""
            return np.full(state.n, params.packaged.chance)
    ''')
    dist = tmp_path / "packaged_rules-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: packaged-rules\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[coprod_sim.rules]\npackaged = {mod}\n")
    monkeypatch.setattr(sources, "_entry_points_loaded", False)
    assert mod not in sys.modules
    p = Parameters({**SMALL, "rules.outcome": "packaged_outcome", "packaged.chance": 0.7})
    assert p.packaged.chance == 0.7 and mod in sys.modules
    assert len(run(p).timeseries) == SMALL["simulation.steps"] + 1
    (dist / "entry_points.txt").write_text("[coprod_sim.rules]\nbroken = no_such_module_ep\n")
    monkeypatch.setattr(sources, "_entry_points_loaded", False)
    with pytest.raises(RuleError, match=r"packaged-rules.*declares it as a coprod_sim\.rules entry point"):
        Parameters({"rules.outcome": "not_there_either"})


def test_the_environment_names_trusted_modules(custom, monkeypatch):
    mod = custom(crowding_source("crowding_env", "crowdenv"))
    monkeypatch.setenv("COPROD_RULES_MODULES", mod)
    assert Parameters({"rules.participation": "crowding_env"}).crowdenv.strength == 2.0
