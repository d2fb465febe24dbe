"""The GitHub Action (action.yml) and the GitLab template (ci/envforge.gitlab-ci.yml) declare the same inputs and
hand every one of them to ci/envforge-ci.sh as an ENVFORGE_* variable the script reads; their outputs are the ones
the script writes; and the command line the script builds is one envforge's own parser accepts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from envforge.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "ci" / "envforge-ci.sh"
GITLAB_ONLY = {"package", "image", "stage"}  # how the job installs envforge and where it runs


def variable(name: str) -> str:
    return "ENVFORGE_" + name.upper().replace("-", "_")


def action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text())


def gitlab() -> tuple[dict, dict]:
    header, jobs = yaml.safe_load_all((ROOT / "ci" / "envforge.gitlab-ci.yml").read_text())
    return header["spec"]["inputs"], jobs


def test_the_action_passes_every_input_to_the_script() -> None:
    doc = action()
    assert doc["runs"]["using"] == "composite"
    (step,) = [s for s in doc["runs"]["steps"] if s.get("id") == "verify"]
    assert "ci/envforge-ci.sh" in step["run"]
    for name in doc["inputs"]:
        assert step["env"][variable(name)] == f"${{{{ inputs.{name} }}}}", name
    script = SCRIPT.read_text()
    for key in set(step["env"]) - {"ENVFORGE_HOME"}:  # envforge itself reads ENVFORGE_HOME
        assert key in script, f"the action sets {key}, which the script never reads"


def test_the_action_caches_envforge_home_and_uv_and_publishes_the_reports() -> None:
    steps = action()["runs"]["steps"]
    (verify,) = [s for s in steps if s.get("id") == "verify"]
    cached = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache@")]
    assert cached and cached[0]["with"]["path"] == verify["env"]["ENVFORGE_HOME"]
    assert any(str(s.get("uses", "")).startswith("astral-sh/setup-uv@") and s["with"]["enable-cache"] for s in steps)
    install = [s for s in steps if "uv tool install" in s.get("run", "")]
    assert install and '"$GITHUB_ACTION_PATH"' in install[0]["run"] and "GITHUB_PATH" in install[0]["run"]  # this version, on PATH
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload and upload[0]["if"] == "always()" and "${{ inputs.junit }}" in upload[0]["with"]["path"]


def test_the_action_outputs_are_the_ones_the_script_writes() -> None:
    emitted = set(re.findall(r"^emit ([a-z-]+) ", SCRIPT.read_text(), re.M)) | set(re.findall(r"&& emit ([a-z-]+) ", SCRIPT.read_text()))
    outputs = action()["outputs"]
    assert set(outputs) == emitted
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.verify.outputs.{name} }}}}"


def test_the_gitlab_template_passes_every_input_and_caches_and_publishes() -> None:
    inputs, jobs = gitlab()
    (job,) = jobs.values()
    assert 'bash "$(python3 -m envforge.ci_script)"' in job["script"]
    for name in set(inputs) - GITLAB_ONLY:
        assert job["variables"][variable(name)] == f"$[[ inputs.{name} ]]", name
    text = json.dumps(job)
    for name in GITLAB_ONLY:
        assert f"$[[ inputs.{name} ]]" in text, name
    script = SCRIPT.read_text()
    for key in job["variables"]:
        assert key in script or key in ("UV_CACHE_DIR", "PIP_CACHE_DIR", "ENVFORGE_HOME"), key
    cached = {p.rstrip("/") for p in job["cache"]["paths"]}
    assert {".envforge-home", ".uv-cache"} <= cached
    assert job["variables"]["ENVFORGE_HOME"].endswith("/.envforge-home") and job["variables"]["UV_CACHE_DIR"].endswith("/.uv-cache")
    assert job["artifacts"]["reports"]["junit"] == "$[[ inputs.junit ]]" and job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["dotenv"] == job["variables"]["ENVFORGE_DOTENV"]


def test_both_templates_take_the_same_inputs_with_the_same_defaults() -> None:
    github = action()["inputs"]
    inputs, _ = gitlab()
    assert set(github) == set(inputs) - GITLAB_ONLY
    for name, spec in github.items():
        assert str(spec["default"]).lower() == str(inputs[name]["default"]).lower(), name


def argv_of(tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    """The command line the script builds, caught by a stand-in for envforge that records its argv (the real
    envforge would build an environment: that is integration/test_ci_script.py)."""
    catcher = tmp_path / "catch"
    catcher.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(tmp_path / 'argv.json')!r}, 'w'))\n")
    catcher.chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ENVFORGE_", "GITHUB_"))}
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                         env={**clean, "ENVFORGE_COMMAND": str(catcher), **env})
    argv = json.loads((tmp_path / "argv.json").read_text()) if (tmp_path / "argv.json").exists() else []
    return run.returncode, argv


def test_the_script_builds_a_verify_command_envforge_accepts(tmp_path: Path) -> None:
    code, argv = argv_of(tmp_path, ENVFORGE_URI="models:/fraud/3", ENVFORGE_BACKEND="virtualenv", ENVFORGE_RTOL="0.001",
                         ENVFORGE_ATOL="0.5", ENVFORGE_REQUIRE_EXPECTED="true", ENVFORGE_TRACKING_URI="http://mlflow:5000")
    args = build_parser().parse_args(argv)
    assert (args.command, args.uri, args.backend, args.rtol, args.atol) == ("verify", "models:/fraud/3", "virtualenv", 0.001, 0.5)
    assert args.require_expected and args.tracking_uri == "http://mlflow:5000"
    assert str(args.json) == "envforge-report.json" and str(args.junit) == "envforge-report.xml"


def test_the_script_builds_a_verify_registry_command_envforge_accepts(tmp_path: Path) -> None:
    _, argv = argv_of(tmp_path, ENVFORGE_MODELS="fraud*", ENVFORGE_REQUIRE_EXPECTED="false", ENVFORGE_JUNIT="out/r.xml")
    args = build_parser().parse_args(argv)
    assert (args.command, args.models, args.require_expected, str(args.junit)) == ("verify-registry", "fraud*", False, "out/r.xml")
    assert (tmp_path / "out").is_dir()


@pytest.mark.parametrize("env, message", [({}, "set ENVFORGE_URI"), ({"ENVFORGE_URI": "a", "ENVFORGE_MODELS": "b"}, "not both"),
                                          ({"ENVFORGE_URI": "a", "ENVFORGE_REQUIRE_EXPECTED": "maybe"}, "true or false")])
def test_the_script_refuses_bad_inputs_with_exit_2(tmp_path: Path, env: dict[str, str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ENVFORGE_", "GITHUB_"))}
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, cwd=tmp_path, env={**clean, **env}, timeout=60)
    assert run.returncode == 2 and message in run.stderr, run.stderr


def test_both_templates_publish_the_attestation_the_script_writes_with_a_uri(tmp_path: Path) -> None:
    """Issue 29: the deploy step's `envforge check-attestation` needs the statement of the gate's verdict."""
    upload = [s for s in action()["runs"]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert "${{ inputs.attest }}" in upload[0]["with"]["path"].splitlines()
    inputs, jobs = gitlab()
    (job,) = jobs.values()
    assert "$[[ inputs.attest ]]" in job["artifacts"]["paths"] and job["artifacts"]["when"] == "always"
    assert action()["inputs"]["attest"]["default"] == inputs["attest"]["default"] == "envforge-attestation.intoto.json"
    _, argv = argv_of(tmp_path, ENVFORGE_URI="models:/fraud@candidate", ENVFORGE_ATTEST="out/a.intoto.json")
    assert str(build_parser().parse_args(argv).attest) == "out/a.intoto.json"
    _, argv = argv_of(tmp_path, ENVFORGE_MODELS="fraud*", ENVFORGE_ATTEST="out/a.intoto.json")
    assert "--attest" not in argv  # one statement is of one model's verdict: not written for a registry run
