"""spec/dependency_list.py: the guide's non-Python dependency list artifact becomes the model's system packages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envforge.errors import ModelDirError
from envforge.spec.system import read_system_packages


def test_json_and_txt_lists_are_read(tmp_path: Path) -> None:
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "non_python_dependencies.json").write_text(json.dumps({"apt": ["libgomp1", "openjdk-17-jre-headless"]}))
    assert read_system_packages(tmp_path) == (("libgomp1", "openjdk-17-jre-headless"), "artifacts/non_python_dependencies.json")
    (tmp_path / "artifacts" / "non_python_dependencies.json").unlink()
    (tmp_path / "dependencies.txt").write_text("libgl1  # opencv\nlibglib2.0-0\n")
    assert read_system_packages(tmp_path) == (("libgl1", "libglib2.0-0"), "dependencies.txt")
    (tmp_path / "apt.txt").write_text("jq\n")  # apt.txt wins
    assert read_system_packages(tmp_path) == (("jq",), "apt.txt")


def test_bad_lists_are_refused(tmp_path: Path) -> None:
    (tmp_path / "system_dependencies.json").write_text(json.dumps(["libgomp1; rm -rf /"]))
    with pytest.raises(ModelDirError, match="not a package name"):
        read_system_packages(tmp_path)
    (tmp_path / "system_dependencies.json").write_text("{not json")
    with pytest.raises(ModelDirError, match="is not JSON"):
        read_system_packages(tmp_path)
