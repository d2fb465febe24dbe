"""The MLflow stacks teams really run, as real servers for tests (issue 31): a PostgreSQL cluster, an
S3-compatible object store, and an `mlflow server` on both with MLflow's basic-auth app.

- PostgreSQL: Debian's `postgresql` package (scripts/test.sh installs it), a private cluster made by `initdb` in
  a temporary directory on a free port, run as the `postgres` user when the tests run as root (initdb refuses
  root). pytest-postgresql was considered and not used: it wants psycopg 3 in the test process and a config of
  its own, and does not drop root; the forty lines below do what the tests need. The server's driver is
  psycopg2, named in the URI (`postgresql+psycopg2://`): MLflow 3 makes a bare `postgresql://` mean psycopg 3.
- S3: `moto[server]`'s `moto_server` in its own process (not in the test's: its threads would share the GIL with
  the tests), with one bucket.
- MLflow: `mlflow server --app-name basic-auth` with `--backend-store-uri postgresql://...` and
  `--artifacts-destination s3://.../proxied`: experiments created without an artifact location get proxied
  (`mlflow-artifacts:`) artifacts; an experiment created with `s3://.../direct` is read by the client from S3
  itself, so ONE server gives both artifact modes. Users: the admin, and a reader (default permission READ).

Start one Stack per test module (a module-scoped fixture): starting all three takes ~10-20 s.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ADMIN, ADMIN_PASSWORD = "ef-admin", "adm-Secret-7f3a91"
READER, READER_PASSWORD = "ef-reader", "rdr-Secret-2c8e44"
AWS_KEY, AWS_SECRET = "AKIAEFSTACKTEST0001", "awsSecret+EF/stack9d21"  # moto accepts any pair; tests grep for these
BUCKET = "envforge-stack"
DB_PASSWORD = "pg-Secret-51b0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    tracking_uri: str          # http://127.0.0.1:PORT, no credentials in it
    s3_endpoint: str           # the S3 server's URL (MLFLOW_S3_ENDPOINT_URL)
    database_uri: str          # postgresql://... of the backend store
    root: Path
    secrets: list[str] = field(default_factory=lambda: [ADMIN_PASSWORD, READER_PASSWORD, AWS_SECRET, AWS_KEY, DB_PASSWORD])

    @property
    def direct_root(self) -> str:
        """An artifact location the client reads from S3 itself (no proxy)."""
        return f"s3://{BUCKET}/direct"

    def s3_env(self) -> dict[str, str]:
        """What a client needs to read s3:// artifacts from this store directly."""
        return {"AWS_ACCESS_KEY_ID": AWS_KEY, "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "AWS_DEFAULT_REGION": "us-east-1",
                "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint}

    def admin_env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD, **self.s3_env()}

    def reader_env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_USERNAME": READER, "MLFLOW_TRACKING_PASSWORD": READER_PASSWORD, **self.s3_env()}


@contextlib.contextmanager
def stack(root: Path) -> Iterator[Stack]:
    """PostgreSQL + S3 + `mlflow server` (basic auth, proxied and direct artifacts), stopped on exit."""
    with postgres(root) as database, s3_server(root) as endpoint:
        with mlflow_server(root, database, endpoint) as url:
            yield Stack(tracking_uri=url, s3_endpoint=endpoint, database_uri=database, root=root)


# --- PostgreSQL ---------------------------------------------------------------------------------------------

def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True) or [shutil.which(name)]
    if not found[0]:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: scripts/test.sh installs Debian's postgresql package")
    return str(found[0])


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def postgres(root: Path) -> Iterator[str]:
    """A private cluster on a free port; yields the postgresql:// URI of its `mlflow` database."""
    # Not under pytest's tmp dir: root's is mode 700, and the cluster runs as `postgres`.
    data = Path(tempfile.mkdtemp(prefix="envforge-pg-"))
    os.chmod(data, 0o755)
    pwfile = data / "pw"
    pwfile.write_text(DB_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    log = root / "postgres.log"
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PGPASSWORD": DB_PASSWORD}
    try:
        _run(_as_owner([_pg_bin("initdb"), "-D", str(data / "db"), "-U", "envforge", "--auth=scram-sha-256",
                        f"--pwfile={pwfile}", "-E", "UTF8"]), env)
        _run(_as_owner([_pg_bin("pg_ctl"), "-D", str(data / "db"), "-l", str(data / "server.log"), "-w", "-t", "60",
                        "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]), env)
        _run([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "envforge", "mlflow"], env)
        yield f"postgresql+psycopg2://envforge:{DB_PASSWORD}@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(_as_owner([_pg_bin("pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, env=env)
        with contextlib.suppress(OSError):
            log.write_text((data / "server.log").read_text())
        shutil.rmtree(data, ignore_errors=True)


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{argv[0]} {argv[1:4]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


# --- S3 -------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def s3_server(root: Path) -> Iterator[str]:
    """moto's S3-compatible server in its own process with the bucket made; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], root / "s3.log",
                  f"{url}/moto-api/", {}):
        import boto3

        boto3.client("s3", endpoint_url=url, aws_access_key_id=AWS_KEY, aws_secret_access_key=AWS_SECRET,
                     region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield url


# --- MLflow -----------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def mlflow_server(root: Path, database: str, s3_endpoint: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth = root / "basic_auth.ini"
    auth.write_text("[mlflow]\ndefault_permission = READ\n"
                    f"database_uri = sqlite:///{root / 'basic_auth.db'}\n"
                    f"admin_username = {ADMIN}\nadmin_password = {ADMIN_PASSWORD}\n"
                    "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(auth), "AWS_ACCESS_KEY_ID": AWS_KEY, "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
           "AWS_DEFAULT_REGION": "us-east-1", "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,
           "MLFLOW_FLASK_SERVER_SECRET_KEY": "envforge-stack-test",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job runner and its ~8 huey consumers: nothing here uses jobs
    argv = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", database, "--artifacts-destination", f"s3://{BUCKET}/proxied",
            "--app-name", "basic-auth", "--workers", "1"]
    with _process(argv, root / "mlflow-server.log", f"{url}/health", env):
        _create_user(url, READER, READER_PASSWORD)
        yield url


def _create_user(url: str, username: str, password: str) -> None:
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/users/create", method="POST",
                                     data=json.dumps({"username": username, "password": password}).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": basic(ADMIN, ADMIN_PASSWORD)})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def basic(user: str, password: str) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


@contextlib.contextmanager
def _process(argv: list[str], log_path: Path, ready_url: str, env: dict[str, str]) -> Iterator[None]:
    log = log_path.open("w")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=log_path.parent, start_new_session=True,
                            env={**clean, **env})
    deadline = time.monotonic() + 240  # a loaded 2-core CI machine
    while True:
        try:
            with urllib.request.urlopen(ready_url, timeout=2):
                break
        except urllib.error.HTTPError:
            break  # it answers
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):  # the whole group: what it started too
                os.killpg(proc.pid, 9)
            proc.wait()
            raise RuntimeError(f"{argv[2]} did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.3)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # and what it started (the server's job consumers): the whole group
            os.killpg(proc.pid, 9)
        proc.wait()
        log.close()
