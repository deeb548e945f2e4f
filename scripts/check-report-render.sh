#!/usr/bin/env bash
# Renders sample grader reports (maelstrom/report) in headless Chromium and
# fails unless the browser drew the Lamport diagram: one lane per
# participant, every message, and the page's script ran to the end. Then
# grades three short runs into a store, serves it with `maelstrom serve`
# and renders its index: a row per run, the filters, working links.
#
#   scripts/check-report-render.sh [OUT_DIR]
#
# OUT_DIR (default: a new temporary directory) receives sample.html (a small
# run) and large.html (beyond the 10,000-message cap), a screenshot of each
# (*.png), the DOM after scripts ran (*.dom.html) and Chromium's log; and
# store/ with serve-index.png and serve-*.dom.html.
#
# Needs Chromium; when none is found (or CHROMIUM names one) it installs
# Debian's package, which needs root. Not part of `make test`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$browser" ]; then
  echo "chromium not found; installing Debian's package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  browser=$(command -v chromium)
fi

(cd "$root" && REPORT_SAMPLE_DIR="$out" go test -count=1 -run '^TestWriteSample$' ./maelstrom/report/ >/dev/null)

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# A fresh profile and no background traffic: the machine may have no network.
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
  --disable-component-update --disable-sync --disable-quic --hide-scrollbars
  --user-data-dir="$profile" --enable-logging=stderr --v=0)

fail=0
count() { # pattern file: how many times pattern occurs, 0 when the file is empty
  { grep -o -- "$1" "$2" 2>/dev/null || true; } | wc -l
}
check() { # name condition message
  if ! eval "$2"; then echo "FAIL $1: $3" >&2; fail=1; fi
}

for name in sample large; do
  page="$out/$name.html"
  log="$out/$name.chromium.log"
  dom="$out/$name.dom.html"
  timeout 180 "$browser" "${flags[@]}" --virtual-time-budget=10000 --dump-dom "file://$page" >"$dom" 2>"$log" || true
  timeout 180 "$browser" "${flags[@]}" --window-size=1400,2400 --virtual-time-budget=10000 \
    --screenshot="$out/$name.png" "file://$page" >>"$log" 2>&1 || true

  lanes=$(count '<text class="head ' "$page")
  msgs=$(count '<g class="m ' "$page")
  dom_lanes=$(count '<line class="lane [a-z]*" data-p="[^"]*" x1="[0-9.]*" x2="[0-9.]*" y1="0" y2="[1-9][0-9]*"' "$dom")
  dom_msgs=$(count '<g class="m ' "$dom")

  check "$name" '[ "$lanes" -gt 0 ] && [ "$msgs" -gt 0 ]' "the sample page has no lanes or messages"
  check "$name" 'grep -q "<body data-ready=\"1\"" "$dom"' "the page's script did not finish (see $log)"
  check "$name" '[ "$dom_lanes" -eq "$lanes" ]' "rendered $dom_lanes of $lanes lanes"
  check "$name" '[ "$dom_msgs" -eq "$msgs" ]' "rendered $dom_msgs of $msgs messages"
  check "$name" 'grep -q "of $msgs messages" "$dom"' "the diagram status was not updated by the script"
  check "$name" '! grep -q "Uncaught" "$log"' "script error: $(grep -m1 Uncaught "$log" 2>/dev/null)"
  check "$name" '[ -s "$out/$name.png" ] && [ "$(stat -c %s "$out/$name.png")" -gt 20000 ]' "no screenshot, or a blank one"
  echo "$name: checked $lanes lanes and $msgs messages; screenshot $out/$name.png"
done

# Drive the controls the way a learner would: the event-step layout and a
# time window, then check the script laid the diagram out again.
drive='<script>(function(){var m=document.getElementById("mode");m.value="steps";m.dispatchEvent(new Event("change"));
document.getElementById("wfrom").value="1.2";document.getElementById("wto").value="1.5";
document.querySelector("[data-act=window]").click();document.getElementById("messages").scrollIntoView();
var l=document.querySelector("g.m.err line"),o={bubbles:true,button:0,clientX:5,clientY:5};
l.dispatchEvent(new MouseEvent("mousedown",o));l.dispatchEvent(new MouseEvent("mouseup",o));})();</script>'
html=$(<"$out/sample.html")
printf '%s\n' "${html/<\/body>/$drive</body>}" >"$out/steps.html"
timeout 180 "$browser" "${flags[@]}" --virtual-time-budget=10000 --dump-dom "file://$out/steps.html" >"$out/steps.dom.html" 2>"$out/steps.chromium.log" || true
timeout 180 "$browser" "${flags[@]}" --window-size=1400,1600 --virtual-time-budget=10000 \
  --screenshot="$out/steps.png" "file://$out/steps.html" >>"$out/steps.chromium.log" 2>&1 || true
hidden=$(count '<g class="m [^>]*style="display: none;"' "$out/steps.dom.html")
check steps 'grep -q "event steps" "$out/steps.dom.html"' "the event-step layout was not applied"
check steps 'grep -q "1.200s – 1.500s" "$out/steps.dom.html"' "the time window was not applied"
check steps '[ "$hidden" -gt 0 ]' "no message was hidden outside the window"
check steps 'grep -q "<pre class=\"msg-detail\" id=\"msg-detail\">{\"id\":" "$out/steps.dom.html"' "a click on a message did not show it in full"
check steps '! grep -q "Uncaught" "$out/steps.chromium.log"' "script error: $(grep -m1 Uncaught "$out/steps.chromium.log" 2>/dev/null)"
echo "steps: checked the event-step layout and a window ($hidden messages hidden); screenshot $out/steps.png"

# maelstrom serve: three runs (two valid, one invalid) in a fresh store,
# served on a free loopback port, the index rendered by the browser.
(cd "$root" && go build -o "$out/bin/" ./cmd/maelstrom ./cmd/messenger)
store="$out/store"
rm -rf "$store"
"$out/bin/maelstrom" test -w echo --bin "$out/bin/messenger" --node-count 1 --time-limit 1 --rate 10 --store "$store" -- --stage echo >/dev/null || true
"$out/bin/maelstrom" test -w errors --bin "$out/bin/messenger" --node-count 1 --time-limit 1 --rate 10 --store "$store" -- --stage errors >/dev/null || true
# The init stage's node answers no echo: every echo fails, the run is invalid.
"$out/bin/maelstrom" test -w echo --bin "$out/bin/messenger" --node-count 1 --time-limit 1 --rate 10 --store "$store" -- --stage init >/dev/null || true
"$out/bin/maelstrom" serve --store "$store" --port 0 >"$out/serve.log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null; rm -rf "$profile"' EXIT
url=""
for _ in $(seq 50); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$out/serve.log" || true)
  [ -n "$url" ] && break
  sleep 0.1
done
check serve '[ -n "$url" ]' "maelstrom serve did not start: $(cat "$out/serve.log")"
if [ -n "$url" ]; then
  timeout 180 "$browser" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "$url" >"$out/serve-index.dom.html" 2>"$out/serve.chromium.log" || true
  timeout 180 "$browser" "${flags[@]}" --window-size=1400,700 --virtual-time-budget=5000 --screenshot="$out/serve-index.png" "$url" >>"$out/serve.chromium.log" 2>&1 || true
  timeout 180 "$browser" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "${url}?verdict=invalid" >"$out/serve-invalid.dom.html" 2>>"$out/serve.chromium.log" || true
  rows=$(count '<tr class="run" ' "$out/serve-index.dom.html")
  invalid_rows=$(count '<tr class="run" [^>]*data-verdict="invalid"' "$out/serve-invalid.dom.html")
  other_rows=$(count '<tr class="run" [^>]*data-verdict="valid"' "$out/serve-invalid.dom.html")
  check serve '[ "$rows" -eq 3 ]' "the index shows $rows runs, want 3"
  check serve 'grep -q "3 of 3 runs" "$out/serve-index.dom.html"' "the index lacks its count"
  check serve '[ "$invalid_rows" -eq 1 ] && [ "$other_rows" -eq 0 ]' "the verdict filter shows $invalid_rows invalid and $other_rows valid runs, want 1 and 0"
  check serve 'grep -q "echo mismatch" "$out/serve-invalid.dom.html"' "the invalid run shows no first violation"
  report=$(grep -o 'href="/runs/[^"]*report.html"' "$out/serve-index.dom.html" | head -n 1 | sed 's/^href="\/\(.*\)"$/\1/')
  check serve '[ -n "$report" ] && timeout 180 "$browser" "${flags[@]}" --virtual-time-budget=10000 --dump-dom "$url$report" 2>/dev/null | grep -q "<body data-ready=\"1\""' "the index's report link did not render a report"
  check serve '[ -s "$out/serve-index.png" ]' "no screenshot of the index"
  echo "serve: checked the index ($rows runs), the verdict filter and a report link; screenshot $out/serve-index.png"
fi

if [ "$fail" -ne 0 ]; then
  echo "report render check failed; files in $out" >&2
  exit 1
fi
echo "report render check passed; files in $out"
