"""Model directories whose files have a given size and shape (issue 17), and the bound every run of envforge
on them must stay within: written by repeating a unit, so that 100 MB costs the test nothing to draw."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.measured import Measured

MAX_CPU_SECONDS = 10.0
MAX_RSS_MB = 500.0
MAX_BYTES = 110 * 1024 * 1024

BASE = {
    "MLmodel": "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.11.7\n"
               "    env: {virtualenv: python_env.yaml, conda: conda.yaml}\n"
               "saved_input_example_info: {artifact_path: input_example.json, type: dataframe, pandas_orient: split}\n",
    "python_env.yaml": "python: 3.11.7\nbuild_dependencies: [pip]\ndependencies: [-r requirements.txt]\n",
    "conda.yaml": "channels: [conda-forge]\ndependencies: [python=3.11.7, pip, {pip: [mlflow]}]\n",
    "requirements.txt": "mlflow\n-c constraints.txt\n",
    "constraints.txt": "numpy<3\n",
    "system_requirements.txt": "libgomp1\n",
    "input_example.json": '{"columns": ["a"], "data": [[1]]}',
    "envforge-expectations.json": '{"examples": [{"name": "input_example", "prediction": [0]}]}',
}
YAML_KINDS = ("MLmodel", "python_env.yaml", "conda.yaml")
TEXT_KINDS = ("requirements.txt", "constraints.txt", "system_requirements.txt")
JSON_KINDS = ("input_example.json", "envforge-expectations.json")

Segments = list[tuple[str, int]]  # (unit, how many times): the file is their concatenation


def _yaml(kind: str, shape: str, token: str, n: int) -> Segments:
    head = BASE[kind] + "extra:"
    if shape == "long":
        return [(head + " '", 1), (token, n), ("'\n", 1)]
    if shape == "many":
        return [(head + "\n", 1), (f"  - {token}\n", n)]
    if shape == "deep":
        return [(head + " ", 1), ("[", n), ("]", n), ("\n", 1)]
    if shape == "deep-block":
        n = min(n, 3000)  # the file grows as n squared
        return [(head + "\n", 1), *((" " * (i + 2) + "a:\n", 1) for i in range(n)), (" " * (n + 2) + "x\n", 1)]
    levels = min(n, 40)  # repetitive: a "billion laughs", every level aliasing the one below ten times
    lines = ["\n  l0: &l0 [lol]\n"] + [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, levels)]
    return [(head, 1), ("".join(lines), 1)]


def _text(kind: str, shape: str, token: str, n: int) -> Segments:
    first = "mlflow\n" if kind == "requirements.txt" else ""
    if shape == "long":
        return [(first, 1), (token, n), ("\n", 1)]
    if shape == "many":
        return [(first, 1), (token + "\n", n)]
    if shape in ("deep", "deep-block"):  # a line continued n times: one logical line
        return [(first, 1), (token + "\\\n", n), ("x\n", 1)]
    return [(first, 1), (f"-r {kind}\n" if n % 2 else "-c constraints.txt\n", min(n, 10**6))]  # repetitive includes, cycles


def _json(kind: str, shape: str, token: str, n: int) -> Segments:
    quoted = token.replace("\\", "\\\\").replace('"', '\\"')
    if shape == "long":
        return [('{"columns": ["', 1), (quoted, n), ('"], "data": [[1]]}', 1)]
    if shape == "many":
        return [("[", 1), ("{},", n), ("{}]", 1)]
    if shape in ("deep", "deep-block"):
        return [("[", n), ("]", n)]
    return [('{"examples": [', 1), ('{"name": "e", "prediction": [1, 2]},', n), ('{"name": 1, "prediction": 1}]}', 1)]


def write(path: Path, segments: Segments) -> None:
    total = sum(len(unit.encode("utf-8", "surrogatepass")) * count for unit, count in segments)
    assert total <= MAX_BYTES * 2, "a case larger than the test means to write"
    with path.open("wb") as handle:
        for unit, count in segments:
            data = unit.encode("utf-8", "surrogatepass")
            block = max(1, (1 << 20) // max(len(data), 1))
            while count > 0:
                step = min(block, count)
                handle.write(data * step)
                count -= step


def make_model(root: Path, kind: str, shape: str, token: str, n: int) -> Path:
    model = root / "model"
    shutil.rmtree(model, ignore_errors=True)
    model.mkdir(parents=True)
    for name, text in BASE.items():
        (model / name).write_text(text)
    build = _yaml if kind in YAML_KINDS else _text if kind in TEXT_KINDS else _json
    segments = build(kind, shape, token, n)
    unit_bytes = max(len(u.encode("utf-8", "surrogatepass")) for u, c in segments if c == max(c for _, c in segments))
    if max(c for _, c in segments) * unit_bytes > MAX_BYTES:  # at most ~100 MB: scale the repeated part down
        scale = MAX_BYTES / (max(c for _, c in segments) * unit_bytes)
        segments = [(u, max(1, int(c * scale)) if c > 1 else c) for u, c in segments]
    write(model / kind, segments)
    return model


def check_bounded(run: Measured) -> None:
    assert run.returncode in (0, 1, 2, 3), f"exit {run.returncode}:\n{run.output[-3000:]}"
    assert "Traceback" not in run.output and "internal error" not in run.output, run.output[-3000:]
    assert run.cpu_seconds < MAX_CPU_SECONDS, f"envforge used {run.cpu_seconds:.1f} s of CPU"
    assert run.peak_rss_mb < MAX_RSS_MB, f"envforge's peak RSS was {run.peak_rss_mb:.0f} MB"
