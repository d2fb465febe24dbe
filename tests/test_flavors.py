"""spec/flavors.py: what each flavor needs beyond Python, and the reasons envforge gives before building."""

from __future__ import annotations

from pathlib import Path

from envforge.spec.flavors import image_packages, missing_artifacts, needs, no_pyfunc_error, unverifiable_reason


def test_flavor_needs() -> None:
    assert [n.kind for n in needs(("python_function", "spark"))] == ["java"]
    assert needs(("python_function", "sklearn")) == []  # the corpus Databricks models: nothing beyond Python
    assert image_packages(("python_function", "spark")) == ("openjdk-17-jre-headless",)
    assert image_packages(("mleap",)) == ()


def test_no_pyfunc_names_the_flavors(tmp_path: Path) -> None:
    error = no_pyfunc_error(tmp_path / "MLmodel", ["mleap"])
    assert "envforge runs python_function models; this model's flavors are mleap" in str(error) and error.exit_code == 2


def test_unverifiable_reasons() -> None:
    assert unverifiable_reason(("python_function", "sklearn"), None, ()) is None
    assert unverifiable_reason(("python_function",), "agent.py", ()) is None  # models-from-code alone is verified
    keyed = unverifiable_reason(("python_function", "langchain"), "chain.py", ())
    assert keyed and keyed.startswith("a models-from-code model (chain.py) whose langchain flavor needs") and "API keys" in keyed
    resources = unverifiable_reason(("python_function",), None, ("databricks vector_search_index docs_index",))
    assert resources and "databricks vector_search_index docs_index" in resources


def test_missing_artifacts(tmp_path: Path) -> None:
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "a.pkl").write_text("x")
    assert missing_artifacts(tmp_path, ("artifacts/a.pkl", "artifacts/b.pt", "../outside")) == ["artifacts/b.pt", "../outside"]
