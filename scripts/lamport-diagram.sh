#!/usr/bin/env bash
# Regenerates tracks/timekeeper/lamport-diagram.svg, the Lamport diagram the
# timekeeper README shows: a small real run of the lamport stage, its
# report.html laid out by event steps in headless Chromium, and the diagram
# saved as a standalone SVG (styles inlined, tooltips and hidden labels
# dropped).
#
#   scripts/lamport-diagram.sh [OUT.svg]
#
# The run is in real time, so timings (and hence the drawing) differ a little
# from one run to the next; --seed fixes the operations. Needs Chromium, found
# or installed as in scripts/check-report-render.sh. Not part of `make test`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/tracks/timekeeper/lamport-diagram.svg}
run_args=(-w clocks --node-count 3 --time-limit 3 --rate 5 --latency 20 --recovery-time 1
  --timestamps lamport --seed 1)

browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$browser" ]; then
  echo "chromium not found; installing Debian's package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  browser=$(command -v chromium)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/bin/" ./cmd/maelstrom ./cmd/timekeeper)
"$work/bin/maelstrom" test "${run_args[@]}" --store "$work/store" \
  --bin "$work/bin/timekeeper" -- --stage lamport >"$work/run.log" 2>&1 || {
  cat "$work/run.log" >&2; echo "the run was not valid" >&2; exit 1; }
page=$(ls "$work"/store/clocks/*/report.html)

# Switch the page to the event-step layout, then copy both diagram SVGs (lane
# heads and lanes) into one standalone SVG with the rules that style them,
# CSS variables resolved. The result leaves the page base64-encoded in a <pre>.
extract='<script>(function(){
var d=document, mode=d.getElementById("mode");
mode.value="steps"; mode.dispatchEvent(new Event("change"));
var heads=d.getElementById("lamport-heads"), svg=d.getElementById("lamport"), ns="http://www.w3.org/2000/svg";
var W=+svg.getAttribute("width"), hh=+heads.getAttribute("height"), H=+svg.getAttribute("height");
var root=getComputedStyle(d.documentElement), css=[], each=function(l,f){Array.prototype.forEach.call(l,f);};
each(d.styleSheets,function(sh){each(sh.cssRules,function(r){
  var s=r.selectorText; if(!s||/^\*|\.diagram|cursor/.test(s)) return;
  var hit=false; try{hit=!!(svg.querySelector(s)||heads.querySelector(s));}catch(e){}
  if(hit) css.push(r.cssText.replace(/var\((--[a-z-]+)\)/g,function(_,v){return root.getPropertyValue(v).trim();}));
});});
var el=function(name,attrs,parent){var e=d.createElementNS(ns,name);for(var k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;};
var out=el("svg",{width:W,height:hh+H,viewBox:"0 0 "+W+" "+(hh+H)});
el("style",{},out).textContent=css.join("\n");
el("rect",{width:W,height:hh+H,fill:"#fff"},out);
var g1=el("g",{},out); each(heads.childNodes,function(n){g1.appendChild(n.cloneNode(true));});
el("line",{x1:0,x2:W,y1:hh-0.5,y2:hh-0.5,stroke:"#dde1e8"},out);
var g2=el("g",{transform:"translate(0,"+hh+")"},out); each(svg.childNodes,function(n){g2.appendChild(n.cloneNode(true));});
each(out.querySelectorAll("title, line.cursor"),function(n){n.remove();});
each(out.querySelectorAll("[style]"),function(n){if(n.style.display==="none")n.remove();else n.removeAttribute("style");});
each(out.querySelectorAll("*"),function(n){Array.prototype.slice.call(n.attributes).forEach(function(a){if(a.name.indexOf("data-")===0)n.removeAttribute(a.name);});});
var s=new XMLSerializer().serializeToString(out);
var pre=d.createElement("pre"); pre.id="svgout"; pre.textContent=btoa(unescape(encodeURIComponent(s))); d.body.appendChild(pre);
})();</script>'
html=$(<"$page")
printf '%s\n' "${html/<\/body>/$extract</body>}" >"$work/extract.html"

profile="$work/profile"
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
  --disable-component-update --disable-sync --disable-quic --hide-scrollbars --user-data-dir="$profile")
timeout 180 "$browser" "${flags[@]}" --virtual-time-budget=10000 --dump-dom "file://$work/extract.html" \
  >"$work/extract.dom" 2>"$work/chromium.log" || true
sed -n 's/.*<pre id="svgout">\([^<]*\)<.*/\1/p' "$work/extract.dom" | base64 -d >"$work/diagram.svg"
stamps=$({ grep -o 'stamp event=' "$work/diagram.svg" || true; } | wc -l)
if [ "$stamps" -eq 0 ]; then
  echo "no diagram extracted (see the browser's log):" >&2; tail -5 "$work/chromium.log" >&2; exit 1
fi

# The SVG must draw on its own: render it and insist on a non-blank picture.
size=$(sed -n 's/^<svg[^>]* width="\([0-9]*\)" height="\([0-9]*\)".*/\1,\2/p' "$work/diagram.svg" | head -1)
timeout 180 "$browser" "${flags[@]}" --window-size="${size:-1200,1800}" --screenshot="$work/diagram.png" \
  "file://$work/diagram.svg" >>"$work/chromium.log" 2>&1 || true
if [ ! -s "$work/diagram.png" ] || [ "$(stat -c %s "$work/diagram.png")" -lt 20000 ]; then
  echo "the standalone SVG did not render" >&2; exit 1
fi
cp "$work/diagram.svg" "$out"
echo "wrote $out: $(stat -c %s "$out") bytes, $stamps node-to-node messages, drawn ${size/,/x} px"
