"""The registry bench's local store: V model versions over E distinct environments, logged fast, and the
peak memory of a process tree (bench/registry.py uses both).

Each of the E registered models pins its own exact `threadpoolctl` and `joblib` (pure-Python wheels,
versions scikit-learn's lower bounds allow): E genuinely different resolutions of the same other
packages, so E envs are built whether envforge keys an env by its requirement lines or by its resolved
lock. Up to len(THREADPOOLCTL) x len(JOBLIB) environments.

Logging: one real `mlflow.sklearn.log_model` per model (its first version, the model trained with its
own C), then every further version is a run and a logged model of its own holding a copy of that model's
files (MlflowClient: create_logged_model, log_model_artifacts, create_model_version; MLmodel's model_id
and run_id rewritten to the new ones): its own source, so envforge downloads each version and stores its
baseline as it would a real one's, at tens of ms a version instead of seconds. The same predictions.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

# scikit-learn 1.9 asks threadpoolctl>=3.5.0 and joblib>=1.4.0; each pair below is another exact resolution
THREADPOOLCTL = ["3.5.0", "3.6.0", "3.7.0", "3.8.0"]
JOBLIB = ["1.4.0", "1.4.2", "1.5.0", "1.5.1", "1.5.2", "1.5.3", "1.6.0"]
MAX_ENVS = len(THREADPOOLCTL) * len(JOBLIB)
POLL = 0.02  # seconds between two reads of a process's /proc/<pid>/status (peak_mb)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        try:
            versions, envs = (int(x) for x in part.strip().split("/"))
        except ValueError:
            raise SystemExit(f"--sizes: {part!r} is not V/E (versions/environments), e.g. 12/3") from None
        if envs < 1 or versions % envs or envs > MAX_ENVS:
            raise SystemExit(f"--sizes {part}: V must be a multiple of E, and 1 <= E <= {MAX_ENVS}")
        sizes.append((versions, envs))
    return sizes


def extras(envs: int) -> list[list[str]]:
    """E distinct pairs of exact pins (each env resolves to other package versions)."""
    return [[f"threadpoolctl=={THREADPOOLCTL[j % len(THREADPOOLCTL)]}", f"joblib=={JOBLIB[j // len(THREADPOOLCTL)]}"]
            for j in range(envs)]


def log_registry(root: Path, tracking: str, prefix: str, versions: int, envs: int) -> tuple[dict[str, list[str]], dict]:
    """E models x V/E versions in a local store; returns (name -> its models:/ URIs, the logging's seconds:
    `log_model` for the E first versions, `copies` for the rest and their count)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(tracking)
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    experiment = mlflow.create_experiment(prefix, artifact_location=(root / "artifacts").as_uri())
    X, y = load_iris(return_X_y=True, as_frame=True)
    base: list[str] | None = None
    by_model: dict[str, list[str]] = {}
    firsts: dict[str, Path] = {}
    t0 = time.perf_counter()
    for j, extra in enumerate(extras(envs)):
        name = f"{prefix}-{j}"
        clf = LogisticRegression(C=0.5 + 0.01 * j, max_iter=500).fit(X, y)
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.sklearn.log_model(clf, name="model", input_example=X.head(5), registered_model_name=name,
                                            pip_requirements=None if base is None else _pinned(base, extra),
                                            extra_pip_requirements=extra if base is None else None)
        firsts[name] = Path(mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=str(root / "first" / name)))
        if base is None:
            base = [line for line in (firsts[name] / "requirements.txt").read_text().splitlines() if line.strip()]
        by_model[name] = [f"models:/{name}/1"]
    logged = time.perf_counter() - t0
    t0 = time.perf_counter()
    copies = 0
    for _version in range(2, versions // envs + 1):
        for name, local in firsts.items():
            by_model[name].append(_copy_version(client, experiment, name, local, root / "copy"))
            copies += 1
    return by_model, {"log_model": logged, "log_model_count": len(firsts), "copies": time.perf_counter() - t0,
                      "copies_count": copies}


def _copy_version(client, experiment: str, name: str, local: Path, scratch: Path) -> str:
    """A new version of `name` holding a copy of the first version's files in a run and a logged model of its
    own (MLmodel's model_id and run_id rewritten: envforge stores a baseline with the logged model it names)."""
    import shutil

    mlmodel = (local / "MLmodel").read_text()
    old_id = re.search(r"^model_id: (\S+)", mlmodel, re.M).group(1)
    old_run = re.search(r"^run_id: (\S+)", mlmodel, re.M).group(1)
    run = client.create_run(experiment)
    logged = client.create_logged_model(experiment, name="model", source_run_id=run.info.run_id)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(local, scratch, ignore=shutil.ignore_patterns("registered_model_meta"))
    (scratch / "MLmodel").write_text(mlmodel.replace(old_id, logged.model_id).replace(old_run, run.info.run_id))
    client.log_model_artifacts(logged.model_id, str(scratch))
    client.finalize_logged_model(logged.model_id, "READY")
    client.set_terminated(run.info.run_id)
    made = client.create_model_version(name, f"models:/{logged.model_id}", run.info.run_id, model_id=logged.model_id)
    return f"models:/{name}/{made.version}"


def _pinned(base: list[str], extra: list[str]) -> list[str]:
    """The first model's inferred lines with this model's pins instead of its own lines for the same packages."""
    names = {re.split(r"[<>=!~ ]", line, maxsplit=1)[0].lower() for line in extra}
    return [line for line in base if re.split(r"[<>=!~ ]", line, maxsplit=1)[0].lower() not in names] + extra


def tree_rss_kb(pid: int) -> int:
    """The summed RSS (kB) of pid and every process below it, now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text(), re.M)
        except OSError:
            found = None
        total += int(found.group(1)) if found else 0
    return total


def peaks_mb(proc, poll: float = 0.2) -> tuple[float, float]:
    """Wait for proc; (its own peak RSS from VmHWM, the peak of its process tree's summed RSS sampled every
    `poll` s: the host, its runners, installers and their children), in MB."""
    host_kb = tree_kb = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            found = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.M)
        except OSError:
            found = None
        if found:
            host_kb = max(host_kb, int(found.group(1)))
        tree_kb = max(tree_kb, tree_rss_kb(proc.pid))
        time.sleep(poll)
    return host_kb / 1024, tree_kb / 1024


def peak_mb(proc: subprocess.Popen) -> float:
    """Wait for proc; its peak RSS in MB (/proc/<pid>/status VmHWM, polled every POLL s; children not counted)."""
    return peaks_mb(proc, POLL)[0]


def timed_with_peak(argv: list[str], env: dict[str, str], log_dir: Path) -> tuple[float, int, float, float]:
    """Run argv; return (seconds, exit code, peak RSS in MB of that process alone, peak of its process tree)."""
    with open(log_dir / "grouped.out", "w") as out, open(log_dir / "grouped.err", "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, text=True)
        peak, tree = peaks_mb(proc)
        secs = time.perf_counter() - t0
    return secs, proc.returncode, peak, tree
