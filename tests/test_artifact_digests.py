"""The model files' digests (modeldir/digests.py), the download cache's check of them (modeldir/download_digests.py),
the canonical lock digest (spec/lock_digest.py) and the attestation's shape (attestation/): no server, no env build."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
from pathlib import Path

import pytest

from envforge.errors import EXIT_USAGE, UsageError
from envforge.modeldir import digests, download_digests
from envforge.spec import lock_digest
from tests.support.cli import envforge
from tests.support.intoto import validate_statement


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "model.pkl").write_bytes(b"\x80\x04pickled")
    (root / "sub" / "data.bin").write_bytes(b"x" * 10)
    (root / "envforge-expectations.json").write_text("{}")  # envforge's own: not an artifact
    (root / "envforge-lock.txt").write_text("a==1\n")
    (root / "registered_model_meta").write_text("model_name: x\n")  # MLflow's, written at download
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "m.cpython-312.pyc").write_bytes(b"pyc")
    return root


def test_the_hash_streams_in_chunks_and_never_holds_the_file(tmp_path: Path) -> None:
    big = tmp_path / "weights.bin"
    with big.open("wb") as handle:  # 96 MiB, sparse: quick to make, read in full by the hash
        handle.truncate(96 << 20)
        handle.seek((96 << 20) - 3)
        handle.write(b"end")
    tracemalloc.start()
    try:
        got = digests.file_sha256(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = hashlib.sha256()
    with big.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            expected.update(chunk)
    assert got == expected.hexdigest()
    assert peak < 4 * digests.CHUNK, f"peak {peak} bytes: the file was held in memory"


def test_digest_dir_is_stable_and_leaves_out_envforges_and_mlflows_own_files(tmp_path: Path) -> None:
    root = _tree(tmp_path / "m")
    found = digests.digest_dir(root)
    assert list(found) == ["MLmodel", "model.pkl", "sub/data.bin"]
    assert found["model.pkl"] == {"sha256": hashlib.sha256(b"\x80\x04pickled").hexdigest(), "size": 9}
    assert json.dumps(found) == json.dumps(digests.digest_dir(root))
    assert set(digests.artifact_files(root, everything=True)) >= {"envforge-expectations.json", "registered_model_meta"}


def test_changes_name_each_file_with_both_digests(tmp_path: Path) -> None:
    root = _tree(tmp_path / "m")
    recorded = digests.digest_dir(root)
    (root / "model.pkl").write_bytes(b"another model")
    (root / "sub" / "data.bin").unlink()
    (root / "extra.txt").write_text("new")
    found = digests.changes(recorded, digests.digest_dir(root))
    assert [(c.path, c.kind) for c in found] == [("extra.txt", "added"), ("model.pkl", "changed"), ("sub/data.bin", "missing")]
    text = digests.summary(found)
    assert recorded["model.pkl"]["sha256"] in text and hashlib.sha256(b"another model").hexdigest() in text
    assert digests.changes(recorded, recorded) == []


def test_known_digests_stand_only_for_files_whose_size_and_mtime_are_unchanged(tmp_path: Path) -> None:
    root = _tree(tmp_path / "m")
    stat = (root / "model.pkl").stat()
    known = {"model.pkl": {"sha256": "f" * 64, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}}
    assert digests.digest_dir(root, known)["model.pkl"]["sha256"] == "f" * 64
    os.utime(root / "model.pkl", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert digests.digest_dir(root, known)["model.pkl"]["sha256"] == hashlib.sha256(b"\x80\x04pickled").hexdigest()


def test_the_cache_check_is_cheap_by_default_and_full_with_check(tmp_path: Path) -> None:
    root = _tree(tmp_path / "entry" / "model")
    marker = root.parent / download_digests.MARKER
    marker.write_text(json.dumps({"uri": "runs:/x/model", "files": download_digests.entries(root)}))
    assert download_digests.altered(root, marker, check=False) is None
    assert download_digests.altered(root, marker, check=True) is None
    # Same size and mtime, other bytes: only the full check sees it.
    path = root / "model.pkl"
    stat = path.stat()
    path.write_bytes(b"\x80\x04PICKLED")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert download_digests.altered(root, marker, check=False) is None
    assert "model.pkl" in (download_digests.altered(root, marker, check=True) or "")
    # Another size: the cheap check hashes it and sees it too.
    path.write_bytes(b"a different model altogether")
    assert "model.pkl" in (download_digests.altered(root, marker, check=False) or "")
    marker.write_text(json.dumps({"uri": "runs:/x/model"}))  # cached by an older envforge: no digests
    assert "no digests" in (download_digests.altered(root, marker, check=False) or "")


_LOCK = """# envforge lock
# python: 3.12.3
numpy==2.1.0 \\
    --hash=sha256:bbbb --hash=sha256:aaaa
--index-url https://example.invalid/simple
Pandas==2.2.3 --hash=sha256:cccc
"""


def test_the_lock_digest_is_of_the_packages_only(tmp_path: Path) -> None:
    from envforge.spec.envlock import read_lock

    path = tmp_path / "lock.txt"
    path.write_text(_LOCK)
    from_file = lock_digest.digest(lock_digest.from_requirements(read_lock(path).requirements))
    assert from_file == lock_digest.digest(lock_digest.from_lock_text(_LOCK))  # what `envforge lock` prints
    reordered = "pandas==2.2.3 --hash=sha256:cccc\nnumpy==2.1.0 --hash=sha256:aaaa --hash=sha256:bbbb\n"
    assert lock_digest.digest(lock_digest.from_lock_text(reordered)) == from_file
    assert lock_digest.digest(lock_digest.from_lock_text(reordered.replace("cccc", "dddd"))) != from_file
    assert lock_digest.digest(lock_digest.from_lock_text(reordered.replace("2.2.3", "2.2.4"))) != from_file
    assert from_file.startswith("sha256:") and len(from_file) == 7 + 64
    packages = lock_digest.from_installed(["numpy==2.1.0", "pandas==2.2.3", "mywheel @ file:///m/wheels/mywheel.whl"])
    assert [p["name"] for p in packages] == ["numpy", "pandas"] and packages[0]["hashes"] == []


def test_a_statement_of_a_real_model_has_the_in_toto_shape(tmp_path: Path) -> None:
    from envforge.attestation.checking import load_statement
    from envforge.attestation.statement import PREDICATE_TYPE, build_statement
    from envforge.backends.base import Env
    from envforge.pipeline import Judging, load_model
    from envforge.result import PASSED, VerifyResult
    from tests.support.models import save_sklearn_model

    model = save_sklearn_model(tmp_path / "iris")
    loaded = load_model(str(model))
    env = Env(path=tmp_path / "env", key="k" * 64, backend="uv", python="python3", python_version="3.12.3",
              interpreter_reason="test", interpreter_warning=None, installed=("numpy==2.1.0", "scikit-learn==1.5.2"),
              reused=False, build_seconds=1.0, resolved_as_of="2025-01-01T00:00:00Z")
    result = VerifyResult(uri=str(model), backend="uv").finish(PASSED, "1 example(s) match the recorded predictions")
    runs = [{"name": "input_example", "source": "example"}, {"name": "extra", "payload": {"x": [1]}, "source": "file"}]
    statement = build_statement(result, loaded, env, runs, Judging(rtol=1e-3, atol=1e-6))
    validate_statement(statement)
    assert statement["predicateType"] == PREDICATE_TYPE
    names = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert names == {p.name: digests.file_sha256(p) for p in model.iterdir()} and "MLmodel" in names
    predicate = statement["predicate"]
    assert predicate["verdict"]["status"] == "passed" and predicate["tolerances"] == {"rtol": 1e-3, "atol": 1e-6}
    lock = predicate["environment"]["lock"]
    assert [p["name"] for p in lock["packages"]] == ["numpy", "scikit-learn"]
    assert lock["digest"] == lock_digest.digest(lock_digest.from_installed(env.installed))
    assert predicate["resolution"]["resolved_as_of"] == "2025-01-01T00:00:00Z"
    example = next(i for i in predicate["inputs"] if i["name"] == "input_example")
    assert example["digest"]["sha256"] == names[loaded.mlmodel.example.path]
    assert predicate["envforge"]["version"] and predicate["time"]
    written = tmp_path / "s.json"
    written.write_text(json.dumps(statement))
    assert load_statement(written)["subject"] == statement["subject"]


@pytest.mark.parametrize("text, what", [
    ("not json", "not JSON"),
    ('{"_type": "https://in-toto.io/Statement/v0.1", "subject": []}', "_type"),
    ('{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1", "subject": []}',
     "predicateType"),
    ('{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://envforge.dev/attestation/verify/v1",'
     ' "subject": [{"name": "model.pkl", "digest": {"sha256": "xyz"}}], "predicate": {"verdict": {"status": "passed"}}}',
     "subject"),
])
def test_a_malformed_statement_is_a_usage_error_with_a_remedy(tmp_path: Path, text: str, what: str) -> None:
    from envforge.attestation.checking import load_statement

    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        load_statement(path)
    assert what in caught.value.message and "verify --attest" in caught.value.remedy


def test_check_attestation_on_a_malformed_file_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"_type": "nope"}')
    run = envforge("check-attestation", str(path), str(tmp_path), home=tmp_path / "home")
    assert run.returncode == EXIT_USAGE, run.output
    assert "not an envforge attestation" in run.output and "Traceback" not in run.output
