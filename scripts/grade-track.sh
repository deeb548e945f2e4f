#!/usr/bin/env bash
# Grades the stages of one track with the grader, in process mode, the way a
# learner runs it. Stages come from tracks/<track>/stages.tsv.
#
#   scripts/grade-track.sh TRACK [STAGE]
#
# Environment:
#   BIN        node binary to grade (default bin/<track>); any language works
#   MAELSTROM  grader launcher (default bin/maelstrom). Point it at the JVM
#              Maelstrom's `maelstrom` script to use that one instead; stages
#              using workloads or faults it does not know are then skipped.
#   CI_MODE=1  grade only the stage marked ci=yes, with a short time limit
#              (CI_TIME_LIMIT seconds, default 5)
#
# A stage expected "invalid" is a teaching counter-example: it passes when the
# grader rejects it (exit code 1).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
track=${1:?usage: grade-track.sh TRACK [STAGE]}
only=${2:-}
file="$root/tracks/$track/stages.tsv"

if [ ! -f "$file" ]; then
  if grep -q "^$track	" "$root/scripts/tracks.txt"; then
    echo "track $track is not built yet: there is no tracks/$track/stages.tsv (see the status table in README.md)" >&2
  else
    echo "no track called $track; tracks are: $(grep -v '^#' "$root/scripts/tracks.txt" | cut -f1 | tr '\n' ' ')" >&2
  fi
  exit 2
fi

bin=${BIN:-$root/bin/$track}
maelstrom=${MAELSTROM:-$root/bin/maelstrom}
[ -x "$bin" ] || { echo "node binary $bin not found or not executable (run make build, or set BIN=)" >&2; exit 2; }
[ -x "$maelstrom" ] || { echo "grader $maelstrom not found or not executable (run make build, or set MAELSTROM=)" >&2; exit 2; }

external=0
case "$(basename "$maelstrom")" in maelstrom) [ "$maelstrom" != "$root/bin/maelstrom" ] && external=1 ;; esac
jvm_workloads=" echo unique-ids broadcast g-set g-counter pn-counter lin-kv kafka txn-list-append txn-rw-register "

# reason_ok EXPECT: for "invalid:checker,...", the run's results must show one
# of those checkers invalid (a counter-example rejected for the right reason).
reason_ok() {
  local by=${1#*:}
  [ "$by" = "$1" ] && return 0
  [ $external = 1 ] && return 0
  local results="$root/store/latest/results.json"
  [ -f "$results" ] || { echo "cannot check the reason: $results is missing" >&2; return 1; }
  local c
  for c in ${by//,/ }; do
    "$maelstrom" invalid-checkers "$results" | grep -qx "$c" && return 0
  done
  echo "rejected, but not by ${by//,/ or }: $("$maelstrom" invalid-checkers "$results" | tr '\n' ' ')" >&2
  return 1
}

pass=0 fail=0 skipped=0 found=0
results=()
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in ''|'#'*) continue ;; esac
  read -r -a f <<<"$line"
  name=${f[0]} expect=${f[1]} ci=${f[2]}
  args=("${f[@]:3}")
  [ -n "$only" ] && [ "$name" != "$only" ] && continue
  [ "${CI_MODE:-0}" = 1 ] && [ "$ci" != yes ] && continue
  found=1

  grader_args=() node_args=() seen_dashes=0 workload=""
  for ((i = 0; i < ${#args[@]}; i++)); do
    a=${args[$i]}
    if [ $seen_dashes = 1 ]; then node_args+=("$a"); continue; fi
    case "$a" in
      --) seen_dashes=1; continue ;;
      -w|--workload) workload=${args[$((i + 1))]} ;;
      --time-limit)
        if [ "${CI_MODE:-0}" = 1 ]; then grader_args+=("$a" "${CI_TIME_LIMIT:-5}"); i=$((i + 1)); continue; fi ;;
    esac
    grader_args+=("$a")
  done

  if [ $external = 1 ] && [[ "$jvm_workloads" != *" $workload "* ]]; then
    echo "== $track/$name: skipped: workload $workload is ours, not the JVM Maelstrom's"
    skipped=$((skipped + 1)); results+=("SKIP  $name"); continue
  fi

  echo "== $track/$name (expect $expect): maelstrom test ${grader_args[*]} --bin $bin${node_args:+ -- ${node_args[*]}}"
  cmd=("$maelstrom" test "${grader_args[@]}" --bin "$bin")
  [ ${#node_args[@]} -gt 0 ] && cmd+=(-- "${node_args[@]}")
  (cd "$root" && "${cmd[@]}")
  rc=$?
  verdict=$(case $rc in 0) echo valid ;; 1) echo invalid ;; 2) echo unknown ;; *) echo "error (exit $rc)" ;; esac)
  if [ "$verdict" = "${expect%%:*}" ] && reason_ok "$expect"; then
    pass=$((pass + 1)); results+=("PASS  $name: $verdict as expected")
  else
    fail=$((fail + 1)); results+=("FAIL  $name: grader said $verdict, expected $expect")
  fi
done <"$file"

if [ $found = 0 ]; then
  echo "no stage ${only:-marked ci=yes} in $file" >&2
  exit 2
fi
echo
echo "track $track:"
printf '  %s\n' "${results[@]}"
echo "  $pass passed, $fail failed, $skipped skipped"
[ $fail = 0 ]
