"""`envforge cache prune --max-size` end to end: three real uv envs, pruned to a size; the least recently
used goes first, and an env a running `envforge run` is working in is kept even though it is the oldest."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.support.cli import envforge, start_envforge, wait_for_line

pytestmark = pytest.mark.slow

# Each one is already a dependency of the iris model: another env key, the same packages (uv links them from its cache).
EXTRAS = {"held": "threadpoolctl", "older": "joblib", "newer": "scipy"}


def _cache(home: Path) -> list[dict]:
    listed = envforge("cache", "list", "--json", home=home)
    assert listed.returncode == 0, listed.output
    return json.loads(listed.stdout)["envs"]


def test_max_size_removes_the_least_recently_used_first_and_keeps_the_one_in_use(sklearn_model: Path, home: Path,
                                                                                  tmp_path: Path) -> None:
    models = {}
    for role, extra in EXTRAS.items():
        models[role] = tmp_path / role
        shutil.copytree(sklearn_model, models[role])
        with (models[role] / "requirements.txt").open("a") as handle:
            handle.write(f"\n{extra}\n")
        built = envforge("run", str(models[role]), "--", "python", "-c", "pass", home=home)
        assert built.returncode == 0, built.output
    by_model = {e["models"][0]: e for e in _cache(home)}
    envs = {role: by_model[str(path)] for role, path in models.items()}
    assert len({e["path"] for e in envs.values()}) == 3 and all(e["complete"] and e["size"] > 10**6 for e in envs.values())

    running = start_envforge("run", str(models["held"]), "--", "python", "-c",
                             "import time; print('ready', flush=True); time.sleep(600)", home=home)
    try:
        wait_for_line(running, "ready")
        # Last use, oldest first: the held env (30 days ago), then `older` (20), then `newer` (10).
        for role, days in (("held", 30), ("older", 20), ("newer", 10)):
            moment = time.time() - days * 86400
            os.utime(Path(envs[role]["path"]) / ".envforge-used", (moment, moment))
        # Room for the held env and `newer`, not for `older` as well: the limit is the cache on disk, the env in use counts.
        limit = envs["held"]["size"] + envs["newer"]["size"] + envs["older"]["size"] // 2

        dry = envforge("cache", "prune", "--max-size", str(limit), "--dry-run", home=home)
        assert dry.returncode == 0, dry.output
        assert f"would remove {Path(envs['older']['path']).name}" in dry.stdout, dry.stdout
        assert "would remove 1 env(s)" in dry.stdout and all(Path(e["path"]).is_dir() for e in envs.values())

        pruned = envforge("cache", "prune", "--max-size", str(limit), "--json", home=home)
        assert pruned.returncode == 0, pruned.output
        result = json.loads(pruned.stdout)
        assert [e["path"] for e in result["removed"]] == [envs["older"]["path"]]
        assert [e["path"] for e in result["in_use"]] == [envs["held"]["path"]]
        assert [e["path"] for e in result["kept"]] == [envs["newer"]["path"]]
        assert result["freed"] == result["removed"][0]["size"] > 10**6
        assert not Path(envs["older"]["path"]).exists()
        assert (Path(envs["held"]["path"]) / ".envforge-state.json").is_file()
        assert (Path(envs["newer"]["path"]) / ".envforge-state.json").is_file()

        # A limit below the held env alone: `newer` goes too, the held env stays, and the console says why.
        console = envforge("cache", "prune", "--max-size", "1M", home=home)
        assert console.returncode == 0, console.output
        assert f"removed {Path(envs['newer']['path']).name}" in console.stdout
        assert f"kept {Path(envs['held']['path']).name}: in use by another envforge process" in console.stdout
        assert "over the limit" in console.stderr and "prune again when they are done" in console.stderr, console.output
        assert "removed 1 env(s)" in console.stdout and "1 left" in console.stdout
        assert [e["path"] for e in _cache(home)] == [envs["held"]["path"]]
    finally:
        running.terminate()
        running.wait(timeout=60)

    bad = envforge("cache", "prune", "--max-size", "lots", home=home)
    assert bad.returncode == 2 and "'lots' is not a size" in bad.output, bad.output
