"""registry/pacing.py: build and run slots of a local registry run, and the one compile new envs wait for.
Real threads and semaphores; the env given to wait_then_seed has no CPython layout, so seeding is a no-op
(the seeding itself: integration/test_verify_registry.py, a real run's three envs)."""

import os
import threading
import time
from pathlib import Path

from envforge.registry.pacing import FirstCompile, Pacing


def test_each_kind_of_slot_admits_workers_groups_and_the_kinds_are_separate() -> None:
    pacing = Pacing(1)
    assert pacing.threads == 2  # a group building while another runs
    entered = threading.Event()
    with pacing.slot("run", lambda: False) as running:
        assert running
        with pacing.slot("build", lambda: False) as building:  # a build beside a run: not blocked
            assert building
        def second_runner() -> None:
            with pacing.slot("run", lambda: False):
                entered.set()
        thread = threading.Thread(target=second_runner)
        thread.start()
        assert not entered.wait(0.5)  # one worker: the second runner waits for the run slot
    assert entered.wait(5)  # ... and gets it when the first lets it go
    thread.join()


def test_the_time_a_group_waits_for_a_slot_is_told_and_reported_as_queued_not_other() -> None:
    from envforge.registry.run import timing
    from envforge.registry.work import GroupOutcome

    pacing, outcome, release = Pacing(1), GroupOutcome(key="k"), threading.Event()
    with pacing.slot("run", lambda: False, waited=outcome.queued):  # free: (almost) nothing waited
        pass
    assert outcome.queued_seconds < 0.1

    def holder() -> None:
        with pacing.slot("run", lambda: False):
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    time.sleep(0.05)
    threading.Timer(0.4, release.set).start()
    with pacing.slot("run", lambda: False, waited=outcome.queued) as got:  # waits for the holder's slot
        assert got
    thread.join(5)
    assert 0.3 < outcome.queued_seconds < 3
    outcome.total_seconds, outcome.runner_seconds = outcome.queued_seconds + 1.0, 0.75
    t = timing(outcome)
    assert t["queued"] == round(outcome.queued_seconds, 3) and t["other"] == 0.25  # the wait is not "other" any more


def test_a_group_waiting_for_a_slot_gives_up_when_the_run_is_stopped() -> None:
    pacing, stopped = Pacing(1), threading.Event()
    outcome: list[bool] = []
    with pacing.slot("build", lambda: False):
        thread = threading.Thread(target=lambda: outcome.append(pacing.slot("build", stopped.is_set).__enter__()))
        thread.start()
        time.sleep(0.3)
        stopped.set()
        thread.join(5)
    assert outcome == [False]
    with pacing.slot("build", lambda: False) as again:  # the stopped waiter took no slot with it
        assert again


def test_an_unpaced_group_never_waits() -> None:
    pacing = Pacing()
    assert pacing.first_compile is None
    with pacing.slot("run", lambda: False) as a, pacing.slot("run", lambda: False) as b:
        assert a and b


def test_only_the_first_new_env_runs_at_once_and_the_others_wait_for_it(tmp_path: Path) -> None:
    first = FirstCompile(wait_seconds=30)
    assert first.claim("cpython-3.11.7") is True
    assert first.claim("cpython-3.11.7") is False and first.claim("cpython-3.11.7") is False
    assert first.claim("cpython-3.10.14") is True  # another interpreter's bytecode: a store, and a first, of its own
    waited: list[float] = []
    thread = threading.Thread(target=lambda: waited.append(first.wait_then_seed("cpython-3.11.7", tmp_path, lambda: False)))
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()  # still waiting for the first's harvest
    first.finished("cpython-3.10.14")
    time.sleep(0.3)
    assert thread.is_alive()  # the other interpreter's first finishing does not let it go
    first.finished("cpython-3.11.7")
    thread.join(5)
    assert not thread.is_alive() and 0.7 < waited[0] < 5
    assert first.wait_then_seed("cpython-3.11.7", tmp_path, lambda: False) < 0.05  # once finished, nobody waits


def test_the_wait_is_bounded_and_stops_with_the_run(tmp_path: Path) -> None:
    bounded = FirstCompile(wait_seconds=0.3)
    bounded.claim("cpython-3.11.7")
    assert 0.3 <= bounded.wait_then_seed("cpython-3.11.7", tmp_path, lambda: False) < 2  # the first never finished: go on
    stopped = FirstCompile(wait_seconds=30)
    stopped.claim("cpython-3.11.7")
    assert stopped.wait_then_seed("cpython-3.11.7", tmp_path, lambda: True) < 0.5


def _venv(root: Path, version: str, mlflow_init: Path | None) -> Path:
    """A venv's layout as store/bytecode.py reads it (pyvenv.cfg, site-packages); mlflow/__init__.py linked from
    `mlflow_init` (as uv links a package cache's file), or none."""
    (root / "pyvenv.cfg").parent.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text(f"version_info = {version}\n")
    site = root / "lib" / f"python{version.rsplit('.', 1)[0]}" / "site-packages"
    site.mkdir(parents=True)
    if mlflow_init is not None:
        (site / "mlflow").mkdir()
        os.link(mlflow_init, site / "mlflow" / "__init__.py")
    return root


def test_envs_wait_for_a_first_only_with_the_same_python_and_mlflows_very_files(tmp_path: Path) -> None:
    from envforge.store import bytecode

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "a.py").write_text("version = 'a'\n")
    (cache / "b.py").write_text("version = 'a'\n")  # the same text, another file: another mlflow install
    one = bytecode.shared_files(_venv(tmp_path / "one", "3.11.7", cache / "a.py"))
    assert one is not None and one.startswith("cpython-3.11.7/")
    assert bytecode.shared_files(_venv(tmp_path / "two", "3.11.7", cache / "a.py")) == one
    assert bytecode.shared_files(_venv(tmp_path / "other-mlflow", "3.11.7", cache / "b.py")) not in (one, None)
    assert bytecode.shared_files(_venv(tmp_path / "other-python", "3.12.1", cache / "a.py")) not in (one, None)
    assert bytecode.shared_files(_venv(tmp_path / "no-mlflow", "3.11.7", None)) is None
