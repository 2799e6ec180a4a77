// Draws a Caxton report (the `--html` file, and the `--dashboard` page,
// which receives the same state again as the run goes on). Everything comes
// from the JSON state; text is set as text, never parsed as HTML.
"use strict";
(function () {
  var NINES_TICKS = [0, 1, 2, 3, 4];
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#9a6700", "#57606a"];
  var charts = [];
  // Choices that survive a redraw (the dashboard redraws on every event).
  var chosen = null;
  // Until the reader ticks a box, the overlay follows the measurements as
  // they arrive (a live page gets the comparable ones one by one).
  var pickedByHand = false;
  var chosenBaseline = null;

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "cls") node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var kid = arguments[i];
      if (kid == null) continue;
      node.appendChild(typeof kid === "string" ? document.createTextNode(kid) : kid);
    }
    return node;
  }

  function ns(v) {
    if (v == null || !isFinite(v)) return "-";
    if (v < 1e3) return v.toFixed(0) + " ns";
    if (v < 1e6) return (v / 1e3).toFixed(2) + " µs";
    if (v < 1e9) return (v / 1e6).toFixed(2) + " ms";
    return (v / 1e9).toFixed(2) + " s";
  }
  function rate(v) {
    if (v == null || !isFinite(v)) return "-";
    if (v < 1e3) return v.toFixed(0) + "/s";
    if (v < 1e6) return (v / 1e3).toFixed(1) + "K/s";
    return (v / 1e6).toFixed(2) + "M/s";
  }
  function bytes(v) {
    if (v == null) return "-";
    if (v < 1024) return v + " B";
    if (v < 1048576) return (v / 1024).toFixed(1) + " KiB";
    if (v < 1073741824) return (v / 1048576).toFixed(2) + " MiB";
    return (v / 1073741824).toFixed(2) + " GiB";
  }
  function pct(change) { return (change >= 0 ? "+" : "") + (change * 100).toFixed(1) + "%"; }
  function nines(x) {
    var p = 100 * (1 - Math.pow(10, -x));
    return (Math.round(p * 1000) / 1000) + "%";
  }

  function table(head, rows) {
    var t = el("table");
    t.appendChild(el("thead", null, el.apply(null, ["tr", null].concat(head.map(function (h) { return el("th", { text: h }); })))));
    var body = el("tbody");
    rows.forEach(function (cells) {
      body.appendChild(el.apply(null, ["tr", null].concat(cells.map(function (c) {
        if (c && typeof c === "object" && c.nodeType) return el("td", { cls: "text" }, c);
        return el("td", { text: String(c) });
      }))));
    });
    t.appendChild(body);
    return t;
  }

  function verdictCell(v) { return el("span", { cls: v, text: v.toUpperCase() }); }

  function card(value, label) { return el("div", { cls: "card" }, el("b", { text: value }), el("span", { text: label })); }

  // Latency by percentile: one series per curve, on the "nines" axis.
  function percentileChart(target, curves, title) {
    if (!curves.length) return;
    var xs = curves[0].points.map(function (p) { return p[0]; });
    var data = [xs].concat(curves.map(function (c) { return c.points.map(function (p) { return p[1]; }); }));
    var series = [{ label: "percentile", value: function (u, v) { return v == null ? "-" : nines(v); } }].concat(curves.map(function (c, i) {
      return {
        label: c.label || c.name,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        dash: c.dash || undefined,
        value: function (u, v) { return v == null ? "-" : ns(v * 1e3); }
      };
    }));
    var box = el("div", { cls: "chart" });
    target.appendChild(box);
    charts.push(new uPlot({
      title: title,
      width: Math.min(1200, document.body.clientWidth - 80),
      height: 320,
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [
        { values: function (u, vals) { return vals.map(nines); }, splits: function () { return NINES_TICKS; }, label: "percentile" },
        { values: function (u, vals) { return vals.map(function (v) { return v == null ? "" : ns(v * 1e3); }); }, label: "latency", size: 80 }
      ],
      series: series
    }, data, box));
  }

  // A run's windows: throughput and p99 over time; RSS over time.
  function timelineCharts(target, m) {
    var w = m.timeline;
    var xs = w.map(function (x) { return x.start_s; });
    var len = w.length > 1 ? (w[1].start_s - w[0].start_s) : (m.elapsed_ns / 1e9);
    var width = Math.min(1200, document.body.clientWidth - 80);
    var box = el("div", { cls: "chart" });
    target.appendChild(box);
    charts.push(new uPlot({
      title: m.name + ": throughput and p99 by window",
      width: width, height: 260,
      scales: { x: { time: false }, rate: {}, lat: {} },
      axes: [
        { label: "seconds" },
        { scale: "rate", values: function (u, v) { return v.map(rate); }, label: "throughput", size: 70 },
        { scale: "lat", side: 1, values: function (u, v) { return v.map(function (x) { return x == null ? "" : ns(x); }); }, label: "p99", size: 80, grid: { show: false } }
      ],
      series: [
        { label: "start" },
        { label: "throughput", scale: "rate", stroke: COLORS[0], width: 2, value: function (u, v) { return rate(v); } },
        { label: "p99", scale: "lat", stroke: COLORS[1], width: 2, value: function (u, v) { return ns(v); } }
      ]
    }, [xs, w.map(function (x) { return len > 0 ? x.count / len : null; }), w.map(function (x) { return x.count ? x.p99 : null; })], box));
    if (w.some(function (x) { return x.rss_bytes != null; })) {
      var box2 = el("div", { cls: "chart" });
      target.appendChild(box2);
      charts.push(new uPlot({
        title: m.name + ": resident memory",
        width: width, height: 200,
        scales: { x: { time: false } },
        axes: [{ label: "seconds" }, { values: function (u, v) { return v.map(bytes); }, size: 80 }],
        series: [{ label: "start" }, { label: "RSS", stroke: COLORS[2], width: 2, value: function (u, v) { return bytes(v); } }]
      }, [xs, w.map(function (x) { return x.rss_bytes; })], box2));
    }
  }

  // Measurements that differ only by where they ran (in-process vs QUIC,
  // local vs remote) belong on one chart.
  function comparable(names) {
    var words = /\b(in-process|inprocess|quic|remote|local|in process)\b/gi;
    var groups = {};
    names.forEach(function (n) {
      var key = n.replace(words, "").replace(/\s+/g, " ").trim().toLowerCase();
      (groups[key] = groups[key] || []).push(n);
    });
    var best = Object.keys(groups).map(function (k) { return groups[k]; }).filter(function (g) { return g.length > 1; });
    return best.length ? best[0] : names.slice(0, 3);
  }

  function render(state) {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var app = document.getElementById("app");
    app.replaceChildren();
    var r = state.report;
    var failed = (r.thresholds || []).some(function (t) { return t.verdict === "fail"; });
    app.appendChild(el("h1", { text: "Caxton report: " + r.script }));
    app.appendChild(el("p", { cls: "meta", id: "meta", text: metaText(r) }));

    if (state.live) app.appendChild(liveBox(state));

    var ok = (r.thresholds || []).filter(function (t) { return t.verdict === "pass"; }).length;
    var cards = el("div", { cls: "cards" });
    cards.appendChild(card(String(r.measurements.length), "measurements"));
    if ((r.thresholds || []).length) cards.appendChild(card(ok + " / " + r.thresholds.length, failed ? "thresholds pass (some FAIL)" : "thresholds pass"));
    if (r.baseline) cards.appendChild(card(r.baseline.changes.filter(function (c) { return c.regression; }).length + " regressions", "against baseline " + r.baseline.name));
    app.appendChild(cards);

    if ((r.verdicts || []).length) {
      app.appendChild(el("h2", { text: "Verdicts" }));
      app.appendChild(el.apply(null, ["ul", { cls: "verdicts" }].concat(r.verdicts.map(function (v) { return el("li", { text: v }); }))));
    }

    if ((r.thresholds || []).length) {
      app.appendChild(el("h2", { text: "Thresholds" }));
      app.appendChild(table(["measurement", "verdict", "detail"], r.thresholds.map(function (t) {
        var d = el("span", { text: t.detail });
        return [t.threshold.metric, verdictCell(t.verdict), d];
      })));
    }

    if (r.measurements.length) {
      app.appendChild(el("h2", { text: "Measurements" }));
      app.appendChild(table(["name", "count", "errors", "throughput", "p50", "p90", "p99", "p99.9", "max", "noise", "RSS per agent"], r.measurements.map(function (m) {
        var res = m.resources;
        return [m.name, m.count, m.errors, rate(m.throughput), ns(m.p50), ns(m.p90), ns(m.p99), ns(m.p999), ns(m.max), (m.noise * 100).toFixed(1) + "%", res && res.rss_per_agent != null ? bytes(res.rss_per_agent) : "-"];
      })));
    }

    if ((r.comparisons || []).length) {
      app.appendChild(el("h2", { text: "A/B comparisons" }));
      app.appendChild(table(["A", "B", "B / A (median)", "range", "rounds"], r.comparisons.map(function (c) {
        return [c.a, c.b, c.ratio.toFixed(3) + "x", c.ratio_min.toFixed(3) + "-" + c.ratio_max.toFixed(3) + "x", c.rounds];
      })));
    }

    if (r.baseline) {
      var b = r.baseline;
      app.appendChild(el("h2", { text: "Baseline " + b.name + " / Current" }));
      app.appendChild(table(["measurement", "metric", "baseline", "current", "change", ""], b.changes.map(function (c) {
        var fmt = c.metric === "throughput" ? rate : ns;
        return [c.measurement, c.metric, fmt(c.baseline), fmt(c.current), pct(c.change), c.regression ? verdictCell("fail") : el("span", { cls: "pass", text: "ok" })];
      })));
      if (b.new.length) app.appendChild(el("p", { cls: "muted", text: "New in this run: " + b.new.join(", ") }));
      if (b.missing.length) app.appendChild(el("p", { cls: "muted", text: "No longer measured: " + b.missing.join(", ") }));
    }

    var curves = state.curves || [];
    if (curves.length) {
      app.appendChild(el("h2", { text: "Latency by percentile" }));
      var names = curves.map(function (c) { return c.name; });
      if (!chosen || !pickedByHand) chosen = comparable(names);
      chosen = chosen.filter(function (n) { return names.indexOf(n) >= 0; });
      var picker = el("div", { cls: "picker", id: "overlay-picker" });
      var area = el("div");
      names.forEach(function (n) {
        var box = el("input", { type: "checkbox" });
        box.checked = chosen.indexOf(n) >= 0;
        box.addEventListener("change", function () {
          pickedByHand = true;
          chosen = box.checked ? chosen.concat([n]) : chosen.filter(function (x) { return x !== n; });
          draw();
        });
        picker.appendChild(el("label", null, box, " " + n));
      });
      function draw() {
        charts = charts.filter(function (c) { if (c.root.parentNode && area.contains(c.root)) { c.destroy(); return false; } return true; });
        area.replaceChildren();
        percentileChart(area, curves.filter(function (c) { return chosen.indexOf(c.name) >= 0; }), "latency by percentile (tick the measurements to overlay)");
      }
      app.appendChild(picker);
      app.appendChild(area);
      draw();
    }

    var base = state.baseline_curves || [];
    if (base.length) {
      var both = base.filter(function (bc) { return curves.some(function (c) { return c.name === bc.name; }); });
      if (both.length) {
        app.appendChild(el("h2", { text: "Baseline vs Current" }));
        if (!chosenBaseline || !both.some(function (c) { return c.name === chosenBaseline; })) chosenBaseline = both[0].name;
        var select = el("select", { id: "baseline-picker" });
        both.forEach(function (c) { var o = el("option", { value: c.name, text: c.name }); if (c.name === chosenBaseline) o.selected = true; select.appendChild(o); });
        var barea = el("div");
        function drawBase() {
          charts = charts.filter(function (c) { if (barea.contains(c.root)) { c.destroy(); return false; } return true; });
          barea.replaceChildren();
          var cur = curves.filter(function (c) { return c.name === chosenBaseline; })[0];
          var old = both.filter(function (c) { return c.name === chosenBaseline; })[0];
          percentileChart(barea, [{ name: old.name, label: "Baseline", points: old.points, dash: [6, 4] }, { name: cur.name, label: "Current", points: cur.points }], chosenBaseline + ": Baseline vs Current");
        }
        select.addEventListener("change", function () { chosenBaseline = select.value; drawBase(); });
        app.appendChild(select);
        app.appendChild(barea);
        drawBase();
      }
    }

    var timed = r.measurements.filter(function (m) { return (m.timeline || []).length; });
    if (timed.length) {
      app.appendChild(el("h2", { text: "Timelines" }));
      timed.forEach(function (m) { timelineCharts(app, m); });
    }
    document.title = (state.live && !state.finished ? "● " : "") + "Caxton report: " + r.script;
    document.body.setAttribute("data-rendered", String(Date.now()));
  }

  // The dashboard's box: the measurement under way, or how the run ended.
  function liveBox(state) {
    var r = state.report;
    var live = el("div", { id: "live", cls: state.finished ? "done" : "" });
    if (state.finished && state.error) {
      live.className = "done failed";
      live.appendChild(el("b", { text: "The script failed: " }));
      live.appendChild(el("span", { text: state.error }));
    } else if (state.finished) {
      live.appendChild(el("b", { text: "Finished" }));
      live.appendChild(document.createTextNode(" after " + r.elapsed_s.toFixed(1) + " s: this page now shows the full report."));
    } else if (state.progress) {
      var p = state.progress;
      live.appendChild(el("b", { text: "Running: " + p.name }));
      var of = p.expected_s ? " of " + p.expected_s.toFixed(1) + " s" : "";
      live.appendChild(el("div", { id: "live-figures", text: p.elapsed_s.toFixed(1) + " s" + of + " · " + p.count + " done · " + rate(p.rate) + " · p50 " + ns(p.p50) + " · p99 " + ns(p.p99) + (p.errors ? " · " + p.errors + " errors" : "") }));
    } else {
      live.appendChild(el("b", { text: "Running" }));
      live.appendChild(document.createTextNode(" (between measurements, " + r.elapsed_s.toFixed(1) + " s in)"));
    }
    return live;
  }

  function metaText(r) {
    var started = new Date(r.started_unix * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    return "caxton " + r.caxton_version + " · started " + started + " · " + r.elapsed_s.toFixed(1) + " s · " + r.measurements.length + " measurements";
  }

  // What a redraw of everything but the live box depends on.
  function contentKey(state) {
    return JSON.stringify([state.report.measurements, state.report.thresholds, state.report.verdicts, state.report.comparisons, state.report.baseline, (state.curves || []).length, state.finished, state.error]);
  }

  var state = JSON.parse(document.getElementById("caxton-data").textContent);
  render(state);
  if (state.live && !state.finished) {
    var source = new EventSource(state.live);
    var shown = contentKey(state);
    source.addEventListener("state", function (e) {
      var next = JSON.parse(e.data);
      var key = contentKey(next);
      var box = document.getElementById("live");
      if (key === shown && box) {
        // Only the progress moved: redraw the box, not the charts (the
        // reader keeps the scroll position and the curves ticked).
        box.replaceWith(liveBox(next));
        document.getElementById("meta").textContent = metaText(next.report);
      } else {
        render(next);
        shown = key;
      }
      if (next.finished) source.close();
    });
    source.onerror = function () {
      // The run ended and its server went away: keep what is shown, say so.
      if (source.readyState === EventSource.OPEN) return;
      var box = document.getElementById("live");
      if (box && !box.classList.contains("done")) {
        source.close();
        box.className = "done failed";
        box.replaceChildren(el("b", { text: "Disconnected" }), document.createTextNode(": the run's dashboard went away before the end; this is the last state received."));
      }
    };
  }
})();
