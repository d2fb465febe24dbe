"""--resolve against an index that serves no upload times (the real local PEP 503 index of
tests/support/pep503.py: plain HTML, as `python -m http.server` or an old mirror serves it).
uv leaves out every file whose upload time it does not know once a cutoff is set; envforge says
so: an error naming the remedy when the date was asked for, a warning and today's index when it
was only the default. A --find-links directory has no upload times either and still installs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_private_index import _copy, index, private_model  # noqa: F401  (fixtures; pytest puts integration/ on sys.path)

from tests.support.cli import envforge, report
from tests.support.pep503 import Index

pytestmark = pytest.mark.slow


def test_an_explicit_date_on_an_index_without_upload_times_is_an_error(private_model, index: Index, tmp_path: Path,  # noqa: F811
                                                                        home: Path) -> None:
    model = _copy(private_model[0], tmp_path, f"--extra-index-url {index.simple}")
    run = envforge("verify", str(model), "--resolve", "logged", home=home)
    assert run.returncode == 3, run.output
    text = " ".join(run.output.split())
    assert "serves no upload times" in text and "ef_private_pkg-0.1.0-py3-none-any.whl" in text, text
    assert "--resolve latest" in text and "Traceback" not in run.output


def test_the_default_falls_back_to_latest_and_says_so(private_model, index: Index, tmp_path: Path, home: Path) -> None:  # noqa: F811
    model = _copy(private_model[0], tmp_path, f"--extra-index-url {index.simple}")
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed"
    assert result["env"]["resolved_as_of"] is None and result["env"]["resolution"]["mode"] == "latest"
    assert "serves no upload times" in result["env"]["resolution"]["why"]
    assert any("serves no upload times" in w and "today's index" in w for w in result["warnings"]), result["warnings"]
    again = envforge("verify", str(model), "--json", str(tmp_path / "again.json"), home=home)  # a reused env says it too
    assert again.returncode == 0 and report(tmp_path / "again.json")["env"]["reused"] is True
    assert report(tmp_path / "again.json")["env"]["resolution"]["mode"] == "latest"


def test_find_links_wheels_install_under_an_explicit_date(private_model, tmp_path: Path, home: Path) -> None:  # noqa: F811
    model = _copy(private_model[0], tmp_path)
    wheels = private_model[1].parent
    run = envforge("verify", str(model), "--resolve", "logged", "--find-links", str(wheels), "--json", str(tmp_path / "r.json"),
                   home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed" and result["env"]["resolution"]["mode"] == "logged" and result["env"]["resolved_as_of"]
