"""Lock files: what `envforge lock` writes is read back exactly, and anything that is not an exact lock is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from envforge.errors import ModelDirError
from envforge.spec import EnvSpec
from envforge.spec.envlock import apply_lock, installed_packages, read_lock

UV_STYLE = """\
# envforge lock: the exact packages of the environment rebuilt for models:/iris/3
# python: 3.11.7
numpy==2.4.6 \\
    --hash=sha256:bbbb \\
    --hash=sha256:aaaa
scikit-learn==1.5.2 \\
    --hash=sha256:cccc
--extra-index-url https://packages.example/simple
mlflow==3.17.2 --hash=sha256:dddd  # an inline comment
"""


def _spec(**changes: object) -> EnvSpec:
    fields: dict[str, object] = dict(
        backend="uv", python="3.11.7", python_source="python_env.yaml", build_dependencies=("pip",),
        requirements=("mlflow==3.17.2", "scikit-learn<1.6", "./wheels/extra-1.0-py3-none-any.whl"),
        constraints=("numpy<3",), index_options=(), code_wheels=("./code/helper-0.1-py3-none-any.whl",),
        file_hashes=(("./code/helper-0.1-py3-none-any.whl", "ab" * 32),),
    )
    fields.update(changes)
    return EnvSpec(**fields)  # type: ignore[arg-type]


def test_reads_uv_output_with_continuations_options_and_sorted_hashes(tmp_path: Path) -> None:
    path = tmp_path / "lock.txt"
    path.write_text(UV_STYLE)
    lock = read_lock(path)
    assert lock.python == "3.11.7"
    assert lock.requirements == (
        "numpy==2.4.6 --hash=sha256:aaaa --hash=sha256:bbbb",
        "scikit-learn==1.5.2 --hash=sha256:cccc",
        "mlflow==3.17.2 --hash=sha256:dddd",
    )
    assert lock.options == ("--extra-index-url", "https://packages.example/simple")


@pytest.mark.parametrize("line, fragment", [
    ("scikit-learn<1.6", "not an exact pin"),
    ("scikit-learn", "not an exact pin"),
    ("numpy==2.*", "not an exact pin"),
    ("helper @ file:///tmp/helper-0.1-py3-none-any.whl", "local files"),
    ("-e ./src", "not allowed"),
    ("-r other.txt", "not allowed"),
    ("--find-links ./wheels", "must be a URL"),
    ("numpy==2.4.6 --global-option=x", "only --hash"),
])
def test_refuses_what_is_not_an_exact_lock(tmp_path: Path, line: str, fragment: str) -> None:
    path = tmp_path / "lock.txt"
    path.write_text(f"mlflow==3.17.2\n{line}\n")
    with pytest.raises(ModelDirError) as caught:
        read_lock(path)
    assert fragment in caught.value.message
    assert "line 2" in caught.value.message


def test_apply_lock_replaces_requirements_and_changes_the_key(tmp_path: Path) -> None:
    path = tmp_path / "lock.txt"
    path.write_text(UV_STYLE)
    spec = _spec()
    locked = apply_lock(spec, read_lock(path))
    assert locked.key != spec.key
    assert locked.requirements == read_lock(path).requirements
    assert locked.build_dependencies == () and locked.constraints == ()
    # The model's own files are not in the lock: they are installed after it, still pinned by content hash.
    assert locked.code_wheels == ("./wheels/extra-1.0-py3-none-any.whl", "./code/helper-0.1-py3-none-any.whl")
    assert locked.file_hashes == spec.file_hashes
    assert locked.index_options[-2:] == ("--extra-index-url", "https://packages.example/simple")
    assert any("lock.txt" in note for note in locked.notes)
    # Comments (the header's time stamp) do not change the key: the same set is the same env.
    path.write_text("# written at another time\n" + UV_STYLE)
    assert apply_lock(spec, read_lock(path)).key == locked.key


def test_installed_packages_rejoins_a_freeze_split_on_whitespace() -> None:
    frozen = "helper @ file:///m/code/helper-0.1-py3-none-any.whl\nNumPy==2.4.6\nscikit_learn==1.5.2\n"
    for installed in (frozen.split(), frozen.splitlines()):
        packages = installed_packages(installed)
        assert [(p.name, p.version, p.local) for p in packages] == [
            ("helper", "@ file:///m/code/helper-0.1-py3-none-any.whl", True),
            ("numpy", "2.4.6", False),
            ("scikit-learn", "1.5.2", False),
        ]
