"""Issue 28: a report format is one module. The reporter below is defined here, installed the documented way (an
`envforge.reporters` entry point, in a distribution put on PYTHONPATH) and subscribed to a real `verify-registry`
run over two logged versions (one passes, one fails) on a real `mlflow server`, then to a real `verify`: it
must receive every verdict the --json report lists, each once, and the run's start and end around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import envforge
from tests.support.models import wrong_expectations
from tests.support.register import register_dir

pytestmark = pytest.mark.slow

EVENTS_REPORTER = '''
import json
import os

from envforge.reporters.stream import Reporter


class Events(Reporter):
    """Every event as a JSON line, appended to $EVENTS_FILE (the option that asks for this format)."""

    def __init__(self, path):
        self.path = path

    def _write(self, **event):
        with open(self.path, "a") as handle:
            handle.write(json.dumps(event) + "\\n")

    def started(self, event):
        self._write(kind="started", command=event.command, planned=event.planned)

    def verdict(self, event):
        self._write(kind="verdict", label=event.label, uri=event.result.uri, status=event.result.status)

    def ended(self, event):
        self._write(kind="ended", results=[[r.uri, r.status] for r in event.results])


def reporter(context):
    path = os.environ.get("EVENTS_FILE")
    return Events(path) if path else None
'''


def _install(site: Path, module: str, text: str) -> None:
    """A distribution in `site` whose `envforge.reporters` entry point is `module` (what `pip install` would leave)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(text)
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[envforge.reporters]\nevents = {module}\n")


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _delivered(events: list[dict], report: Path) -> None:
    """The events are started, one verdict per result of the --json report (each once), ended with the same results."""
    results = [[r["uri"], r["status"]] for r in json.loads(report.read_text())["results"]]
    assert [e["kind"] for e in events] == ["started"] + ["verdict"] * len(results) + ["ended"], events
    assert events[0]["planned"] == len(results)
    assert sorted([e["uri"], e["status"]] for e in events[1:-1]) == sorted(results)
    assert events[-1]["results"] == results


def test_a_reporter_added_as_one_module_receives_every_verdict(mlflow_server: str, sklearn_model: Path, home: Path,
                                                               tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "envforge_events_reporter", EVENTS_REPORTER)
    assert envforge("record", str(sklearn_model), home=home).returncode == 0
    wrong = tmp_path / "wrong"
    wrong_expectations(sklearn_model, wrong, row=0)
    assert register_dir(mlflow_server, "events-iris", sklearn_model) == "models:/events-iris/1"
    assert register_dir(mlflow_server, "events-iris", wrong) == "models:/events-iris/2"
    env = {"PYTHONPATH": str(site), "EVENTS_FILE": str(tmp_path / "registry-events.jsonl")}

    run = envforge("verify-registry", "--tracking-uri", mlflow_server, "--models", "events-iris", "--json",
                   str(tmp_path / "registry.json"), home=home, env=env)
    assert run.returncode == 1, run.output  # version 2 fails
    events = _events(tmp_path / "registry-events.jsonl")
    assert events[0]["command"] == "verify-registry"
    _delivered(events, tmp_path / "registry.json")
    assert sorted(e["label"] for e in events[1:-1]) == ["events-iris/1", "events-iris/2"]
    assert sorted(e["status"] for e in events[1:-1]) == ["failed", "passed"]

    env["EVENTS_FILE"] = str(tmp_path / "verify-events.jsonl")
    one = envforge("verify", str(wrong), "--json", str(tmp_path / "verify.json"), home=home, env=env)
    assert one.returncode == 1, one.output
    events = _events(tmp_path / "verify-events.jsonl")
    assert events[0]["command"] == "verify" and events[1]["label"] == str(wrong)
    _delivered(events, tmp_path / "verify.json")



def test_a_report_plug_in_that_cannot_load_is_named_before_any_work(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "envforge_broken_reporter", "import a_module_that_is_not_installed\n")
    run = envforge("verify", str(sklearn_model), home=home, env={"PYTHONPATH": str(site)})
    assert run.returncode == 2, run.output
    assert "The report plug-in events (envforge_broken_reporter, entry point envforge.reporters) could not be loaded" in run.stderr
    assert "ModuleNotFoundError" in run.stderr and "Traceback" not in run.output
    assert not (home / "envs").exists() or not any((home / "envs").iterdir())  # nothing built
