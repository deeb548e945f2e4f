#!/usr/bin/env bash
# Renders sample grader reports (maelstrom/report) in headless Chromium and
# fails unless the browser drew the Lamport diagram: one lane per
# participant, every message, and the page's script ran to the end.
#
#   scripts/check-report-render.sh [OUT_DIR]
#
# OUT_DIR (default: a new temporary directory) receives sample.html (a small
# run) and large.html (beyond the 10,000-message cap), a screenshot of each
# (*.png), the DOM after scripts ran (*.dom.html) and Chromium's log.
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

if [ "$fail" -ne 0 ]; then
  echo "report render check failed; files in $out" >&2
  exit 1
fi
echo "report render check passed; files in $out"
