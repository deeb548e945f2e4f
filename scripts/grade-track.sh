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
#   JOBS=N     grade up to N stages side by side (default 1). Stages whose
#              workload judges timing, or that simulate latency, still run
#              alone (`maelstrom grade --track TRACK --plan` lists which).
#              With another MAELSTROM, stages run one at a time.
#
# A stage expected "invalid" is a teaching counter-example: it passes when the
# grader rejects it (exit code 1). Each stage ends with a progress line
# (stage, wall time, verdict); a table of every stage ends the run.
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

jobs=${JOBS:-1}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "JOBS must be a positive number, got $jobs" >&2; exit 2; }
[ $external = 1 ] && jobs=1

# reason_ok EXPECT OUTPUT: for "invalid:checker,...", the run's results must
# show one of those checkers invalid (a counter-example rejected for the
# right reason). The run's directory is read from its summary ("results in
# DIR"), so that stages graded side by side each judge their own run.
reason_ok() {
  local by=${1#*:}
  [ "$by" = "$1" ] && return 0
  [ $external = 1 ] && return 0
  local dir results
  dir=$(sed -n 's/^results in //p' "$2" | tail -n 1)
  results=${dir:+$root/$dir/results.json}
  case "$dir" in /*) results=$dir/results.json ;; esac
  [ -n "$dir" ] || results="$root/store/latest/results.json"
  [ -f "$results" ] || { echo "cannot check the reason: $results is missing" >&2; return 1; }
  # Read the list whole before matching: with pipefail, grep -q closing
  # the pipe early would fail the writer and hide a match.
  local c invalid
  invalid=$("$maelstrom" invalid-checkers "$results")
  for c in ${by//,/ }; do
    grep -qx -- "$c" <<<"$invalid" && return 0
  done
  echo "rejected, but not by ${by//,/ or }: $(tr '\n' ' ' <<<"$invalid")" >&2
  return 1
}

# Stages graded alone even when JOBS > 1.
alone=" "
if [ "$jobs" -gt 1 ]; then
  if plan=$("$maelstrom" grade --track "$track" --tracks-dir "$root/tracks" --plan); then
    alone=" $(awk 'NR > 1 && $4 == "alone" {print $2}' <<<"$plan" | tr '\n' ' ')"
  else
    echo "cannot tell which stages must run alone; grading one stage at a time" >&2
    jobs=1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }
t_start=$(now_ms)

names=() expects=() cmds=() pass=0 fail=0 skipped=0 found=0 total=0
rows=()
progress() { # idx verdict result
  local i=$1 el
  el=$(awk -v ms="$(cat "$tmp/$i.ms")" 'BEGIN {printf "%.1fs", ms / 1000}')
  printf '%s\n' "-- [$((i + 1))/$total] $track/${names[$i]}: $el, $2 ($3)"
  rows+=("$(printf '%-4s  %-22s %-30s %-9s %8s' "$3" "${names[$i]}" "${expects[$i]}" "$2" "$el")")
}

# run_stage IDX: grades one stage; its summary goes to $tmp/IDX.out
# (echoed live when LIVE=1), exit code and wall time beside it.
run_stage() {
  local i=$1 t0 rc
  t0=$(now_ms)
  eval "local cmd=(${cmds[$i]})"
  if [ "${LIVE:-0}" = 1 ]; then
    (cd "$root" && "${cmd[@]}") | tee "$tmp/$i.out"
    rc=${PIPESTATUS[0]}
  else
    (cd "$root" && "${cmd[@]}") >"$tmp/$i.out" 2>&1
    rc=$?
  fi
  echo $(($(now_ms) - t0)) >"$tmp/$i.ms"
  echo $rc >"$tmp/$i.rc.new" && mv "$tmp/$i.rc.new" "$tmp/$i.rc"
}

# finish IDX: prints a stage's outcome (and, for stages run side by side,
# its output) and counts it.
finish() {
  local i=$1 rc verdict
  [ "${2:-}" = show ] && cat "$tmp/$i.out"
  rc=$(cat "$tmp/$i.rc")
  verdict=$(case $rc in 0) echo valid ;; 1) echo invalid ;; 2) echo unknown ;; *) echo "error-$rc" ;; esac)
  if [ "$verdict" = "${expects[$i]%%:*}" ] && reason_ok "${expects[$i]}" "$tmp/$i.out"; then
    pass=$((pass + 1)); progress "$i" "$verdict" PASS
  else
    fail=$((fail + 1)); progress "$i" "$verdict" FAIL
  fi
}

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
    skipped=$((skipped + 1)); rows+=("SKIP  $name"); continue
  fi

  cmd=("$maelstrom" test "${grader_args[@]}" --bin "$bin")
  [ ${#node_args[@]} -gt 0 ] && cmd+=(-- "${node_args[@]}")
  names+=("$name") expects+=("$expect") cmds+=("$(printf '%q ' "${cmd[@]}")")
done <"$file"

if [ $found = 0 ]; then
  echo "no stage ${only:-marked ci=yes} in $file" >&2
  exit 2
fi
total=${#names[@]}

announce() { echo "== $track/${names[$1]} (expect ${expects[$1]}): ${cmds[$1]}"; }
if [ "$jobs" = 1 ]; then
  for i in "${!names[@]}"; do
    announce "$i"
    LIVE=1 run_stage "$i"
    finish "$i"
  done
else
  # Stages that may share the machine first, JOBS at a time, each printed
  # when it ends; then the ones that run alone.
  echo "== grading up to $jobs stages side by side; alone:${alone% }"
  running=()
  for i in "${!names[@]}"; do
    [[ "$alone" == *" ${names[$i]} "* ]] && continue
    announce "$i"
    run_stage "$i" &
    running+=("$!:$i")
    while [ ${#running[@]} -ge "$jobs" ]; do
      wait -n 2>/dev/null || true
      still=()
      for r in "${running[@]}"; do
        if [ ! -f "$tmp/${r#*:}.rc" ]; then still+=("$r"); else wait "${r%%:*}"; finish "${r#*:}" show; fi
      done
      running=("${still[@]}")
    done
  done
  for r in "${running[@]}"; do wait "${r%%:*}"; finish "${r#*:}" show; done
  for i in "${!names[@]}"; do
    [[ "$alone" == *" ${names[$i]} "* ]] || continue
    announce "$i"
    LIVE=1 run_stage "$i"
    finish "$i"
  done
fi

wall=$(awk -v ms=$(($(now_ms) - t_start)) 'BEGIN {printf "%.1fs", ms / 1000}')
echo
echo "track $track (JOBS=$jobs, $wall wall):"
printf '  %-4s  %-22s %-30s %-9s %8s\n' "" stage expect verdict wall
printf '  %s\n' "${rows[@]}"
echo "  $pass passed, $fail failed, $skipped skipped"
[ $fail = 0 ]
