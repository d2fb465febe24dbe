"""Issue 34, point 4: index lines and pins of old requirement files that no longer work.

A real MLflow model gets a requirements.txt as old logging machines wrote them: a `.devN` mlflow pin, a
--find-links page that is gone (a closed local port: refused at once, no network needed) and an extra
index with credentials. Nothing is built.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from envforge.backends.build_options import BuildOptions
from envforge.commands.inspect_model import inspect
from envforge.pipeline import load_model
from envforge.spec.index_lines import live_links, release_pins

DEAD = "http://127.0.0.1:9/wheels/"
INDEX = "https://user:s3cret@packages.invalid/simple"


@pytest.fixture(scope="module")
def old_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow
    from sklearn.linear_model import LinearRegression

    path = tmp_path_factory.mktemp("index") / "model"
    mlflow.sklearn.save_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), str(path), serialization_format="cloudpickle",
                              pip_requirements=["scikit-learn", "numpy"])
    (path / "requirements.txt").write_text(f"--find-links {DEAD}\n--extra-index-url {INDEX}\nmlflow==2.5.1.dev0\nscikit-learn\nnumpy\n")
    return path


def test_resolve_logged_releases_a_dev_pin_and_drops_a_dead_find_links(old_model: Path) -> None:
    spec = load_model(str(old_model)).spec
    assert "mlflow==2.5.1" in spec.requirements and "mlflow==2.5.1.dev0" not in spec.requirements
    assert DEAD not in spec.index_options
    assert INDEX in spec.index_options  # an index URL is honoured as logged
    notes = " | ".join(spec.notes)
    assert "mlflow==2.5.1.dev0" in notes and f"--find-links {DEAD}" in notes and "dropped" in notes
    assert "s3cret" not in notes


def test_resolve_latest_leaves_the_lines_as_logged(old_model: Path) -> None:
    spec = load_model(str(old_model), build=BuildOptions(resolve="latest")).spec
    assert "mlflow==2.5.1.dev0" in spec.requirements and DEAD in spec.index_options


def test_inspect_redacts_the_index_credentials(old_model: Path) -> None:
    report = inspect(str(old_model))
    assert any("packages.invalid" in o for o in report["index_options"])
    assert "s3cret" not in repr(report)


def test_a_live_find_links_is_kept_and_other_pins_are_untouched() -> None:
    options = ("--find-links", "https://up.invalid/", "--pre")
    assert live_links(options, probe=lambda url: True) == (options, [])
    pins, notes = release_pins(("mlflow==2.5.1", "numpy==1.0.dev3", "mlflow-skinny==2.9.0.dev1"))
    assert pins == ("mlflow==2.5.1", "numpy==1.0.dev3", "mlflow-skinny==2.9.0") and len(notes) == 1
