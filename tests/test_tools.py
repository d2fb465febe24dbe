"""envforge/backends/tools.py: uv's executable, asked for from many threads at once (a registry run's groups)."""

import sysconfig
import threading

from envforge.backends import tools


def test_uv_is_found_from_many_threads_at_once_while_sysconfig_is_still_unread(monkeypatch) -> None:
    """CPython 3.11's sysconfig fills its config vars on the first read, and a thread reading meanwhile can get
    None (gh-92452): uv.find_uv_bin then raised TypeError in a real 4-model verify-registry. Each trial puts
    sysconfig and the lookup back to unread (private attributes, reset here only) and starts 16 threads at once;
    before the lock about one trial in 20 raised."""
    found: set[str] = set()
    for _ in range(100):
        monkeypatch.setattr(sysconfig, "_CONFIG_VARS", None)
        monkeypatch.setattr(tools, "_uv", None, raising=False)
        barrier, errors = threading.Barrier(16), []

        def ask(barrier: threading.Barrier = barrier, errors: list = errors) -> None:
            barrier.wait()
            try:
                found.add(tools.uv_bin())
            except Exception as exc:  # noqa: BLE001 - what the race raised
                errors.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    assert len(found) == 1 and found.pop().endswith("uv")
