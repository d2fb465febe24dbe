"""tracking_scope points MLflow's globals at one server for a call and leaves the caller's state as it was."""

from __future__ import annotations

import os

import mlflow
import pytest

from envforge.modeldir.resolve import tracking_scope


@pytest.fixture
def unset_mlflow_uris(monkeypatch: pytest.MonkeyPatch):
    from mlflow.tracking._model_registry import utils as registry_globals

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri(None)
    monkeypatch.setattr(registry_globals, "_registry_uri", None)
    yield
    mlflow.set_tracking_uri(None)


def test_unset_uris_stay_unset_after_the_call(unset_mlflow_uris: None, tmp_path) -> None:
    with tracking_scope("http://127.0.0.1:1"):
        assert mlflow.get_registry_uri() == "http://127.0.0.1:1"
        assert os.environ["MLFLOW_REGISTRY_URI"] == "http://127.0.0.1:1"
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    # Unset registry URI follows the tracking URI again: the caller is not pinned to the call's server.
    mlflow.set_tracking_uri(tmp_path.as_uri())
    assert mlflow.get_registry_uri() == tmp_path.as_uri()


def test_a_callers_own_uris_come_back(unset_mlflow_uris: None, monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow.set_tracking_uri("http://127.0.0.1:2")
    mlflow.set_registry_uri("http://127.0.0.1:3")
    with tracking_scope("http://127.0.0.1:1"):
        pass
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == ("http://127.0.0.1:2", "http://127.0.0.1:3")
    assert os.environ["MLFLOW_REGISTRY_URI"] == "http://127.0.0.1:3"


def test_threads_share_a_scope_for_one_server_and_wait_for_another(unset_mlflow_uris: None) -> None:
    """A registry run downloads many versions at once: the first thread to leave must not unset the
    URIs under the others, and a call for another server must not repoint them mid-download."""
    import threading

    a, b = "http://127.0.0.1:1", "http://127.0.0.1:2"
    inside = threading.Barrier(2, timeout=10)
    release = threading.Event()
    seen: dict[str, object] = {}

    def same_server(name: str) -> None:
        with tracking_scope(a):
            inside.wait()                     # both threads are in the scope at once (else this times out)
            if name == "first":
                return                        # leaves while "second" is still inside
            release.wait(10)
            seen["second"] = mlflow.get_registry_uri()  # still a, after "first" left and "other" asked for b

    def other_server() -> None:
        with tracking_scope(b):
            seen["other"] = (mlflow.get_registry_uri(), os.environ["MLFLOW_TRACKING_URI"])

    threads = [threading.Thread(target=same_server, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    threads[0].join(10)
    other = threading.Thread(target=other_server)
    other.start()
    other.join(0.5)
    assert other.is_alive() and "other" not in seen  # waiting for the scope of a to end
    release.set()
    for t in (*threads, other):
        t.join(10)
    assert seen == {"second": a, "other": (b, b)}
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
