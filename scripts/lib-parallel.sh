# shellcheck shell=bash
# Runs independent install steps side by side (the machine's cores are otherwise idle while one `go build`
# links or another waits on a download). Source it, then:
#   qm_job [--low] LABEL COMMAND [ARGS…]
#                                  starts COMMAND in the background; its output goes to stderr, each line
#                                  prefixed with [LABEL] (stdout too: callers that need a job's stdout run it alone).
#                                  --low: at a lower CPU priority (nice 10), for a job off the critical path, so
#                                  the longest job gets the cores first and the others fill its idle moments
#   qm_wait_jobs                   waits for every started job; fails naming each job that failed
_qm_job_pids=()
_qm_job_labels=()

qm_job() {
  local low=no
  if [ "$1" = --low ]; then low=yes; shift; fi
  local label="$1"
  shift
  (
    set -o pipefail
    if [ "$low" = yes ]; then renice -n 10 -p "$BASHPID" >/dev/null || true; fi
    "$@" 2>&1 | sed -u "s/^/[$label] /" >&2
  ) &
  _qm_job_pids+=("$!")
  _qm_job_labels+=("$label")
}

qm_wait_jobs() {
  local i rc failed=()
  for i in "${!_qm_job_pids[@]}"; do
    rc=0
    wait "${_qm_job_pids[$i]}" || rc=$?
    [ "$rc" -eq 0 ] || failed+=("${_qm_job_labels[$i]} (exit $rc)")
  done
  _qm_job_pids=()
  _qm_job_labels=()
  if [ "${#failed[@]}" -gt 0 ]; then
    printf 'failed: %s (its lines above are prefixed with its name)\n' "${failed[*]}" >&2
    return 1
  fi
}
