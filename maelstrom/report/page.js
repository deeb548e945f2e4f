// Interactivity for the grader's report: zoom and pan of the Lamport
// diagram along its time axis, a layout by event steps, a time window,
// links that jump to a moment, and history table filters.
// The server draws the diagram time-scaled; this script lays out the same
// elements again from their data attributes, so the page reads without it.
(function () {
  'use strict';
  var doc = document;
  setupTable();
  var svg = doc.getElementById('lamport');
  if (!svg) { ready(); return; }

  var box = doc.getElementById('diagram');
  var heads = box.querySelector('.heads');
  var left = num(svg, 'data-left'), laneW = num(svg, 'data-lanew');
  var top = num(svg, 'data-top'), bottom = num(svg, 'data-bottom');
  var T0 = num(svg, 'data-t0'), T1 = num(svg, 'data-t1'), basePx = num(svg, 'data-pxus');
  var STEP = 18;          // pixels per event in the step layout
  var MAX_HEIGHT = 4e6;   // browsers stop drawing beyond a few million pixels
  var st = { mode: 'time', zoom: 1, from: T0, to: T1 };
  var Y = null;           // the current time -> y mapping
  var bottomT = T1;       // the last time drawn

  function num(el, k) { var v = el.getAttribute(k); return v === null ? null : +v; }
  function all(sel) { return Array.prototype.slice.call(svg.querySelectorAll(sel)); }
  function r1(v) { return Math.round(v * 10) / 10; }
  function set(el, attrs) { for (var k in attrs) el.setAttribute(k, attrs[k]); }
  function xOf(i) { return left + i * laneW + laneW / 2; }
  function fmt(us) { return (us / 1e6).toFixed(3) + 's'; }
  function nice(x) {
    var p = Math.pow(10, Math.floor(Math.log10(x))), ms = [1, 2, 5, 10];
    for (var i = 0; i < ms.length; i++) if (ms[i] * p >= x) return ms[i] * p;
    return 10 * p;
  }

  var msgs = all('g.m').map(function (g) {
    return { g: g, s: num(g, 'data-s'), r: num(g, 'data-r'), a: num(g, 'data-a'), b: num(g, 'data-b'),
      self: g.hasAttribute('data-self'), line: g.querySelector('line'), text: g.querySelector('text'),
      x: g.querySelector('path.x'), hl: g.classList.contains('hl') };
  });
  msgs.forEach(function (m) { m.chars = m.text ? m.text.textContent.length : 0; });
  var faults = all('g.fault').map(function (g) {
    return { g: g, s: num(g, 'data-s'), e: num(g, 'data-e'), rect: g.querySelector('rect'), text: g.querySelector('text') };
  });
  var spans = all('rect.opspan').map(function (el) { return { el: el, s: num(el, 'data-s'), e: num(el, 'data-e') }; });
  var marks = all('g.vmark').map(function (g) {
    return { g: g, s: num(g, 'data-s'), line: g.querySelector('line'), text: g.querySelector('text') };
  });
  var lanes = all('line.lane');
  var axis = svg.querySelector('g.axis');
  var cursor = svg.querySelector('line.cursor');
  var status = doc.getElementById('diag-status');

  // mapping returns y(t) for the visible messages, with its inverse.
  function mapping(vis) {
    var from = st.from, f, k;
    if (st.mode === 'time') {
      k = basePx * st.zoom;
      f = function (t) { return top + (t - from) * k; };
      f.inv = function (y) { return from + (y - top) / k; };
      return f;
    }
    // One step per distinct event time: bursts spread out, idle time vanishes.
    var ev = [];
    vis.forEach(function (m) { ev.push(m.s); if (m.r !== null) ev.push(m.r); });
    ev.sort(function (a, b) { return a - b; });
    var u = [];
    for (var i = 0; i < ev.length; i++) if (!u.length || u[u.length - 1] !== ev[i]) u.push(ev[i]);
    if (u.length < 2) u = [st.from, Math.max(st.to, st.from + 1)];
    k = STEP * st.zoom;
    f = function (t) {
      if (t <= u[0]) return top;
      if (t >= u[u.length - 1]) return top + (u.length - 1) * k;
      var lo = 0, hi = u.length - 1;
      while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (u[mid] <= t) lo = mid; else hi = mid; }
      return top + (lo + (t - u[lo]) / (u[hi] - u[lo])) * k;
    };
    f.inv = function (y) {
      var x = (y - top) / k, i = Math.floor(x);
      if (i < 0) return u[0];
      if (i >= u.length - 1) return u[u.length - 1];
      return u[i] + (x - i) * (u[i + 1] - u[i]);
    };
    f.steps = u;
    return f;
  }

  function layout() {
    var vis = [];
    msgs.forEach(function (m) {
      var on = m.s >= st.from && m.s <= st.to;
      m.g.style.display = on ? '' : 'none';
      if (on) vis.push(m);
    });
    Y = mapping(vis);
    bottomT = st.to;
    vis.forEach(function (m) { if (m.r !== null && m.r > bottomT) bottomT = m.r; });
    var H = Math.ceil(Y(bottomT)) + bottom;
    svg.setAttribute('height', H);
    lanes.forEach(function (l) { l.setAttribute('y2', H); });
    vis.forEach(function (m) {
      var x1 = xOf(m.a), x2 = m.self ? x1 + laneW * 0.4 : xOf(m.b), y1 = Y(m.s), y2;
      if (m.r === null) {
        x2 = x1 + (x2 - x1) * 0.3; y2 = y1 + 12;
        if (m.x) m.x.setAttribute('transform', 'translate(' + r1(x2) + ',' + r1(y2) + ')');
      } else {
        y2 = Y(m.r);
      }
      set(m.line, { x1: r1(x1), y1: r1(y1), x2: r1(x2), y2: r1(y2) });
      if (m.text) {
        var mx = r1((x1 + x2) / 2), my = r1((y1 + y2) / 2);
        var rad = Math.atan2(y2 - y1, x2 - x1), ang = rad * 180 / Math.PI;
        if (ang > 90) ang -= 180;
        set(m.text, { x: mx, y: r1(my - 3), transform: 'rotate(' + r1(ang) + ' ' + mx + ' ' + my + ')' });
        m.box = labelBox(m, mx, my, rad);
      }
    });
    declutter(vis);
    faults.forEach(function (f) { band(f.g, f.rect, f.text, f.s, f.e); });
    spans.forEach(function (s) { band(null, s.el, null, s.s, s.e); });
    marks.forEach(function (m) {
      var on = m.s >= st.from && m.s <= bottomT;
      m.g.style.display = on ? '' : 'none';
      if (!on) return;
      var y = r1(Y(m.s));
      set(m.line, { y1: y, y2: y });
      m.text.setAttribute('y', y - 4);
    });
    drawAxis(H);
    if (status) {
      status.textContent = vis.length + ' of ' + msgs.length + ' messages, ' + fmt(st.from) + ' – ' + fmt(st.to) +
        (st.mode === 'time' ? ', time-scaled' : ', ' + Y.steps.length + ' event steps') + ', zoom ×' + st.zoom.toFixed(2) + '.';
    }
  }

  // labelBox approximates the label's bounding box from its length and
  // angle; measuring thousands of texts would force a layout per label.
  function labelBox(m, mx, my, rad) {
    var hw = m.chars * 2.9, c = Math.abs(Math.cos(rad)), s = Math.abs(Math.sin(rad));
    var w = hw * c + 6 * s + 2, h = hw * s + 6 * c;
    return { x0: mx - w, x1: mx + w, y0: my - 3 - h, y1: my - 3 + h };
  }

  // declutter hides labels that would overprint one already placed, so
  // that a dense stretch stays legible; zooming in brings them back.
  // Violations' labels are placed first so that they are never the ones hidden.
  function declutter(vis) {
    var rows = new Map(), ROW = 12;
    var order = vis.filter(function (m) { return m.box; });
    order.sort(function (a, b) { return (b.hl ? 1 : 0) - (a.hl ? 1 : 0); });
    order.forEach(function (m) {
      var b = m.box, r0 = Math.floor(b.y0 / ROW), r1_ = Math.floor(b.y1 / ROW), free = true, r, list, i;
      for (r = r0; r <= r1_ && free; r++) {
        list = rows.get(r);
        if (!list) continue;
        for (i = 0; i < list.length; i++) {
          var o = list[i];
          if (b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1) { free = false; break; }
        }
      }
      m.text.style.display = free ? '' : 'none';
      if (!free) return;
      for (r = r0; r <= r1_; r++) {
        list = rows.get(r);
        if (!list) rows.set(r, list = []);
        list.push(b);
      }
    });
  }

  // band places a shaded interval, clipped to what is drawn.
  function band(g, rect, text, s, e) {
    var a = Math.max(s, st.from), b = Math.min(e, bottomT);
    var el = g || rect;
    el.style.display = b < a ? 'none' : '';
    if (b < a) return;
    var y = Y(a);
    set(rect, { y: r1(y), height: r1(Math.max(Y(b) - y, 1)) });
    if (text) text.setAttribute('y', r1(y + 13));
  }

  function drawAxis(H) {
    while (axis.firstChild) axis.removeChild(axis.firstChild);
    var ticks = [];
    if (st.mode === 'time') {
      var step = nice(70 / (basePx * st.zoom));
      for (var t = Math.ceil(st.from / step) * step; t <= bottomT; t += step) ticks.push(t);
    } else {
      for (var y = top; y <= H - bottom; y += 80) ticks.push(Y.inv(y));
    }
    var ns = 'http://www.w3.org/2000/svg', w = svg.getAttribute('width');
    ticks.forEach(function (t) {
      var y = r1(Y(t));
      var l = doc.createElementNS(ns, 'line');
      set(l, { 'class': 'tick', x1: 0, x2: w, y1: y, y2: y });
      var tx = doc.createElementNS(ns, 'text');
      set(tx, { 'class': 'tick', x: left - 8, y: y + 4 });
      tx.textContent = fmt(t);
      axis.appendChild(l);
      axis.appendChild(tx);
    });
  }

  // zoomBy scales the time axis, keeping the moment under clientY in place.
  function zoomBy(k, clientY) {
    var extent = Y(bottomT) - top;
    var z = Math.min(Math.max(st.zoom * k, 0.001), 1000);
    if (extent * z / st.zoom > MAX_HEIGHT) z = st.zoom * MAX_HEIGHT / Math.max(extent, 1);
    if (z === st.zoom) return;
    var py = clientY - svg.getBoundingClientRect().top;
    var t = Y.inv(py);
    st.zoom = z;
    layout();
    box.scrollTop += Y(t) - py;
  }

  function centreY() { var r = box.getBoundingClientRect(); return r.top + heads.offsetHeight + (box.clientHeight - heads.offsetHeight) / 2; }

  function fit() {
    var extent = Y(bottomT) - top;
    var room = box.clientHeight - heads.offsetHeight - top - bottom;
    if (extent > 0 && room > 0) { st.zoom = Math.max(st.zoom * room / extent, 0.001); layout(); box.scrollTop = 0; }
  }

  // jump scrolls the diagram to moment t (µs) and flashes a line there.
  function jump(t) {
    if (t < st.from || t > st.to) { st.from = T0; st.to = T1; setWindowInputs(); layout(); }
    box.scrollIntoView({ block: 'start' });
    var y = Y(t);
    box.scrollTop = Math.max(0, heads.offsetHeight + y - box.clientHeight / 3);
    set(cursor, { x1: left, x2: svg.getAttribute('width'), y1: r1(y), y2: r1(y) });
    cursor.classList.add('on');
    setTimeout(function () { cursor.classList.remove('on'); }, 900);
  }

  function setWindowInputs() {
    doc.getElementById('wfrom').value = (st.from / 1e6).toFixed(3);
    doc.getElementById('wto').value = (st.to / 1e6).toFixed(3);
  }

  function applyWindow() {
    var f = parseFloat(doc.getElementById('wfrom').value), t = parseFloat(doc.getElementById('wto').value);
    f = isNaN(f) ? T0 : Math.min(Math.max(f * 1e6, T0), T1);
    t = isNaN(t) ? T1 : Math.min(Math.max(t * 1e6, T0), T1);
    if (t < f) { var x = f; f = t; t = x; }
    st.from = f; st.to = t; st.zoom = 1;
    layout();
    if (st.mode === 'time') fit();
    box.scrollTop = 0;
  }

  // Wheel zooms; shift+wheel still scrolls sideways. Events are batched
  // per frame because a trackpad sends dozens per second.
  var pending = 1, pendingY = 0, frame = 0;
  box.addEventListener('wheel', function (e) {
    if (e.shiftKey) return;
    e.preventDefault();
    pending *= Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
    pendingY = e.clientY;
    if (!frame) frame = requestAnimationFrame(function () { frame = 0; var k = pending; pending = 1; zoomBy(k, pendingY); });
  }, { passive: false });

  var drag = null;
  box.addEventListener('mousedown', function (e) {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, l: box.scrollLeft, t: box.scrollTop };
    box.classList.add('dragging');
  });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    box.scrollLeft = drag.l - (e.clientX - drag.x);
    box.scrollTop = drag.t - (e.clientY - drag.y);
  });
  window.addEventListener('mouseup', function (e) {
    // A press that did not move is a click: show that message in full,
    // since tooltips are slow and cannot be copied from.
    if (drag && Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) < 4) showMessage(e.target);
    drag = null;
    box.classList.remove('dragging');
  });

  var detail = doc.getElementById('msg-detail');
  function showMessage(target) {
    var g = target && target.closest ? target.closest('g.m') : null;
    if (!g || !detail) return;
    var title = g.querySelector('title');
    detail.textContent = title ? title.textContent : '';
    detail.hidden = false;
  }

  doc.getElementById('controls').addEventListener('click', function (e) {
    var act = e.target.getAttribute && e.target.getAttribute('data-act');
    if (act === 'in') zoomBy(1.6, centreY());
    else if (act === 'out') zoomBy(1 / 1.6, centreY());
    else if (act === 'fit') fit();
    else if (act === 'reset') { st.zoom = 1; layout(); }
    else if (act === 'window') applyWindow();
    else if (act === 'nowindow') { st.from = T0; st.to = T1; st.zoom = 1; setWindowInputs(); layout(); box.scrollTop = 0; }
  });
  doc.getElementById('mode').addEventListener('change', function (e) {
    st.mode = e.target.value; st.zoom = 1; layout(); box.scrollTop = 0;
  });
  doc.getElementById('labels').addEventListener('change', function (e) {
    svg.classList.toggle('nolabels', !e.target.checked);
  });
  Array.prototype.forEach.call(doc.querySelectorAll('a.jump'), function (a) {
    a.addEventListener('click', function (e) { e.preventDefault(); jump(+a.getAttribute('data-t')); });
  });

  setWindowInputs();
  layout();
  // A link to report.html#t=<µs> opens the diagram at that moment.
  var m = /^#t=(\d+)$/.exec(location.hash);
  if (m) jump(+m[1]);
  ready();

  function ready() { doc.body.setAttribute('data-ready', '1'); }

  function setupTable() {
    var table = doc.getElementById('history-table');
    if (!table) return;
    var sels = Array.prototype.slice.call(doc.querySelectorAll('.filters select'));
    var only = doc.getElementById('only-focus'), count = doc.getElementById('row-count');
    var rows = Array.prototype.slice.call(table.querySelectorAll('tr.op'));
    var gaps = Array.prototype.slice.call(table.querySelectorAll('tr.gap'));
    function apply() {
      var want = {}, filtering = only.checked;
      sels.forEach(function (s) { want[s.getAttribute('data-col')] = s.value; if (s.value) filtering = true; });
      var n = 0;
      rows.forEach(function (r) {
        var ok = (!want.f || r.getAttribute('data-f') === want.f) &&
          (!want.type || r.getAttribute('data-type') === want.type) &&
          (!want.node || r.getAttribute('data-node') === want.node) &&
          (!only.checked || r.classList.contains('focus'));
        r.style.display = ok ? '' : 'none';
        if (ok) n++;
      });
      gaps.forEach(function (g) { g.style.display = filtering ? 'none' : ''; });
      count.textContent = filtering ? n + ' of ' + rows.length + ' rows match' : '';
    }
    sels.forEach(function (s) { s.addEventListener('change', apply); });
    only.addEventListener('change', apply);
  }
})();
