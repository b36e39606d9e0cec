"""The simulator runs untraced: coverage measures plugins/, and tracing the simulator only slows it."""

from graph_api_sim.testing import untraced_env


def test_coverage_variables_do_not_reach_the_simulator_and_everything_else_does() -> None:
    env = {"COVERAGE_PROCESS_CONFIG": "{}", "COVERAGE_PROCESS_START": "pyproject.toml", "PATH": "/usr/bin",
           "PYTHONPATH": "/x", "MY_COVERAGE_NOTE": "kept"}
    assert untraced_env(env) == {"PATH": "/usr/bin", "PYTHONPATH": "/x", "MY_COVERAGE_NOTE": "kept"}
    assert "COVERAGE_PROCESS_CONFIG" in env, "the caller's environment is left as it was"
