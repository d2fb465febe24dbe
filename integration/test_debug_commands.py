"""Debugging a model's rebuilt env: diff, lock, verify --lock, record --lock, serve-check, run, shell,
cache list/prune. Real uv builds, real MLflow scoring servers, real second processes holding locks."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import envforge, report, start_envforge, wait_for_line
from tests.support.models import iris_frame, pinned_requirements, record_digests_again

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def debug_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ENVFORGE_HOME for the tests that may share built envs (none of them prunes it)."""
    return tmp_path_factory.mktemp("debug-home")


@pytest.fixture(scope="module")
def drift_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An iris model logged from this venv (scikit-learn 1.9.x) with an unpinned `scikit-learn<1.6`
    requirement, as a training script with a loose requirement would log it: a rebuild resolves an
    older release today."""
    import mlflow.sklearn
    import scipy
    import sklearn
    from sklearn.linear_model import LogisticRegression

    assert int(sklearn.__version__.split(".")[1]) >= 6, "the training env must be newer than the requirement"
    features, target = iris_frame()
    model = LogisticRegression(max_iter=300).fit(features, target)
    path = tmp_path_factory.mktemp("drift") / "model"
    mlflow.sklearn.save_model(model, str(path), input_example=features.head(5),
                              pip_requirements=[*pinned_requirements(), f"scipy=={scipy.__version__}", "scikit-learn<1.6"])
    return path


@pytest.fixture
def drift_model(tmp_path: Path, drift_template: Path) -> Path:
    target = tmp_path / "drift"
    shutil.copytree(drift_template, target)
    return target


def _diff(model: Path, home: Path, *extra: str) -> dict:
    run = envforge("diff", str(model), "--json", *extra, home=home)
    assert run.returncode == 0, run.output
    return json.loads(run.stdout)


def _installed(diff: dict) -> dict[str, str]:
    return {p["name"]: p["installed"] for p in diff["packages"] if p["installed"] is not None}


def test_diff_shows_drift_and_lock_reproduces_the_env(drift_model: Path, debug_home: Path, tmp_path: Path) -> None:
    import sklearn

    before = _diff(drift_model, debug_home)  # no recording yet: two columns
    row = next(p for p in before["packages"] if p["name"] == "scikit-learn")
    assert before["recorded"] is False and row["recorded"] is None
    assert row["requested"] == "<1.6" and row["installed"].startswith("1.5.")
    rebuilt = row["installed"]

    assert envforge("record", str(drift_model), home=debug_home).returncode == 0
    after = _diff(drift_model, debug_home)
    row = next(p for p in after["packages"] if p["name"] == "scikit-learn")
    assert (row["recorded"], row["requested"], row["installed"], row["status"]) == (sklearn.__version__, "<1.6", rebuilt, "changed")
    packages = [p for p in after["packages"] if p["name"] != "python"]  # the python row is always first
    assert packages.index(row) < [p["status"] for p in packages].index("same")  # what differs comes first
    assert f"scikit-learn {sklearn.__version__} -> {rebuilt}" in after["verdict"]
    console = envforge("diff", str(drift_model), home=debug_home)
    assert console.returncode == 0 and "verdict:" in console.stdout
    assert "scikit-learn" in console.stdout and sklearn.__version__ in console.stdout and rebuilt in console.stdout

    lock = tmp_path / "requirements.lock"
    locked = envforge("lock", str(drift_model), "-o", str(lock), home=debug_home)
    assert locked.returncode == 0, locked.output
    text = lock.read_text()
    assert f"scikit-learn=={rebuilt} \\" in text and "--hash=sha256:" in text

    verified = envforge("verify", str(drift_model), "--lock", str(lock), "--json", str(tmp_path / "v.json"), home=debug_home)
    assert verified.returncode == 0, verified.output
    result = report(tmp_path / "v.json")
    assert result["status"] == "passed"
    assert result["env"]["key"] != after["env"]["key"]  # the lock's env is another env...
    from_lock = _diff(drift_model, debug_home, "--lock", str(lock))
    assert from_lock["env"]["key"] == result["env"]["key"]
    assert _installed(from_lock) == _installed(after)  # ...with exactly the same packages

    stored = envforge("record", str(drift_model), "--lock", home=debug_home)
    assert stored.returncode == 0, stored.output
    assert (drift_model / "envforge-lock.txt").is_file()
    again = envforge("verify", str(drift_model), "--json", str(tmp_path / "v2.json"), home=debug_home)
    assert again.returncode == 0, again.output
    automatic = report(tmp_path / "v2.json")
    assert automatic["env"]["key"] == result["env"]["key"] and automatic["env"]["reused"] is True
    assert any("envforge-lock.txt" in w for w in automatic["warnings"])


def _serving_processes(model_dir: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "serve" in cmdline and str(model_dir) in cmdline:
            found.append(cmdline)
    return found


def test_serve_check_reports_the_interpreter_warning_as_verify_does(sklearn_model: Path, debug_home: Path, tmp_path: Path) -> None:
    """A patch version that no machine has: both commands fall back to the same minor version and say so."""
    import platform

    minor = ".".join(platform.python_version().split(".")[:2])
    python_env = sklearn_model / "python_env.yaml"
    logged = f"{minor}.99"
    python_env.write_text("\n".join(f"python: {logged}" if line.startswith("python:") else line
                                    for line in python_env.read_text().splitlines()) + "\n")
    assert envforge("record", str(sklearn_model), home=debug_home).returncode == 0
    verified = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "v.json"), home=debug_home)
    served = envforge("serve-check", str(sklearn_model), "--json", str(tmp_path / "s.json"), home=debug_home)
    assert verified.returncode == 0 and served.returncode == 0, verified.output + served.output
    by_verify, by_serve = report(tmp_path / "v.json"), report(tmp_path / "s.json")
    warning = [w for w in by_verify["warnings"] if f"logged with Python {logged}" in w]
    assert warning and by_serve["status"] == "passed"
    assert [w for w in by_serve["warnings"] if f"logged with Python {logged}" in w] == warning
    assert by_serve["env"]["interpreter"] == by_verify["env"]["interpreter"] and "same minor" in by_serve["env"]["interpreter"]


def test_serve_check_passes_then_fails_with_the_servers_schema_error(sklearn_model: Path, debug_home: Path, tmp_path: Path) -> None:
    assert envforge("record", str(sklearn_model), home=debug_home).returncode == 0
    served = envforge("serve-check", str(sklearn_model), "--json", str(tmp_path / "s.json"), home=debug_home)
    assert served.returncode == 0, served.output
    result = report(tmp_path / "s.json")
    assert result["status"] == "passed" and result["examples"][0]["http_status"] == 200
    assert [s["name"] for s in result["steps"]] == ["resolve", "build", "serve", "request", "compare"]

    # The serving payload loses a column the signature requires; pyfunc.predict on input_example.json still works.
    path = sklearn_model / "serving_input_example.json"
    payload = json.loads(path.read_text())
    split = payload["dataframe_split"]
    split["columns"], split["data"] = split["columns"][:3], [row[:3] for row in split["data"]]
    path.write_text(json.dumps(payload))
    record_digests_again(sklearn_model)  # the edited example stands for one logged that way (the artifact gate, issue 29)
    assert envforge("verify", str(sklearn_model), home=debug_home).returncode == 0
    broken = envforge("serve-check", str(sklearn_model), "--json", str(tmp_path / "b.json"), home=debug_home)
    assert broken.returncode == 1, broken.output
    result = report(tmp_path / "b.json")
    assert result["status"] == "failed" and result["model_error"]["type"].startswith("HTTP 400")
    assert "missing inputs ['petal width (cm)']" in result["reason"]
    assert "missing inputs" in broken.stdout
    assert _serving_processes(sklearn_model) == []  # the server was stopped


def test_run_passes_the_exit_code_through_and_shell_sees_the_model(sklearn_model: Path, debug_home: Path) -> None:
    code = envforge("run", str(sklearn_model), "--", "python", "-c", "import sys; sys.exit(7)", home=debug_home)
    assert code.returncode == 7, code.output
    probe = "import os, sys, sklearn; print(os.environ['MODEL_DIR']); print(sys.prefix)"
    inside = envforge("run", str(sklearn_model), "--", "python", "-c", probe, home=debug_home)
    assert inside.returncode == 0, inside.output
    model_dir, prefix = inside.stdout.split()
    assert model_dir == str(sklearn_model) and prefix.startswith(str(debug_home / "envs"))

    shell = subprocess.run([sys.executable, "-m", "envforge", "shell", str(sklearn_model)], input='echo "dir=$MODEL_DIR"; exit 4\n',
                           capture_output=True, text=True, env={**os.environ, "ENVFORGE_HOME": str(debug_home), "SHELL": "/bin/sh"},
                           timeout=300)
    assert shell.returncode == 4 and f"dir={sklearn_model}" in shell.stdout, shell.stdout + shell.stderr
    repl = subprocess.run([sys.executable, "-m", "envforge", "shell", str(sklearn_model), "--python"],
                          input="import sys; print('prefix=' + sys.prefix)\n", capture_output=True, text=True,
                          env={**os.environ, "ENVFORGE_HOME": str(debug_home)}, timeout=300)
    assert repl.returncode == 0 and f"prefix={prefix}" in repl.stdout, repl.stdout + repl.stderr


def test_cache_prune_leaves_envs_other_processes_hold(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(sklearn_model, other)
    with (other / "requirements.txt").open("a") as handle:
        handle.write("\nthreadpoolctl\n")  # already a dependency: another env key, the same packages
    for model in (sklearn_model, other):
        assert envforge("run", str(model), "--", "python", "-c", "pass", home=home).returncode == 0
    listed = json.loads(envforge("cache", "list", "--json", home=home).stdout)["envs"]
    assert len(listed) == 2
    by_model = {e["models"][0]: e for e in listed}
    assert set(by_model) == {str(sklearn_model), str(other)}
    for env in listed:
        assert env["backend"] == "uv" and env["python"] == platform.python_version() and env["size"] > 10**6 and env["complete"]
    held, idle = Path(by_model[str(sklearn_model)]["path"]), Path(by_model[str(other)]["path"])
    month_ago = time.time() - 30 * 86400
    for env in listed:
        os.utime(Path(env["path"]) / ".envforge-used", (month_ago, month_ago))

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom envforge.store.layout import env_lock_name\nfrom envforge.store.filelocks import locked\n"
         "with locked(env_lock_name(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(300)\n",
         by_model[str(sklearn_model)]["key"]],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "ENVFORGE_HOME": str(home)})
    try:
        wait_for_line(holder, "held", timeout=240)
        pruned = envforge("cache", "prune", "--older-than", "14d", home=home)
        assert pruned.returncode == 0, pruned.output
        assert "in use" in pruned.stdout
        assert held.is_dir() and (held / ".envforge-state.json").is_file()
        assert not idle.exists()
    finally:
        holder.kill()
        holder.wait()

    # An env that `envforge run` is working in is in use too, for as long as the command runs.
    running = start_envforge("run", str(sklearn_model), "--", "python", "-c", "import time; print('ready', flush=True); time.sleep(300)",
                             home=home)
    try:
        wait_for_line(running, "ready", timeout=240)
        assert json.loads(envforge("cache", "prune", "--all", "--json", home=home).stdout)["removed"] == []
        assert held.is_dir()
    finally:
        running.terminate()  # envforge passes it on to the command, then exits with its code
        assert running.wait(timeout=60) == 128 + 15
    gone = json.loads(envforge("cache", "prune", "--all", "--json", home=home).stdout)
    assert [e["path"] for e in gone["removed"]] == [str(held)] and not held.exists()
    assert json.loads(envforge("cache", "list", "--json", home=home).stdout)["envs"] == []
