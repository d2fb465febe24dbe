"""verify-registry against a real `mlflow server`: 6 registered versions over 3 environments (one
broken, one uninstallable), the local executor and a real Dask cluster, reports, tags, and the
HTML report rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from tests.support.bytecode_store import private_bytecode_store
from tests.support.cli import envforge
from tests.support.models import SCALE
from tests.support.oracle import assert_same_as_truth

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _private_bytecode_store() -> Iterator[None]:
    """These tests read the store in their home (conftest's shared one would hold other tests' .pyc files)."""
    with private_bytecode_store():
        yield

CODE = SCALE  # x * {factor}
# name, version -> extra pin (the pin decides the environment), factor. fraud-c pins a six older than the one fraud-a's
# requirements resolve to: the same six would make their resolutions identical, and one env (building/same_resolution.py).
MODELS = [("fraud-a", None, 2), ("fraud-a", None, 3), ("fraud-b", "six==1.16.0", 2), ("fraud-b", "six==1.16.0", 5),
          ("fraud-c", "six==1.15.0", 7), ("fraud-bad", "six==0.0.0.1", 1)]
BROKEN, UNINSTALLABLE = "models:/fraud-b/2", "models:/fraud-bad/1"
EXPECTED = {"models:/fraud-a/1": "passed", "models:/fraud-a/2": "passed", "models:/fraud-b/1": "passed",
            BROKEN: "failed", "models:/fraud-c/1": "passed", UNINSTALLABLE: "error"}


def _shift_floats(value: object) -> object:
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, list):
        return [_shift_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _shift_floats(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def registry(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Log, register and record the six versions; then store wrong expectations for the broken one."""
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from envforge.commands.record import record
    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import pinned_requirements

    root = tmp_path_factory.mktemp("registry-models")
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    with tracking_scope(mlflow_server):
        mlflow.set_experiment("envforge-registry")
        model_ids = {}
        for i, (name, pin, factor) in enumerate(MODELS):
            source = root / f"model_{i}.py"
            source.write_text(CODE.format(factor=factor))
            with mlflow.start_run():
                info = mlflow.pyfunc.log_model(name="model", python_model=str(source), input_example=pd.DataFrame({"x": [1.0, 2.0, 3.0]}),
                                        pip_requirements=pinned_requirements() + ([pin] if pin else []), registered_model_name=name)
            model_ids[f"models:/{name}/{info.registered_model_version}"] = info.model_id
    client.set_registered_model_alias("fraud-a", "champion", "2")
    client.set_registered_model_alias("fraud-b", "candidate", "2")
    os.environ["ENVFORGE_HOME"] = str(root / "recorder-home")
    try:
        recorded = {uri: record(uri, tracking_uri=mlflow_server) for uri in EXPECTED if uri != UNINSTALLABLE}
    finally:
        del os.environ["ENVFORGE_HOME"]
    broken = Path(recorded[BROKEN].local_copy)
    document = json.loads(broken.read_text())
    for example in document["examples"]:
        example["prediction"] = _shift_floats(example["prediction"])
    broken.write_text(json.dumps(document))
    client.log_model_artifact(model_ids[BROKEN], str(broken))  # replaces the recorded file on the server
    return mlflow_server


def _built_envs(home: Path) -> list[Path]:
    envs = home / "envs"
    return sorted(p for p in envs.iterdir() if (p / ".envforge-state.json").is_file()) if envs.is_dir() else []


def _factors() -> dict[str, int]:
    """models:/NAME/VERSION -> the factor its model multiplies by, as MODELS registers them (versions count from 1)."""
    versions: dict[str, int] = {}
    factors = {}
    for name, _, factor in MODELS:
        versions[name] = versions.get(name, 0) + 1
        factors[f"models:/{name}/{versions[name]}"] = factor
    return {uri: factor for uri, factor in factors.items() if uri != UNINSTALLABLE}


def _statuses(report: dict) -> dict[str, str]:
    return {r["uri"]: r["status"] for r in report["results"]}


@pytest.fixture(scope="module")
def local_run(registry: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("local-run")
    home = out / "home"
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", "fraud-*", "--workers", "2",
                   "--json", str(out / "r.json"), "--junit", str(out / "r.xml"), "--html", str(out / "r.html"),
                   "--tag-results", home=home)
    return {"run": run, "out": out, "home": home, "report": json.loads((out / "r.json").read_text())}


def test_local_run_reports_4_passed_1_failed_1_error_with_3_envs_built(local_run: dict) -> None:
    run, report = local_run["run"], local_run["report"]
    assert run.returncode == 1, run.output
    assert "Traceback" not in run.output
    assert _statuses(report) == EXPECTED
    assert report["registry"]["summary"] == {"passed": 4, "failed": 1, "error": 1, "unverified": 0}
    assert report["registry"]["environments"]["built"] == 3 and report["registry"]["environments"]["failed"] == 1
    assert len(_built_envs(local_run["home"])) == 3  # exactly 3 envs in the cache; the uninstallable one left nothing
    by_uri = {r["uri"]: r for r in report["results"]}
    assert "six" in by_uri[UNINSTALLABLE]["error"]["message"]
    assert by_uri[BROKEN]["comparison"]["ok"] is False
    # the two models of one environment share its key and its build
    assert by_uri["models:/fraud-a/1"]["env"]["key"] == by_uri["models:/fraud-a/2"]["env"]["key"]
    assert len({by_uri[u]["env"]["key"] for u in EXPECTED if u != UNINSTALLABLE}) == 3
    build = next(s for s in by_uri["models:/fraud-a/1"]["steps"] if s["name"] == "build")
    assert "shared by 2 model(s)" in build["detail"]
    # An oracle independent of the runner: each version's answer from its rebuilt env is the test's own x * factor
    # (the broken version too: its model answers right, its stored expectations are what is wrong).
    for uri, factor in _factors().items():
        assert_same_as_truth(by_uri[uri], pd.DataFrame({"x": [1.0, 2.0, 3.0]})["x"] * factor)
    junit = ET.parse(local_run["out"] / "r.xml").getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) == 6
    assert len(junit.findall(".//testcase/failure")) == 1 and len(junit.findall(".//testcase/error")) == 1


def test_each_result_carries_the_same_sandbox_section_as_verify(local_run: dict, registry: str, tmp_path: Path) -> None:
    """Issue 28: the registry path composed verify's steps without note_sandbox, so its results had no `sandbox`."""
    by_uri = {r["uri"]: r for r in local_run["report"]["results"]}
    uri = "models:/fraud-a/1"
    run = envforge("verify", uri, "--tracking-uri", registry, "--json", str(tmp_path / "one.json"), home=local_run["home"])
    assert run.returncode == 0, run.output
    alone = json.loads((tmp_path / "one.json").read_text())["results"][0]
    assert alone["sandbox"], alone
    for u in EXPECTED:
        if u == UNINSTALLABLE:  # never ran: no sandbox to report
            continue
        section = by_uri[u]["sandbox"]
        assert set(section) - {"bytecode"} == set(alone["sandbox"]) - {"bytecode"}, (u, section)
        assert section["network"] == alone["sandbox"]["network"]
        assert [w for w in by_uri[u]["warnings"] if "unconfined" in w] == [w for w in alone["warnings"] if "unconfined" in w]
    # Not only the sandbox: every section verify fills, verify-registry fills (artifacts, drift, model_warnings, env, ...)
    mine = by_uri[uri]
    assert _filled(mine) == _filled(alone)
    assert [s["name"] for s in mine["steps"]] == [s["name"] for s in alone["steps"]]
    assert mine["artifacts"]["verified"] is True and mine["drift"] is not None, mine


def test_the_report_says_where_each_environments_time_went(local_run: dict) -> None:
    """Issue 15: per group resolve, build, runner (models + start-up), and the run's plan time."""
    section = local_run["report"]["registry"]
    assert section["plan_seconds"] > 0
    ran = [e for e in section["envs"] if e["status"] == "built"]
    assert len(ran) == 3
    for env in ran:
        t = env["timing"]
        assert t["build"] == env["seconds"] > 0
        assert t["runner"] > 0 and 0 < t["models"] <= t["runner"]
        assert t["start_up"] == pytest.approx(t["runner"] - t["models"], abs=0.002)
        # two models in one runner: the start-up (interpreter, import mlflow) is paid once, not per model
        assert t["start_up"] > 0.2
        assert t["harvest"] > 0  # a new env: its fresh bytecode was stored
        steps = t["resolve"] + t["build"] + t["runner"] + t["harvest"] + t["warmup"] + t["queued"]
        assert t["total"] >= steps - 0.004 and t["other"] == pytest.approx(t["total"] - steps, abs=0.004)
    failed = next(e for e in section["envs"] if e["status"] == "failed")
    assert failed["timing"]["runner"] == 0 and failed["timing"]["build"] > 0


def test_the_runs_new_envs_compile_the_packages_they_share_once(local_run: dict) -> None:
    """Issue 15: the 3 new envs hold the same mlflow files (linked from uv's cache). The first one built runs at
    once; the others, built beside it, wait for its compile to be harvested and take its .pyc files
    (registry/pacing.py): all three envs' mlflow/__init__ bytecode is one file, compiled once. Without the wait,
    the env built beside the first compiles its own (another inode)."""
    pycs = [next((env / "lib").glob("python3.*/site-packages/mlflow/__pycache__/__init__.cpython-*.pyc"))
            for env in _built_envs(local_run["home"])]
    assert len(pycs) == 3
    assert len({(p.stat().st_dev, p.stat().st_ino) for p in pycs}) == 1, [p.stat().st_ino for p in pycs]
    timings = [e["timing"] for e in local_run["report"]["registry"]["envs"] if e["status"] == "built"]
    assert sum(t["warmup"] == 0 for t in timings) >= 1  # the first never waits
    assert all(t["warmup"] < 60 for t in timings)


def test_the_next_nights_new_envs_the_store_seeded_wait_for_none(local_run: dict, registry: str, tmp_path: Path) -> None:
    """The env cache emptied, the bytecode store kept (a CI cache that kept one and not the other): each new env
    has its mlflow bytecode at its build already, so none waits for a first compile; the versions pass as before."""
    home = tmp_path / "home"
    shutil.copytree(local_run["home"] / "bytecode", home / "bytecode", copy_function=os.link)  # links: the same inodes
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", "fraud-*", "--workers", "2",
                   "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 1, run.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert _statuses(report) == EXPECTED
    built = [e for e in report["registry"]["envs"] if e["status"] == "built"]
    assert len(built) == 3
    assert [e["timing"]["warmup"] for e in built] == [0.0, 0.0, 0.0]
    for env in _built_envs(home):  # linked from the store at the build, not compiled by this run
        (pyc,) = (env / "lib").glob("python3.*/site-packages/mlflow/__pycache__/__init__.cpython-*.pyc")
        assert pyc.stat().st_nlink >= 2


def test_tags_are_written_and_read_back_with_status(local_run: dict, registry: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    tags = MlflowClient(tracking_uri=registry, registry_uri=registry).get_model_version("fraud-c", "1").tags
    assert tags["envforge.status"] == "passed" and tags["envforge.version"]
    assert tags["envforge.env_key"] == {r["uri"]: r for r in local_run["report"]["results"]}["models:/fraud-c/1"]["env"]["key"]
    assert tags["envforge.verified_at"].startswith("20")
    champion = envforge("status", "models:/fraud-a@champion", "--tracking-uri", registry, home=tmp_path)
    assert champion.returncode == 0, champion.output
    assert "passed" in champion.stdout and "envforge.env_key" in champion.stdout
    candidate = envforge("status", "models:/fraud-b@candidate", "--tracking-uri", registry, home=tmp_path)
    assert candidate.returncode == 1 and "failed" in candidate.stdout, candidate.output
    bad = envforge("status", "models:/fraud-bad/1", "--tracking-uri", registry, home=tmp_path)
    assert bad.returncode == 1 and "fraud-bad/1: error" in bad.stdout, bad.output  # the uninstallable version's tag


def test_dry_run_selects_by_alias_and_builds_nothing(registry: str, tmp_path: Path) -> None:
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", "fraud-*", "--aliases", "champion,candidate",
                   "--dry-run", home=tmp_path / "home")
    assert run.returncode == 0, run.output
    assert "2 model version(s), 2 environment(s)" in run.stdout
    assert "fraud-a/2 @champion" in run.stdout and "fraud-b/2 @candidate" in run.stdout and "fraud-a/1" not in run.stdout
    assert _built_envs(tmp_path / "home") == []


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_results = self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table" and ("id", "results") in attrs:
            self._in_results = True
        elif self._in_results and tag == "tr":
            self.rows.append([])
        elif self._in_results and tag == "td":
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_results = False
        elif tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell and self.rows:
            self.rows[-1][-1] += data


def test_html_report_lists_every_model_and_renders_in_headless_chromium(local_run: dict, tmp_path: Path) -> None:
    page = local_run["out"] / "r.html"
    text = page.read_text()
    assets = re.sub(r"<p id='meta'.*?</p>", "", text).replace("http://www.w3.org/2000/svg", "")  # the meta line names the server
    assert "<svg" in text and "http://" not in assets  # self-contained
    assert re.search(r"<p id='meta'[^>]*>\d{4}-\d{2}-\d{2}T[^<]* &middot; tracking server http://127\.0\.0\.1:\d+ &middot; envforge ", text)
    parser = _Rows()
    parser.feed(text)
    cells = [r for r in parser.rows if r]
    assert sorted((r[0], r[1]) for r in cells) == sorted((u.split("/")[1], u.split("/")[2]) for u in EXPECTED)
    for model, version, _alias, backend, status, *_ in cells:  # the status cell: status, then the reason
        assert backend == "uv" and status.startswith(EXPECTED[f"models:/{model}/{version}"]), (model, version, status)
    chromium = shutil.which("chromium")
    assert chromium, "scripts/test.sh installs Debian's chromium package"
    shot = tmp_path / "report.png"
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
                           f"--screenshot={shot}", "--window-size=1200,900", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a rendered page, not a blank one
    assert int.from_bytes(data[16:20], "big") == 1200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dask(*args: str, home: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "ENVFORGE_HOME": str(home)}
    return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *args], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)


def test_same_run_on_a_real_dask_cluster_gives_the_same_results(local_run: dict, registry: str, tmp_path: Path) -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", home=tmp_path / "sched",
                   log=tmp_path / "scheduler.log")]
    try:
        time.sleep(2)
        for i in (1, 2):
            procs.append(_dask("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1",
                               "--name", f"w{i}", home=tmp_path / f"worker{i}", log=tmp_path / f"worker{i}.log"))
        _wait_for_workers(address, 2)
        previous = local_run["report"]
        previous["results"] = [dict(r, status="failed") if r["uri"] == "models:/fraud-a/1" else r for r in previous["results"]]
        (tmp_path / "previous.json").write_text(json.dumps(previous))
        run = envforge("verify-registry", "--tracking-uri", registry, "--models", "fraud-*", "--executor", "dask",
                       "--scheduler", address, "--json", str(tmp_path / "d.json"), "--previous", str(tmp_path / "previous.json"),
                       home=tmp_path / "client")
        assert run.returncode == 1, run.output + "".join((tmp_path / f"worker{i}.log").read_text()[-2000:] for i in (1, 2))
        report = json.loads((tmp_path / "d.json").read_text())
        assert _statuses(report) == EXPECTED
        assert report["registry"]["changes"] == [{"uri": "models:/fraud-a/1", "label": "fraud-a/1", "before": "failed", "after": "passed"}]
        assert "changed: fraud-a/1: failed -> passed" in run.stdout
        # built on the workers, in their own caches: 3 envs in all, none on the client
        assert len(_built_envs(tmp_path / "worker1")) + len(_built_envs(tmp_path / "worker2")) == 3
        assert _built_envs(tmp_path / "client") == []
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, 15)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(count, timeout=60)


def test_ctrl_c_stops_cleanly_and_still_writes_the_partial_report(registry: str, tmp_path: Path) -> None:
    import signal

    from tests.support.cli import start_envforge

    proc = start_envforge("verify-registry", "--tracking-uri", registry, "--models", "fraud-*", "--workers", "3",
                          "--json", str(tmp_path / "partial.json"), "--junit", str(tmp_path / "partial.xml"),
                          "--html", str(tmp_path / "partial.html"), home=tmp_path / "home")
    assert proc.stderr is not None
    for line in proc.stderr:  # the plan is printed just before the groups start building (a fresh cache: builds take seconds)
        if line.startswith("env "):
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    stdout, _ = proc.communicate(timeout=120)
    _ = _ or ""
    assert proc.returncode == 130, stdout
    assert time.monotonic() - start < 60
    assert "interrupted: partial results" in stdout
    report = json.loads((tmp_path / "partial.json").read_text())
    assert report["registry"]["interrupted"] is True
    assert sorted(r["uri"] for r in report["results"]) == sorted(EXPECTED)  # every selected version is listed
    assert any(r["reason"].startswith("interrupted") for r in report["results"])
    # Interrupted is INTERRUPTED everywhere, never blamed on the model (issue 30): a version has its own verdict or none
    cut = [r for r in report["results"] if r["status"] == "interrupted"]
    assert cut and all(r["error"]["kind"] == "Interrupted" for r in cut)
    assert all(r["status"] in (EXPECTED[r["uri"]], "interrupted") for r in report["results"]), report["results"]
    assert all(r["status"] == "interrupted" for r in report["results"] if r["reason"].startswith("interrupted"))
    said = [line for line in _.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert not [line for line in said if "interrupted" in line or "code -9" in line], said
    assert len([line for line in _.splitlines() if line.startswith("INTERRUPTED")]) == len(cut), _
    cases = ET.parse(tmp_path / "partial.xml").getroot().findall(".//testcase")
    assert len(cases) == 6
    assert sum(1 for c in cases if (c.find("skipped") is not None and c.find("skipped").get("type") == "interrupted")) == len(cut)
    assert (tmp_path / "partial.html").read_text().count("data-status='interrupted'") == len(cut)


def test_docker_backend_verifies_two_versions_with_one_image_build(registry: str, tmp_path: Path) -> None:
    """verify-registry goes through the backend's executor: with --backend docker both versions of fraud-a run in
    containers of one env image, built once."""
    from tests.support.docker import BASE_IMAGE, client, start_engine

    host = start_engine()
    home = tmp_path / "home"
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", "fraud-a", "--backend", "docker",
                   "--base-image", BASE_IMAGE, "--json", str(tmp_path / "r.json"), home=home, env={"DOCKER_HOST": host}, timeout=1800)
    assert run.returncode == 0, run.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert _statuses(report) == {"models:/fraud-a/1": "passed", "models:/fraud-a/2": "passed"}
    assert report["registry"]["environments"]["built"] + report["registry"]["environments"]["reused"] == 1
    results = report["results"]
    assert {r["backend"] for r in results} == {"docker"} and len({r["env"]["key"] for r in results}) == 1
    key = results[0]["env"]["key"]
    # One env image for both. (The engine outlives test runs: model images other tests kept with --keep-image carry the
    # same key label, so only env images are counted; this run's model images are removed, checked by their ids.)
    images = [i for i in client(host).images.list() if i.labels.get("org.envforge.key") == key]
    env_images = [i for i in images if any(t.startswith("envforge-env:") for t in i.tags)]
    assert len(env_images) == 1, [i.tags for i in images]
    left = {(r.get("image") or {}).get("model_image_id") for r in results} & {i.id for i in images}
    assert not left, f"this run's model images were not removed: {left}"
    env_dirs = [p for p in (home / "envs").iterdir() if not p.name.startswith(".")]
    assert [p.name.split("-")[0] for p in env_dirs] == ["docker"]
    for result in results:
        build = next(s for s in result["steps"] if s["name"] == "build")
        assert "shared by 2 model(s)" in build["detail"]
        assert result["env"]["runner_python"] and result["comparison"]["ok"] is True
        assert result["sandbox"]["home"] == "container"  # the container's confinement, as verify reports it


def _filled(value: object) -> object:
    """Which sections and fields of a JSON result hold something (recursively), whatever their values: a step
    composed into verify's path and not verify-registry's (or the other way) shows as a difference (issue 28)."""
    if isinstance(value, dict):
        return {k: _filled(v) for k, v in value.items() if v is not None and k != "bytecode"}  # bytecode: a fresh env's
    return type(value).__name__


WARNS = """
import warnings

import mlflow
from mlflow.pyfunc import PythonModel


class Model(PythonModel):
    def predict(self, context, model_input, params=None):
        warnings.warn("gate-warn predicts with a warning", UserWarning)
        return model_input["x"] * 2


mlflow.models.set_model(Model())
"""


@pytest.fixture(scope="module")
def gate_versions(registry: str, local_run: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two more versions in fraud-a's environment (recorded in local_run's home: its env is reused), named outside
    fraud-*: gate-swap, whose code file is replaced on the server after `record`, and gate-warn, whose predict warns."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import pinned_requirements

    root = tmp_path_factory.mktemp("gate-models")
    (root / "gate_swap.py").write_text(CODE.format(factor=2))
    (root / "gate_warn.py").write_text(WARNS)
    ids = {}
    with tracking_scope(registry):
        mlflow.set_experiment("envforge-registry-gates")
        for name, source in (("gate-swap", "gate_swap.py"), ("gate-warn", "gate_warn.py")):
            with mlflow.start_run():
                info = mlflow.pyfunc.log_model(name="model", python_model=str(root / source), registered_model_name=name,
                                               input_example=pd.DataFrame({"x": [1.0, 2.0, 3.0]}),
                                               pip_requirements=pinned_requirements())
            ids[name] = info.model_id
            recorded = envforge("record", f"models:/{name}/1", "--tracking-uri", registry, home=local_run["home"])
            assert recorded.returncode == 0, recorded.output
    replaced = root / "replaced" / "gate_swap.py"
    replaced.parent.mkdir()
    replaced.write_text(CODE.format(factor=9))
    MlflowClient(tracking_uri=registry).log_model_artifact(ids["gate-swap"], str(replaced))  # after record
    return {"swap": "models:/gate-swap/1", "warn": "models:/gate-warn/1"}


def test_a_version_whose_files_changed_after_record_fails_before_any_build(gate_versions: dict, registry: str,
                                                                            tmp_path: Path) -> None:
    """verify's artifact-digest gate in verify-registry too: FAILED artifact-changed, the file named, nothing built."""
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", "gate-swap", "--json", str(tmp_path / "r.json"),
                   home=tmp_path / "home")  # a fresh cache: the replaced file is what is downloaded
    assert run.returncode == 1, run.output
    report = json.loads((tmp_path / "r.json").read_text())
    [result] = report["results"]
    assert result["status"] == "failed" and result["error"]["kind"] == "artifact-changed", result
    assert [c["path"] for c in result["artifacts"]["changes"]] == ["gate_swap.py"]
    assert [s["name"] for s in result["steps"]] == ["resolve"] and _built_envs(tmp_path / "home") == []
    assert report["registry"]["environments"] == {"built": 0, "reused": 0, "failed": 0, "interrupted": 0, "skipped": 1}
    alone = envforge("verify", gate_versions["swap"], "--tracking-uri", registry, "--json", str(tmp_path / "one.json"),
                     home=tmp_path / "alone")
    assert alone.returncode == 1, alone.output
    verified = json.loads((tmp_path / "one.json").read_text())["results"][0]
    assert verified["reason"] == result["reason"] and _filled(result) == _filled(verified)


def test_fail_on_gives_the_gates_exit_code_and_the_same_result_as_verify(gate_versions: dict, registry: str, local_run: dict,
                                                                         tmp_path: Path) -> None:
    from envforge.errors import EXIT_WARNINGS

    run = envforge("verify-registry", "--tracking-uri", registry, "--models", "gate-warn", "--fail-on", "warnings",
                   "--json", str(tmp_path / "r.json"), home=local_run["home"])
    assert run.returncode == EXIT_WARNINGS, run.output
    [result] = json.loads((tmp_path / "r.json").read_text())["results"]
    assert result["status"] == "failed" and result["reason"].startswith("--fail-on warnings: "), result["reason"]
    assert any("gate-warn predicts with a warning" in w for w in result["model_warnings"]), result["model_warnings"]
    alone = envforge("verify", gate_versions["warn"], "--tracking-uri", registry, "--fail-on", "warnings",
                     "--json", str(tmp_path / "one.json"), home=local_run["home"])
    assert alone.returncode == EXIT_WARNINGS, alone.output
    verified = json.loads((tmp_path / "one.json").read_text())["results"][0]
    assert verified["reason"] == result["reason"] and _filled(result) == _filled(verified)
    assert [s["name"] for s in result["steps"]] == [s["name"] for s in verified["steps"]]
