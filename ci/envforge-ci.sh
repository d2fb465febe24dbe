#!/usr/bin/env bash
# envforge in CI: the one script behind the GitHub Action (action.yml) and the GitLab template
# (ci/envforge.gitlab-ci.yml). Inputs are environment variables, so that both call it the same way:
#   ENVFORGE_URI                a model URI to verify (or ENVFORGE_MODELS: a registered-model name glob
#                               for verify-registry; exactly one of the two)
#   ENVFORGE_BACKEND            uv (default), virtualenv, conda or docker
#   ENVFORGE_TRACKING_URI       MLflow tracking URI (default: $MLFLOW_TRACKING_URI)
#   ENVFORGE_RTOL, ENVFORGE_ATOL  float tolerances (default: envforge's)
#   ENVFORGE_REQUIRE_EXPECTED   true: a model without recorded expectations fails (default: false)
#   ENVFORGE_JUNIT, ENVFORGE_JSON  report paths (default: envforge-report.xml, envforge-report.json)
#   ENVFORGE_ATTEST             with ENVFORGE_URI: where to write the in-toto statement of the verdict
#                               (`verify --attest`, docs/attestation.md; empty: none)
#   ENVFORGE_COMMAND            how to run envforge (default: envforge)
# Outputs status, exit-code, junit and json go to $GITHUB_OUTPUT and, as ENVFORGE_STATUS=..., to the
# dotenv file $ENVFORGE_DOTENV when those are set; a line goes to $GITHUB_STEP_SUMMARY. The exit code
# is envforge's: 0 passed, 1 failed, 2 usage or bad model, 3 environment could not be built.
set -u

fail_usage() {
    echo "envforge-ci: error: $1" >&2
    exit 2
}

uri="${ENVFORGE_URI:-}"
models="${ENVFORGE_MODELS:-}"
junit="${ENVFORGE_JUNIT:-envforge-report.xml}"
json="${ENVFORGE_JSON:-envforge-report.json}"
read -r -a command <<< "${ENVFORGE_COMMAND:-envforge}"

if [ -n "$uri" ] && [ -n "$models" ]; then
    fail_usage "set ENVFORGE_URI (one model) or ENVFORGE_MODELS (a registry glob), not both"
elif [ -n "$uri" ]; then
    args=(verify "$uri")
elif [ -n "$models" ]; then
    args=(verify-registry --models "$models")
else
    fail_usage "set ENVFORGE_URI to the model to verify, e.g. models:/fraud/3 (or ENVFORGE_MODELS='fraud*')"
fi
args+=(--backend "${ENVFORGE_BACKEND:-uv}" --json "$json" --junit "$junit")
[ -n "${ENVFORGE_TRACKING_URI:-}" ] && args+=(--tracking-uri "$ENVFORGE_TRACKING_URI")
[ -n "${ENVFORGE_RTOL:-}" ] && args+=(--rtol "$ENVFORGE_RTOL")
[ -n "${ENVFORGE_ATOL:-}" ] && args+=(--atol "$ENVFORGE_ATOL")
case "${ENVFORGE_REQUIRE_EXPECTED:-false}" in
    true | True | TRUE | 1 | yes) args+=(--require-expected) ;;
    false | False | FALSE | 0 | no | "") ;;
    *) fail_usage "ENVFORGE_REQUIRE_EXPECTED must be true or false, not '$ENVFORGE_REQUIRE_EXPECTED'" ;;
esac
if [ -n "${ENVFORGE_ATTEST:-}" ] && [ -n "$uri" ]; then
    args+=(--attest "$ENVFORGE_ATTEST")
fi
mkdir -p "$(dirname -- "$junit")" "$(dirname -- "$json")"

"${command[@]}" "${args[@]}"
code=$?

# The verdict from the JSON report: the worst status of its results (error > failed > unverified > passed).
status=error
if [ -f "$json" ]; then
    status=$(python3 - "$json" <<'PY' || echo error
import json, sys
results = json.load(open(sys.argv[1], encoding="utf-8")).get("results") or []
order = ["passed", "unverified", "failed", "error"]
print(max((r.get("status", "error") for r in results), key=lambda s: order.index(s) if s in order else 3, default="error"))
PY
)
fi

emit() {  # name value
    [ -n "${GITHUB_OUTPUT:-}" ] && printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"
    if [ -n "${ENVFORGE_DOTENV:-}" ]; then
        name=$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')
        printf 'ENVFORGE_%s=%s\n' "$name" "$2" >> "$ENVFORGE_DOTENV"
    fi
    return 0
}
emit status "$status"
emit exit-code "$code"
[ -f "$junit" ] && emit junit "$junit"
[ -f "$json" ] && emit json "$json"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    printf '**envforge**: %s %s (exit %s); reports: %s, %s\n' "$status" "${uri:-$models}" "$code" "$junit" "$json" >> "$GITHUB_STEP_SUMMARY"
fi
echo "envforge-ci: $status (exit $code)"
exit "$code"
