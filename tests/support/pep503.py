"""A real private package index for tests: a PEP 503 `simple/` tree served by `python -m http.server`."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Index:
    url: str        # http://127.0.0.1:PORT (the simple index is url + "/simple")
    log: Path       # the server's request log

    @property
    def simple(self) -> str:
        return self.url + "/simple"

    def with_credentials(self, userinfo: str) -> str:
        return self.simple.replace("http://", f"http://{userinfo}@", 1)

    def requests(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def write_tree(root: Path, wheels: list[Path]) -> None:
    """root/simple/index.html, root/simple/<project>/index.html, root/packages/<wheel> (with sha256 fragments)."""
    packages, simple = root / "packages", root / "simple"
    packages.mkdir(parents=True, exist_ok=True)
    projects: dict[str, list[str]] = {}
    for wheel in wheels:
        target = packages / wheel.name
        target.write_bytes(wheel.read_bytes())
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        project = _normalize(wheel.name.split("-", 1)[0])
        projects.setdefault(project, []).append(f'<a href="../../packages/{wheel.name}#sha256={digest}">{wheel.name}</a><br/>')
    for project, links in projects.items():
        (simple / project).mkdir(parents=True, exist_ok=True)
        (simple / project / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    index = "".join(f'<a href="{p}/">{p}</a><br/>\n' for p in sorted(projects))
    (simple / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{index}</body></html>\n")


# http.server's handler, saying `Cache-Control: no-cache` (an index whose new uploads a client sees at once: uv
# revalidates each page), and waiting `delay-seconds` (a file beside www/, when present) before each answer.
_NO_CACHE_SERVER = """
import functools, http.server, pathlib, sys, time
www = pathlib.Path(sys.argv[1]); delay = www.parent / "delay-seconds"
class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()
    def send_head(self):
        if delay.exists():
            time.sleep(float(delay.read_text()))
        return super().send_head()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
print(f"Serving HTTP on 127.0.0.1 port {server.server_address[1]}", flush=True)
server.serve_forever()
"""


@contextmanager
def serve(root: Path, wheels: list[Path], *, no_cache: bool = False) -> Iterator[Index]:
    """Write the tree under root/www and serve it on 127.0.0.1 (a port the OS picks) until the block exits;
    `no_cache`: every page is revalidated by its clients, and root/delay-seconds delays the answers."""
    www = root / "www"
    write_tree(www, wheels)
    log = root / "requests.log"
    argv = [sys.executable, "-u", "-c", _NO_CACHE_SERVER, str(www)] if no_cache else \
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(www)]
    with log.open("w") as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 40123 (...)", or "" if it died
            port = re.search(r"port (\d+)", line)
            if port is None:
                raise RuntimeError(f"http.server did not start: {line!r}")
            yield Index(f"http://127.0.0.1:{port.group(1)}", log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
