"""A warm verify starts its runner before its last checks (execution/head_start.py, issue 33), and uses it only
when the checks let it: counted by the order in which real processes start, never timed.

Real uv env, real sandbox, real runner; the only instrument is a record of each process envforge starts
(subprocess.Popen's argv, the process still started as it always is).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import envforge

pytestmark = pytest.mark.slow


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each process envforge starts runs, in order (the supervisor's argv, the command at its end); and,
    as "ended: ..." entries, when envforge saw each one exit."""
    seen: list[str] = []
    real_init, real_wait = subprocess.Popen.__init__, subprocess.Popen.wait

    def record(self, args, *rest, **kw):  # type: ignore[no-untyped-def]
        self._seen_as = " ".join(map(str, args)) if isinstance(args, (list, tuple)) else str(args)
        seen.append(self._seen_as)
        return real_init(self, args, *rest, **kw)

    def wait(self, *args, **kw):  # type: ignore[no-untyped-def]
        code = real_wait(self, *args, **kw)
        seen.append(f"ended: {getattr(self, '_seen_as', '?')}")
        return code

    monkeypatch.setattr(subprocess.Popen, "__init__", record)
    monkeypatch.setattr(subprocess.Popen, "wait", wait)
    return seen


def _kind(argv: str) -> str | None:
    ended, argv = argv.startswith("ended: "), argv.removeprefix("ended: ")
    kind = None
    if "run_model.py" in argv:
        kind = "runner ahead" if "--wait-for-request" in argv else "runner"
    elif argv.endswith("-c import sys"):
        kind = "env health check"
    elif argv.endswith("ldconfig -p"):
        kind = "machine libraries"
    elif " pip compile " in argv:
        kind = "index confirms"
    return f"{kind} ended" if kind and ended else kind


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, sklearn_model_template: Path) -> tuple[Path, Path]:
    """The iris model recorded and verified once (its env built), in one ENVFORGE_HOME for the module."""
    root = tmp_path_factory.mktemp("head-start")
    model, home = root / "iris", root / "home"
    shutil.copytree(sklearn_model_template, model)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENVFORGE_HOME", str(home))
        envforge.record(str(model))
        first = envforge.verify(str(model))
    assert first.status == "passed" and not first.env_reused
    return model, home


@pytest.fixture
def built(recorded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    model, home = recorded
    monkeypatch.setenv("ENVFORGE_HOME", str(home))
    return model


def test_a_warm_verify_starts_its_runner_before_the_env_checks_and_uses_it(built: Path, started: list[str]) -> None:
    result = envforge.verify(str(built))
    assert result.status == "passed" and result.env_reused and result.comparison.ok
    kinds = [k for k in map(_kind, started) if k]
    assert kinds.count("runner ahead") == 1 and "runner" not in kinds, kinds  # one runner: the one started ahead
    assert kinds.index("runner ahead") < kinds.index("env health check ended") < kinds.index("runner ahead ended"), kinds
    assert result.sandbox and result.sandbox.get("limits", {}).get("timeout") == 900.0  # the run's own report


def test_a_runner_started_in_an_env_found_damaged_is_stopped_and_the_rebuilt_env_runs_the_model(
        built: Path, started: list[str]) -> None:
    env = Path(envforge.verify(str(built)).env_path)
    started.clear()
    [init] = env.glob("lib/python*/site-packages/sklearn/__init__.py")
    init.unlink()
    result = envforge.verify(str(built))
    assert result.status == "passed" and not result.env_reused and "sklearn/__init__.py" in (result.env_rebuilt_because or "")
    runners = [k for k in map(_kind, started) if k in ("runner", "runner ahead")]
    assert runners == ["runner ahead", "runner ahead"], runners  # the first stopped (the damaged env); the rebuilt env's ran


def test_a_model_whose_files_changed_is_failed_before_the_runner_ahead_reads_it(built: Path, started: list[str],
                                                                                 tmp_path: Path) -> None:
    edited = tmp_path / "iris"
    shutil.copytree(built, edited)
    (edited / "MLmodel").write_text((edited / "MLmodel").read_text() + "\n# edited\n")
    result = envforge.verify(str(edited))
    assert result.status == "failed" and (result.error or {}).get("kind") == "artifact-changed", (result.status, result.reason, result.error)
    assert [k for k in map(_kind, started) if k in ("runner", "runner ahead")] == ["runner ahead"]  # started, then stopped


def test_a_new_env_starts_its_runner_before_the_machine_checks(built: Path, started: list[str], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from envforge.backends import native_libs, speculative

    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "new-home"))
    native_libs.system_libraries.cache_clear()  # asked once per process: this verify asks again
    awaited = speculative.Confirmation.wait  # the build awaits the index's answer: said in the record, then awaited

    def wait(self, installed):  # type: ignore[no-untyped-def]
        started.append("confirmation awaited")
        return awaited(self, installed)

    monkeypatch.setattr(speculative.Confirmation, "wait", wait)
    result = envforge.verify(str(built))
    assert result.status == "passed" and not result.env_reused
    kinds = [k for k in (_kind(e) or (e if e == "confirmation awaited" else None) for e in started) if k]
    assert kinds.count("runner ahead") == 1 and "runner" not in kinds, kinds
    assert kinds.index("runner ahead") < kinds.index("machine libraries ended"), kinds
    # the env's requirements came from uv's cache (the module's first verify filled it), and the runner started in
    # the env while the index was still to confirm them (backends/speculative.py)
    assert kinds.index("index confirms") < kinds.index("runner ahead") < kinds.index("confirmation awaited"), kinds


def test_a_sandbox_that_no_longer_starts_drops_the_runner_ahead_and_the_run_probes_again(
        built: Path, started: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The head start trusts a probe that passed on this boot (execution/probe_memo.py); a sandbox that fails
    anyway ends that runner before its request, and the usual run probes and says so (a stand-in bubblewrap
    that cannot create namespaces: the one thing here that cannot be made to fail for real)."""
    from envforge.execution import probe_memo, sandbox

    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{__import__('os').environ['PATH']}")
    probe_memo.note_passed()  # as if this bubblewrap had passed its probe earlier on this boot
    sandbox.unavailable.cache_clear()
    try:
        result = envforge.verify(str(built))
    finally:
        sandbox.unavailable.cache_clear()
    assert result.status == "passed" and result.env_reused, (result.status, result.reason)
    assert any("WITHOUT a sandbox" in w and "Permission denied" in w for w in result.warnings), result.warnings
    assert [k for k in map(_kind, started) if k in ("runner", "runner ahead")] == ["runner ahead", "runner"]
