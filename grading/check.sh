#!/usr/bin/env bash
# Checks the class-grading setup in this directory, as far as this machine
# allows:
#
#   1. the GitHub Actions workflow and the Kubernetes manifests parse as YAML
#      (needs python3 with PyYAML; skipped otherwise);
#   2. the matrix's data flow, run locally: two sample submissions (the
#      reference messenger node, and the Python starter, which fails) graded
#      by two separate `maelstrom grade` calls, as two matrix jobs or two
#      pods would, then `maelstrom merge-results` over their results;
#   3. the Dockerfile builds and grades the sample submission, where a Docker
#      daemon answers (skipped, saying why, where none does).
#
#   grading/check.sh [OUT_DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
fail=0

echo "== 1. YAML"
if python3 -c 'import yaml' 2>/dev/null; then
  for f in github-actions.yml k8s-job.yaml; do
    if python3 -c 'import sys, yaml; docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]; assert docs' "$root/grading/$f"; then
      echo "$f parses"
    else
      echo "FAIL $f does not parse" >&2; fail=1
    fi
  done
else
  echo "skipped: python3 with PyYAML not found"
fi

echo "== 2. matrix and merge, locally"
(cd "$root" && go build -o "$out/bin/" ./cmd/maelstrom ./cmd/messenger)
subs="$out/submissions"
rm -rf "$subs" "$out/results"
mkdir -p "$subs/alice"
cp "$out/bin/messenger" "$subs/alice/node"
(cd "$root" && go run ./cmd/starter messenger "$subs/bob" python >/dev/null)
# The interpreter itself in the #! line, not a launcher script (such as
# pyenv's) that may take seconds to start on a loaded machine.
py=$(python3 -c 'import sys; print(sys.executable)')
{ echo "#!$py"; tail -n +2 "$subs/bob/messenger.py"; } >"$subs/bob/node"
chmod +x "$subs/bob/node"
rm "$subs/bob/messenger.py"
for s in alice bob; do
  rc=0
  (cd "$root" && "$out/bin/maelstrom" grade --track messenger --max-time-limit 3 --jobs 2 \
    --name "$s" --out "$out/results/$s" "$subs/$s") || rc=$?
  [ $rc -le 1 ] || { echo "FAIL grading $s: exit $rc" >&2; fail=1; }
done
"$out/bin/maelstrom" merge-results "$out/results" | tee "$out/class.md"
"$out/bin/maelstrom" merge-results --format csv "$out/results" >"$out/class.csv"
grep -q '^| alice | 1 | 1 | 1 | 3/3 |$' "$out/class.md" || { echo "FAIL alice should pass all three stages" >&2; fail=1; }
grep -q '^| bob | 1 | 0 | 0 | 1/3 |$' "$out/class.md" || { echo "FAIL bob (the starter) should pass init only" >&2; fail=1; }

echo "== 3. Docker"
if ! command -v docker >/dev/null; then
  echo "skipped: no docker command"
elif ! why=$(docker info 2>&1 >/dev/null); then
  echo "skipped: the Docker daemon does not answer: $(printf '%s' "$why" | tail -n 1)"
else
  docker build -f "$root/grading/Dockerfile" -t distsys-grader-check "$root"
  mkdir -p "$out/docker-results"
  chmod 777 "$out/docker-results"
  rc=0
  docker run --rm -v "$subs/alice:/submission" -v "$out/docker-results:/results" \
    distsys-grader-check --track messenger --max-time-limit 3 --name alice /submission || rc=$?
  if [ $rc != 0 ] || ! grep -q '"status": "passed"' "$out/docker-results/results.json"; then
    echo "FAIL the container did not grade the sample (exit $rc)" >&2; fail=1
  else
    echo "the container graded alice: $(grep -c '"status": "passed"' "$out/docker-results/results.json") stages passed"
  fi
fi

if [ $fail != 0 ]; then
  echo "grading check failed; files in $out" >&2
  exit 1
fi
echo "grading check passed; files in $out"
