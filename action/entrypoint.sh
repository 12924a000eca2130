#!/usr/bin/env bash
# The GitHub Action's entrypoint. It runs inside the action's container (and, in the test
# suite, outside it with the runner's environment simulated).
#
# Inputs arrive only as INPUT_* environment variables and are passed to revlint as single
# arguments: nothing from an input is ever evaluated by the shell.
#
# On pull_request, pull_request_target and merge_group events the annotations and the job
# summary show only what the change introduces (`--diff-base` with the event's base commit);
# on other events, the whole repository. The SARIF file always holds every finding: code
# scanning compares it with the base branch's own analysis, and a partial file would make
# the base's alerts look fixed.
set -uo pipefail

# An input by its name in action.yml, or the default when unset or empty. The runner keeps
# the hyphens, which a shell variable cannot hold, hence printenv.
input() {
    local name="INPUT_${1^^}" value
    value="$(printenv "${name// /_}")" || value=""
    if [[ -z "$value" ]]; then
        value="${2-}"
    fi
    printf '%s' "$value"
}

# `::error::` with the message escaped the way the runner decodes workflow commands.
annotate_error() {
    local msg="$1"
    msg="${msg//'%'/%25}"
    msg="${msg//$'\r'/%0D}"
    msg="${msg//$'\n'/%0A}"
    printf '::error title=revlint::%s\n' "$msg"
}

fail() {
    annotate_error "$1"
    exit 2
}

one_line() {
    [[ "$2" != *$'\n'* && "$2" != *$'\r'* ]] || fail "input $1 must be one line"
}

if [[ -n "${GITHUB_WORKSPACE:-}" ]]; then
    cd -- "$GITHUB_WORKSPACE" || fail "cannot enter the workspace $GITHUB_WORKSPACE"
    # The workspace is mounted from the runner and owned by another user; git refuses such a
    # repository unless it is declared safe. Declared for this process only, through git's
    # command-line configuration variables, so no configuration file is written; `*`
    # because the checkout may sit in a subfolder of the workspace, and this container holds
    # nothing but the workspace.
    n="${GIT_CONFIG_COUNT:-0}"
    [[ "$n" =~ ^[0-9]+$ ]] || n=0
    export "GIT_CONFIG_KEY_$n=safe.directory" "GIT_CONFIG_VALUE_$n=*"
    export GIT_CONFIG_COUNT=$((n + 1))
fi

revlint="${REVLINT:-revlint}"
command -v "$revlint" >/dev/null || fail "revlint is not installed in the action's image"

fail_on="$(input fail-on error)"
case "$fail_on" in
    error | warning | info | never) ;;
    *) fail "input fail-on must be error, warning, info or never, not '$fail_on'" ;;
esac

sarif_file="$(input sarif-file revlint.sarif)"
summary="$(input summary true)"
case "$summary" in
    true | false) ;;
    *) fail "input summary must be true or false, not '$summary'" ;;
esac
one_line sarif-file "$sarif_file"
# The output must name the file for later steps, which run on the runner, not in this
# container: a path relative to the workspace is the same in both.
workspace="$(pwd -P)"
case "$sarif_file" in
    "$workspace"/* | "${GITHUB_WORKSPACE:-/nonexistent}"/*)
        sarif_file="${sarif_file#"$workspace"/}"
        sarif_file="${sarif_file#"${GITHUB_WORKSPACE:-}"/}"
        ;;
    /*) fail "input sarif-file must be a path inside the workspace, not $sarif_file" ;;
esac

# Paths to lint: one per line; empty lines are skipped.
paths=()
while IFS= read -r line; do
    line="${line%$'\r'}"
    [[ -n "${line//[[:space:]]/}" ]] && paths+=("$line")
done <<<"$(input path .)"
[[ ${#paths[@]} -gt 0 ]] || paths=(.)

# The base of the comparison.
diff_base="$(input diff-base auto)"
one_line diff-base "$diff_base"
event="${GITHUB_EVENT_NAME:-}"
if [[ "$diff_base" == auto ]]; then
    diff_base=""
    if [[ "$event" == pull_request || "$event" == pull_request_target || "$event" == merge_group ]]; then
        [[ -r "${GITHUB_EVENT_PATH:-}" ]] || fail "the $event event has no readable GITHUB_EVENT_PATH"
        command -v jq >/dev/null || fail "jq is needed to read the event payload"
        diff_base="$(jq -r '.pull_request.base.sha // .merge_group.base_sha // empty' "$GITHUB_EVENT_PATH")" ||
            fail "cannot read the event payload $GITHUB_EVENT_PATH"
        [[ -n "$diff_base" ]] || fail "the $event event payload names no base commit"
    fi
elif [[ "$diff_base" == none ]]; then
    diff_base=""
fi

diff_args=()
if [[ -n "$diff_base" ]]; then
    diff_args=(--diff-base "$diff_base")
    echo "revlint: showing findings this change introduces since its merge base with $diff_base"
    # pull_request_target checks out the base branch unless told otherwise: then there is no
    # change to judge, and a green step would mean nothing.
    if git merge-base --is-ancestor HEAD "$diff_base" 2>/dev/null; then
        printf '::warning title=revlint::%s\n' "The checked-out commit is already part of $diff_base, so there is no change to check. On pull_request_target, check out the pull request's head commit."
    fi
else
    echo "revlint: checking the whole repository"
fi

errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT

# Report a run that could not lint (exit 2) as an annotation too, and stop.
check_usage() {
    local code="$1"
    if [[ "$code" -ge 2 ]]; then
        cat "$errors" >&2
        local msg
        msg="$(cat "$errors")"
        annotate_error "${msg:-revlint exited with code $code}"
        exit "$code"
    fi
}

# 1. The SARIF file, every finding. Written only when absent (revlint never overwrites),
#    never through a symbolic link, and only inside the workspace.
if [[ -n "$sarif_file" ]]; then
    if [[ -e "$sarif_file" || -L "$sarif_file" ]]; then
        fail "$sarif_file already exists; remove it or choose another sarif-file"
    fi
    sarif_dir="$(dirname -- "$sarif_file")"
    mkdir -p -- "$sarif_dir" 2>"$errors" || fail "cannot create $sarif_dir: $(cat "$errors")"
    real_dir="$(cd -- "$sarif_dir" && pwd -P)"
    [[ "$real_dir" == "$workspace" || "$real_dir" == "$workspace"/* ]] ||
        fail "sarif-file $sarif_file leads outside the workspace"
    # noclobber: the file is created, not truncated, even if it appeared meanwhile.
    (
        set -C
        "$revlint" check --format sarif --fail-on never -- "${paths[@]}" >"$sarif_file"
    ) 2>"$errors"
    code=$?
    if [[ "$code" -ge 2 ]]; then
        # revlint ran, so the file is the one this step created.
        rm -f -- "$sarif_file"
        check_usage "$code"
    elif [[ "$code" -ne 0 ]]; then
        # With --fail-on never, 1 is the shell failing to create the file.
        fail "could not write $sarif_file: $(cat "$errors")"
    fi
    if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
        printf 'sarif-file=%s\n' "$sarif_file" >>"$GITHUB_OUTPUT"
    fi
fi

# 2. The job summary: findings table, and the revision graph when it has a problem.
if [[ "$summary" == true && -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    "$revlint" check --format markdown --fail-on never "${diff_args[@]}" -- "${paths[@]}" \
        >>"$GITHUB_STEP_SUMMARY" 2>"$errors"
    check_usage $?
    if [[ -n "$diff_base" ]]; then
        printf '\n<sub>Findings in what this change introduces, compared with %s.</sub>\n' \
            "$(printf '%s' "$diff_base" | sed 's/[<>&`|]/ /g')" >>"$GITHUB_STEP_SUMMARY"
    fi
fi

# 3. Annotations in the log and on the pull request; this run's exit code is the step's.
"$revlint" check --format github --fail-on "$fail_on" "${diff_args[@]}" -- "${paths[@]}" 2>"$errors"
code=$?
check_usage "$code"
cat "$errors" >&2
exit "$code"
