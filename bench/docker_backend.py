"""The docker backend next to `mlflow models generate-dockerfile` + a build, on bench/run.py's model.

Called by bench/run.py after its other rounds (skip with --no-docker). It starts the engine and the
debootstrap base image with scripts/setup-docker.sh (no registry is reachable here). Per round:

- `docker_cold`: `envforge verify DIR --backend docker --base-image BASE --json F` after `docker rmi` of
  the env image and with an empty ENVFORGE_HOME/envs (the base image and the layers every model shares,
  user and uv, stay cached);
- `docker_warm`: the same again (env image reused, checked via `env.reused`);
- `mlflow_dockerfile`: `mlflow models generate-dockerfile -m DIR -d OUT`;
- `mlflow_build_as_is`: a build of OUT as generated; its FROM is a registry image, so it is recorded
  as failed when the engine cannot pull it;
- `mlflow_build`: a build of OUT (`nocache`) with its FROM replaced by BASE plus `python` -> python3
  and no PEP 668 marker (what a python:X-slim image has); that shim is built once, untimed.

envforge's numbers include loading the model and predicting in a container; MLflow's only build.
Both builds use the same engine, host networking and the same package index.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

Runner = Callable[[list[str], dict[str, str]], tuple[float, subprocess.CompletedProcess]]
EnvMaker = Callable[..., dict[str, str]]
ROOT = Path(__file__).resolve().parent.parent
BASE = "envforge-test-base:bookworm"
SHIM = "envforge-bench-pyslim:bookworm"
SHIM_DOCKERFILE = f"FROM {BASE}\nRUN ln -sf /usr/bin/python3 /usr/bin/python && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED\n"


def _engine() -> tuple[str, object]:
    import docker

    host = subprocess.run([str(ROOT / "scripts" / "setup-docker.sh")], capture_output=True, text=True, check=True).stdout.split()[-1]
    return host, docker.DockerClient(base_url=host, version="auto", timeout=3600)


def _verify(envforge: str, model_dir: Path, home: Path, report: Path, run: Runner, env: EnvMaker, host: str, want_reused: bool,
            want_built: bool | None = None) -> dict:
    secs, proc = run([envforge, "verify", str(model_dir), "--backend", "docker", "--base-image", BASE, "--json", str(report)],
                     env(ENVFORGE_HOME=str(home), DOCKER_HOST=host))
    result = json.loads(report.read_text())["results"][0] if report.is_file() else {}
    if proc.returncode != 0 or result.get("status") != "passed":
        raise SystemExit(f"envforge verify --backend docker failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    built = result["image"]["env_image_built"]
    if result["env"]["reused"] is not want_reused or (want_built is not None and built is not want_built):
        raise SystemExit(f"expected env.reused={want_reused}, got {result['env']['reused']} / {result['image']}")
    return {"seconds": secs, "env_reused": want_reused, "image": result["image"]["env_image"],
            "steps": {s["name"]: s["seconds"] for s in result["steps"]}}


def _build(client: object, context: Path, tag: str, from_line: str | None) -> dict:
    """Build a directory with the SDK (classic builder, host network), FROM optionally replaced."""
    dockerfile = (context / "Dockerfile").read_text()
    if from_line:
        dockerfile = re.sub(r"^FROM .*$", from_line, dockerfile, count=1, flags=re.M)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(context), arcname=".", filter=lambda i: None if i.name == "./Dockerfile" else i)
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    start, error = time.perf_counter(), None
    for chunk in client.api.build(fileobj=buffer, custom_context=True, tag=tag, network_mode="host", rm=True, forcerm=True,  # type: ignore[attr-defined]
                                  nocache=True, decode=True):
        if "error" in chunk:
            error = re.sub(r"[\w.-]+\.io\b", "<registry>", str(chunk["error"]).strip())  # no registry host in results
            break
    sample = {"seconds": time.perf_counter() - start, "ok": error is None}
    if error:
        sample["error"] = error
    return sample


def measure(model_dir: Path, tmp: Path, repeat: int, *, run: Runner, env: EnvMaker, envforge: str, mlflow: str) -> dict[str, list[dict]]:
    host, client = _engine()
    home = tmp / "home-docker"
    print("untimed warm-up: envforge verify --backend docker (builds the shared layers)")
    first = _verify(envforge, model_dir, home, tmp / "docker-warmup.json", run, env, host, want_reused=False)
    print(f"  {first['seconds']:.2f} s, image {first['image']}")
    for _ in client.api.build(fileobj=io.BytesIO(SHIM_DOCKERFILE.encode()), tag=SHIM, rm=True, decode=True):  # type: ignore[attr-defined]
        pass
    names = ("docker_cold", "docker_warm", "mlflow_dockerfile", "mlflow_build_as_is", "mlflow_build")
    samples: dict[str, list[dict]] = {name: [] for name in names}
    for i in range(1, repeat + 1):
        shutil.rmtree(home / "envs", ignore_errors=True)  # untimed: a cold env cache and no env image
        client.images.remove(first["image"])  # type: ignore[attr-defined]
        out = tmp / f"mlflow-docker-{i}"
        round_ = {"docker_cold": _verify(envforge, model_dir, home, tmp / "docker-cold.json", run, env, host, want_reused=False, want_built=True),
                  "docker_warm": _verify(envforge, model_dir, home, tmp / "docker-warm.json", run, env, host, want_reused=True, want_built=False)}
        secs, proc = run([mlflow, "models", "generate-dockerfile", "-m", str(model_dir), "-d", str(out)], env())
        round_["mlflow_dockerfile"] = {"seconds": secs, "ok": proc.returncode == 0}
        round_["mlflow_build_as_is"] = _build(client, out, f"envforge-bench-mlflow:{i}", None)
        round_["mlflow_build"] = _build(client, out, f"envforge-bench-mlflow:{i}", f"FROM {SHIM}")
        for tag in [f"envforge-bench-mlflow:{i}"]:
            try:
                client.images.remove(tag)  # type: ignore[attr-defined]
            except Exception:  # not built (a failed build)
                pass
        shutil.rmtree(out, ignore_errors=True)
        for name, sample in round_.items():
            samples[name].append(sample)
            failed = "" if sample.get("ok", True) else f"  FAILED: {sample.get('error', '')[:160]}"
            print(f"  round {i}/{repeat}  {name:<18} {sample['seconds']:7.2f} s{failed}")
    return samples


def ratios(med: dict[str, float], samples: dict[str, list[dict]]) -> dict[str, float | None]:
    """MLflow's generate + build over envforge's cold verify; None where MLflow's build failed."""
    ok = all(s.get("ok", True) for s in samples["mlflow_build"])
    return {
        "mlflow_docker/docker_cold": (med["mlflow_dockerfile"] + med["mlflow_build"]) / med["docker_cold"] if ok else None,
        "docker_warm/warm": med["docker_warm"] / med["warm"],
        "docker_cold/docker_warm": med["docker_cold"] / med["docker_warm"],
    }
