//! Scripts: the shipped ones compile under production settings, errors
//! point at the line, and the sandbox stops runaway scripts.

use std::path::Path;

use caxton::report::threshold::Verdict;
use caxton::script::{Runner, ScriptContext, ScriptError, ScriptLimits};

use super::util::{caxton_run, node};

fn scripts_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts")
}

/// Runs `source` on a fresh node with `limits`.
/// The names of a report's measurements, in order.
fn measurement_names(report: &caxton::report::Report) -> Vec<&str> {
    report
        .measurements
        .iter()
        .map(|m| m.name.as_str())
        .collect()
}

fn run(source: &str, limits: ScriptLimits) -> Result<ScriptContext, ScriptError> {
    let t = node();
    let ctx = ScriptContext::new(t.node.clone(), "test.rhai");
    Runner::new(&ctx, limits).run("test.rhai", source)?;
    Ok(ctx)
}

#[test]
fn every_shipped_script_compiles_with_production_limits() {
    let t = node();
    let ctx = ScriptContext::new(t.node.clone(), "compile-check");
    let runner = Runner::new(&ctx, ScriptLimits::default());
    let mut seen = 0;
    for entry in std::fs::read_dir(scripts_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            let source = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = runner.compile(&path.display().to_string(), &source) {
                panic!("{e}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 1, "no scripts found in {}", scripts_dir().display());
}

#[test]
fn the_quickstart_runs_and_measures() {
    let source = std::fs::read_to_string(scripts_dir().join("quickstart.rhai")).unwrap();
    let t = super::util::node_with(caxton::host::EngineOptions {
        max_agents: 10_100,
        cache_dir: super::util::cache_dir(),
        ..Default::default()
    });
    let ctx = ScriptContext::new(t.node.clone(), "quickstart.rhai");
    Runner::new(&ctx, ScriptLimits::default())
        .run("quickstart.rhai", &source)
        .unwrap_or_else(|e| panic!("{e}"));
    let report = ctx.report.lock().unwrap();
    let names = measurement_names(&report);
    assert_eq!(names, ["request round trip (256 B)", "spawn echo agent"]);
    for m in &report.measurements {
        assert!(m.count > 0 && m.errors == 0, "{m:?}");
        assert!(m.p50 > 0 && m.p50 <= m.p99 && m.p99 <= m.max, "{m:?}");
    }
    assert_eq!(
        ctx.node.agent_count(),
        0,
        "the quickstart cleans up its agents"
    );
}

#[test]
fn spawn_request_and_measure_from_a_script() {
    let source = r#"
        let a = spawn("echo", #{ name: "e", memory: "8 MiB", deadline: 200, mailbox: 16 });
        if request(a, "ping") != "ping" { throw "bad echo"; }
        if a.name != "e" || a.status != "running" { throw `bad agent ${a.name} ${a.status}`; }
        let s = measure("r", #{ iterations: 50 }, || request(a, "x"));
        if s.count != 50 || s.errors != 0 { throw "bad stats"; }
        let many = spawn_many(plugin("echo"), 10, #{ name: "m" });
        if many.len() != 10 || agent_count() != 11 { throw "bad spawn_many"; }
        send(many[3], "fire and forget");
        kill(many);
        stop(a);
        if a.status != "stopped" { throw a.status; }
    "#;
    run(source, ScriptLimits::default()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_bad_spawn_option_points_at_the_call() {
    let source = "let p = plugin(\"echo\");\nlet a = spawn(p, #{ memory: \"12 parsecs\" });\n";
    let err = run(source, ScriptLimits::default()).unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
    let text = err.to_string();
    assert!(text.contains("spawn option `memory`"), "{text}");
    assert!(text.contains("`12 parsecs` is not a size"), "{text}");
    assert!(text.contains("test.rhai:2:"), "{text}");
}

#[test]
fn a_failed_request_is_a_script_error_with_the_reason() {
    let source = "let c = spawn(\"crasher\");\nrequest(c, \"trap\");\n";
    let err = run(source, ScriptLimits::default()).unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(
        err.message.contains("failed before replying: trapped"),
        "{err}"
    );
}

#[test]
fn an_unknown_plugin_in_a_script_says_what_exists() {
    let err = run("plugin(\"ecko\");", ScriptLimits::default()).unwrap_err();
    assert!(err.message.contains("no plugin named `ecko`"), "{err}");
    assert_eq!(err.line, Some(1));
}

#[test]
fn a_syntax_error_is_reported_with_a_caret() {
    let err = run("let x = ;\n", ScriptLimits::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("syntax error:"), "{text}");
    assert!(text.contains("test.rhai:1:"), "{text}");
    assert!(text.contains('^'), "{text}");
}

#[test]
fn an_endless_loop_hits_the_operations_limit() {
    let limits = ScriptLimits {
        max_operations: 100_000,
        ..ScriptLimits::default()
    };
    let err = run("let i = 0;\nloop { i += 1; }\n", limits).unwrap_err();
    assert!(err.message.contains("limit of 100000 operations"), "{err}");
}

#[test]
fn an_endless_loop_inside_measure_stops_the_script() {
    let limits = ScriptLimits {
        max_operations: 100_000,
        ..ScriptLimits::default()
    };
    let err = run(
        "measure(\"m\", #{ iterations: 10 }, || { loop {} });",
        limits,
    )
    .unwrap_err();
    assert!(err.message.contains("operations"), "{err}");
}

#[test]
fn the_wall_clock_limit_stops_a_slow_script() {
    let limits = ScriptLimits {
        wall_clock: std::time::Duration::from_millis(200),
        ..ScriptLimits::default()
    };
    let err = run("loop { sleep(\"5ms\"); }", limits).unwrap_err();
    assert!(err.message.contains("wall-clock limit"), "{err}");
}

#[test]
fn runaway_recursion_hits_the_call_depth_limit() {
    let err = run("fn f(n) { f(n + 1) }\nf(0);\n", ScriptLimits::default()).unwrap_err();
    assert!(err.message.contains("call-depth limit of 64"), "{err}");
}

#[test]
fn a_giant_string_hits_the_size_limit() {
    let limits = ScriptLimits {
        max_string: 1 << 20,
        ..ScriptLimits::default()
    };
    let err = run("let s = \"x\";\nloop { s += s; }\n", limits).unwrap_err();
    assert!(err.message.contains("size limit"), "{err}");
}

#[test]
fn caxton_run_exits_non_zero_with_file_line_col() {
    let dir = std::env::temp_dir().join(format!("caxton-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("bad.rhai");
    std::fs::write(&script, "let a = 1;\nlet b = no_such_function(a);\n").unwrap();
    let out = caxton_run(&dir, &script, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.rhai:2:9"), "{stderr}");
    assert!(
        stderr.contains("2 | let b = no_such_function(a);"),
        "{stderr}"
    );

    let json = dir.join("report.json");
    let ok = dir.join("ok.rhai");
    std::fs::write(
        &ok,
        "let a = spawn(\"echo\");\nmeasure(\"m\", #{ iterations: 10 }, || request(a, \"x\"));\n",
    )
    .unwrap();
    let out = caxton_run(&dir, &ok, &["--json", json.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: caxton::report::Report =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report.measurements.len(), 1);
    assert_eq!(report.measurements[0].count, 10);
    assert!(String::from_utf8_lossy(&out.stdout).contains("measurement"));
}

#[test]
fn a_script_serves_connects_and_drives_remote_agents() {
    let result = run(
        r#"
        let b = serve(#{ name: "b" });
        let remote = connect(b.addr, #{ fingerprint: b.fingerprint, token: b.token });
        if remote.name != "b" { throw `handshake name ${remote.name}`; }
        let e = spawn(remote, "echo", #{ name: "far", memory: "8 MiB" });
        if request(e, "over quic") != "over quic" { throw "bad reply"; }
        let path = remote.path_stats();
        if path.sent_packets <= 0 || path.rtt <= 0.0 || path.lost_packets < 0 { throw `path stats ${path}`; }
        let drops = udp_drops();
        if drops < 0 { throw `udp drops ${drops}`; }
        let many = spawn_many(remote, "counter", 3, #{ name: "c" });
        if many.len() != 3 || many[2].name != "c-2" { throw "bad spawn_many"; }
        send(many[0], "inc");
        if request(many[0], "get") != "1" { throw "send then request out of order"; }
        // Node to node: a local relay forwards to `far@b`.
        let relay = spawn("relay", #{ config: "far@b" });
        if request(relay, "hop") != "hop" { throw "no reply across nodes"; }
        kill(e);
        let err = "";
        try { request(e, "gone"); } catch (x) { err = `${x}`; }
        if !err.contains("no agent named `far`") { throw `unexpected: ${err}`; }
        "#,
        ScriptLimits::default(),
    );
    result.unwrap();
}

/// This process's threads whose name starts with `prefix` (Linux names
/// threads in `/proc/self/task/*/comm`, cut to 15 bytes).
#[cfg(target_os = "linux")]
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn serve_connect_and_threads_run_on_threads_of_their_own_until_the_script_ends() {
    let ctx = run(
        r#"
        let b = serve(#{ name: "ownthreads", workers: 2 });
        b.workers = 1;
        let far = spawn_many(connect(b.addr, b), "echo", 2, #{ name: "far" });
        if request(far[1], "own") != "own" { throw "bad reply"; }
        let q = load(#{ name: "quic", targets: far, concurrency: 8, messages: 200 });
        if q.count != 200 || q.errors != 0 { throw `quic: ${q}`; }
        // A node and its client on one runtime of their own.
        let t = threads(1);
        if t.workers != 1 { throw `threads: ${t}`; }
        let c = serve(#{ name: "solo", workers: t });
        c.workers = t;
        let near = spawn(connect(c.addr, c), "echo");
        if request(near, "shared") != "shared" { throw "bad reply on shared threads"; }
        let e = "";
        try { serve(#{ workers: 0 }); } catch (x) { e = `${x}`; }
        if !e.contains("serve option `workers`: expected a number of threads from 1 to 1024, got 0") { throw e; }
        try { serve(#{ workers: 100000 }); } catch (x) { e = `${x}`; }
        if !e.contains("from 1 to 1024, got 100000") { throw e; }
        try { connect(b.addr, #{ fingerprint: b.fingerprint, token: b.token, workers: "two" }); } catch (x) { e = `${x}`; }
        if !e.contains("connect option `workers`: expected a number of threads or threads(n), got string") { throw e; }
        try { threads(-1); } catch (x) { e = `${x}`; }
        if !e.contains("threads(n): expected a number of threads from 1 to 1024, got -1") { throw e; }
        "#,
        ScriptLimits::default(),
    )
    .unwrap();
    assert_eq!(threads_named("caxton-ownthre"), 2, "the node's workers");
    assert_eq!(threads_named("caxton-client"), 1, "the client's worker");
    assert_eq!(threads_named("caxton-threads"), 1, "threads(1), shared");
    assert_eq!(threads_named("caxton-solo"), 0, "`solo` shares threads(1)");
    drop(ctx);
    // Shut down in the background: they go soon; the bound only keeps a
    // runtime that never stops from hanging the test.
    let bound = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while threads_named("caxton-ownthre")
        + threads_named("caxton-client")
        + threads_named("caxton-threads")
        > 0
    {
        assert!(
            std::time::Instant::now() < bound,
            "the script's own runtimes did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_load_spreads_over_agents_on_several_connections() {
    // Two nodes, each with its client on a thread of its own (a node per
    // CPU), and one load over the agents of both: every agent is counted.
    let cpus = std::thread::available_parallelism().unwrap().get();
    run(
        &(format!("const CPUS = {cpus};\n")
            + r#"
        let agents = [];
        if cpus() != CPUS { throw `cpus() = ${cpus()}, expected ${CPUS}`; }
        for i in 0..2 {
            let t = threads(1);
            let node = serve(#{ name: `shard${i}`, workers: t });
            node.workers = t;
            agents += spawn_many(connect(node.addr, node), "counter", 2, #{ name: `c${i}` });
        }
        let r = load(#{ name: "spread", targets: agents, concurrency: 8, messages: 400 });
        if r.count != 400 || r.errors != 0 { throw `load: ${r}`; }
        let total = 0;
        for a in agents {
            let n = parse_int(request(a, "get"));
            if n != 100 { throw `${a}: ${n} requests, expected 100 of 400 over 4 agents`; }
            total += n;
        }
        if total != 400 { throw `total ${total}`; }
        let o = load(#{ name: "open", targets: agents, rate: 2000.0, duration: "200ms" });
        if o.errors != 0 || o.lost != 0 || o.count == 0 { throw `open: ${o}`; }
        "#),
        ScriptLimits::default(),
    )
    .unwrap();
}

#[test]
fn a_wrong_token_in_a_script_is_a_clear_error() {
    let result = run(
        r#"let b = serve();

connect(b.addr, #{ fingerprint: b.fingerprint, token: "guess" });
"#,
        ScriptLimits::default(),
    );
    let text = result.unwrap_err().to_string();
    assert!(text.contains("tenant token was not accepted"), "{text}");
    assert!(text.contains(":3:"), "the error points at the line: {text}");
}

#[test]
fn load_runs_closed_and_open_models_in_process_and_over_quic() {
    let ctx = run(
        r#"
        let local = spawn_many(plugin("echo"), 4, #{ name: "l" });
        let r = load(#{ name: "closed", targets: local, concurrency: 8, messages: 500, size: 64 });
        if r.count != 500 || r.messages != 500 || r.errors != 0 || r.lost != 0 { throw `closed: ${r}`; }
        let b = load(#{ name: "broadcast", targets: local, pattern: "broadcast", concurrency: 2, messages: 50 });
        if b.count != 50 || b.messages != 200 { throw `broadcast: ${b}`; }
        let o = load(#{ name: "open", targets: local[0], rate: 2000, messages: 200 });
        if o.count + o.errors + o.dropped != 200 || o.rate != 2000.0 { throw `open: ${o}`; }
        let lag = o.send_lag;
        if lag.p50 > lag.p99 || lag.p99 > lag.max || lag.max <= 0 { throw `send lag: ${lag}`; }
        if r.send_lag != () { throw `a closed run has no send lag: ${r.send_lag}`; }
        let t = load(#{ name: "ticked", targets: local, rate: 2000, messages: 100, tick: "5ms" });
        if t.count + t.errors + t.dropped != 100 { throw `ticked: ${t}`; }

        let n = serve();
        let far = spawn_many(connect(n.addr, n), "echo", 2, #{ name: "far" });
        // A `Plugin` value of a built-in spawns on a remote node as its name does.
        let one = spawn(connect(n.addr, n), plugin("echo"), #{ name: "one", memory: "8 MiB" });
        if one.request("hi") != "hi" || one.name != "one" { throw `remote spawn of a Plugin: ${one}`; }
        let q = load(#{ name: "quic", targets: far, pattern: "ring", concurrency: 16, messages: 300 });
        if q.count != 300 || q.errors != 0 { throw `quic: ${q}`; }
        let e = "";
        try { load(#{ targets: local, rate: 10, concurrency: 2 }); } catch (x) { e = `${x}`; }
        if !e.contains("not both") { throw e; }
        try { load(#{ targets: local, pattern: "zigzag" }); } catch (x) { e = `${x}`; }
        if !e.contains("unknown variant `zigzag`") { throw e; }
        try { load(#{ targets: local, concurrency: 2, tick: "1ms" }); } catch (x) { e = `${x}`; }
        if !e.contains("give `rate`") { throw e; }
        "#,
        ScriptLimits::default(),
    )
    .unwrap();
    let report = ctx.report.lock().unwrap();
    let names = measurement_names(&report);
    assert_eq!(names, ["closed", "broadcast", "open", "ticked", "quic"]);
}

#[test]
fn a_failed_threshold_exits_3_after_the_full_report_and_warnings_do_not() {
    let dir = std::env::temp_dir().join(format!("caxton-threshold-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run_with = |thresholds: &str| {
        let script = dir.join("t.rhai");
        let json = dir.join("t.json");
        std::fs::write(
            &script,
            format!(
                "let a = spawn(\"echo\");\nmeasure(\"rt\", #{{ iterations: 50 }}, || request(a, \"x\"));\n{thresholds}\n"
            ),
        )
        .unwrap();
        let out = caxton_run(&dir, &script, &["--json", json.to_str().unwrap()]);
        let report: caxton::report::Report =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        (out, report)
    };
    // An impossible critical tier fails: exit 3, the table and JSON are complete.
    let (out, report) = run_with("threshold(\"rt\", \"p50 < 1ns\");");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rt") && stdout.contains("FAIL"), "{stdout}");
    assert_eq!(report.measurements.len(), 1);
    assert_eq!(report.thresholds[0].verdict, Verdict::Fail);
    // A missed target with a met critical tier is a warning: exit 0.
    let (out, report) = run_with(
        "threshold(\"rt\", #{ target: \"p50 < 1ns\", critical: \"p50 < 60s\" });\nthreshold(\"rt\", \"errors == 0\");",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<_> = report.thresholds.iter().map(|t| t.verdict).collect();
    assert_eq!(verdicts, [Verdict::Warn, Verdict::Pass]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("WARN"));
    // A threshold on a measurement that never ran fails.
    let (out, _) = run_with("threshold(\"never measured\", \"p99 < 1s\");");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn compare_alternates_runs_and_reports_the_ratio_with_spread() {
    let ctx = run(
        r#"
        let a = spawn("echo");
        let c = compare("one request", || request(a, "x"),
                        "three requests", || { request(a, "x"); request(a, "x"); request(a, "x"); },
                        #{ rounds: 3, iterations: 200 });
        if c.rounds != 3 || c.ratio_min > c.ratio || c.ratio > c.ratio_max { throw `${c}`; }
        if c.a.count != 200 || c.b.count != 200 { throw "bad counts"; }
        let e = "";
        try { threshold("x", "p99 < 10"); } catch (x) { e = `${x}`; }
        if !e.contains("needs a unit") { throw e; }
        try { threshold("x", #{ goal: "p99 < 1ms" }); } catch (x) { e = `${x}`; }
        if !e.contains("unknown threshold tier") { throw e; }
        "#,
        ScriptLimits::default(),
    )
    .unwrap();
    let report = ctx.report.lock().unwrap();
    assert_eq!(report.comparisons.len(), 1);
    // Three requests cost more than one: B/A above 1 (a loose bound, not a timing goal).
    assert!(
        report.comparisons[0].ratio > 1.0,
        "{:?}",
        report.comparisons
    );
}

#[test]
fn machine_probes_from_a_script_and_rejects_unknown_options() {
    // Every field the docs name is there, counted as asked; the pause
    // watch ran for the time asked on each thread.
    let source = r#"
let m = machine(#{ duration: "50ms", round_trips: 100, sleeps: 20, sleep: "50us" });
if m.round_trip.count != 100 { throw `round trips ${m.round_trip.count}`; }
if m.sleep.count != 20 { throw `sleeps ${m.sleep.count}`; }
if m.sleep.p50 < 49000 { throw `a 50us sleep ended after ${m.sleep.p50} ns`; }
if m.pauses.threads < 1 || m.pauses.watched != 50000000 { throw `pauses ${m.pauses}`; }
if m.pauses.fraction < 0.0 || m.pauses.fraction > 1.0 { throw `fraction ${m.pauses.fraction}`; }
for k in ["mean", "p50", "p99", "max", "cpu"] { if !(k in m.round_trip) { throw `no ${k}`; } }
"#;
    run(source, ScriptLimits::default()).unwrap();
    let err = run("machine(#{ spin: 1 });", ScriptLimits::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unknown machine option `spin`"), "{text}");
    assert!(
        text.contains("duration, round_trips, sleeps, sleep"),
        "{text}"
    );
    let err = run("machine(#{ duration: -5 });", ScriptLimits::default()).unwrap_err();
    assert!(
        err.to_string().contains("machine option `duration`"),
        "{err}"
    );
    let err = run(
        "machine(#{ sleeps: 100000000000 });",
        ScriptLimits::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("at most 10000000"), "{err}");
    // A count of 0 skips that probe.
    run(
        r#"let m = machine(#{ duration: 0, round_trips: 0, sleeps: 0 });
           if m.round_trip.count != 0 || m.sleep.count != 0 { throw "ran"; }"#,
        ScriptLimits::default(),
    )
    .unwrap();
}

#[test]
fn a_reply_over_the_scripts_size_limits_is_an_error_the_script_catches() {
    // A 2 MiB blob (not UTF-8) is over the default limit for blobs (1 Mi
    // items); the agent may send it with `max_message` at 4 MiB.
    let source = r#"
        let a = spawn(plugin("hostile"), #{ max_message: "4 MiB", memory: "32 MiB" });
        let caught = "";
        try {
            request(a, "reply-blob 2097152");
        } catch (e) {
            caught = `${e}`;
        }
        if !caught.contains("over the script's size limit for a blob") {
            throw `not caught as such: ${caught}`;
        }
        // Within the limit it arrives, and the run goes on.
        let small = request(a, "reply-blob 1000");
        if small.len() != 1000 { throw `got ${small.len()} bytes`; }
    "#;
    run(source, ScriptLimits::default()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_script_drives_local_and_remote_agents_alike() {
    // One `Agent` type: the same function works on an agent here and on
    // one over QUIC, and a remote spawn takes a `Plugin` value too.
    run(
        r#"
        let b = serve(#{ name: "alike" });
        let far_node = connect(b.addr, b);
        let echo = plugin("echo");
        let near = spawn(echo, #{ name: "near" });
        let far = spawn(far_node, echo, #{ name: "far" });
        for a in [near, far] {
            if type_of(a) != "Agent" { throw `type ${type_of(a)}`; }
            if request(a, "same") != "same" { throw `${a}: bad reply`; }
            if request(a, "timed", "5s") != "timed" { throw `${a}: bad reply`; }
            send(a, "fire and forget");
        }
        if near.name != "near" || far.name != "far" { throw "names"; }
        if near.status != "running" { throw `local status ${near.status}`; }
        if far.status != () { throw "a remote agent's status is not known here"; }
        if far.node.name != "alike" { throw `node ${far.node.name}`; }
        if `${far}` != "agent(far@alike)" { throw `${far}`; }
        kill([near, far]);
        let e = "";
        try { request(far, "gone?"); } catch (x) { e = `${x}`; }
        if !e.contains("far") { throw `after kill: ${e}`; }
        // Only an agent of this node can be the corpus's bystander.
        let remote_bystander = spawn(far_node, "echo");
        try { hostile("noisy", remote_bystander); } catch (x) { e = `${x}`; }
        if !e.contains("hostile: `") || !e.contains("lives on the remote node `alike`") { throw e; }
        "#,
        ScriptLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn with_fuel_metered_measure_and_load_report_the_same_fuel_per_call_every_time() {
    // Fuel is a count of guest work: two measurements of the same request
    // burn exactly the same fuel per call, a load reports it per message,
    // a threshold can hold it, and a heavier request burns more.
    let t = super::util::node_with(caxton::host::EngineOptions {
        max_agents: 8,
        max_memory: 64 << 20,
        fuel: true,
        ..caxton::host::EngineOptions::default()
    });
    let ctx = ScriptContext::new(t.node.clone(), "test.rhai");
    Runner::new(&ctx, ScriptLimits::default())
        .run(
            "test.rhai",
            r#"
            let c = spawn(plugin("compute"), #{ name: "c" });
            let a = measure("fib a", #{ iterations: 50 }, || request(c, "fib 100"));
            let b = measure("fib b", #{ iterations: 80 }, || request(c, "fib 100"));
            if a.fuel == () || a.fuel <= 0.0 { throw `no fuel: ${a}`; }
            if a.fuel != b.fuel { throw `fuel per call differs: ${a.fuel} vs ${b.fuel}`; }
            let big = measure("fib big", #{ iterations: 20 }, || request(c, "fib 1000"));
            if big.fuel <= a.fuel * 5.0 { throw `ten times the work, fuel ${big.fuel} vs ${a.fuel}`; }
            let l = load(#{ name: "fib load", targets: c, concurrency: 2, messages: 100, payload: "fib 100" });
            // A load's messages may arrive in batches (`handle-batch`), whose
            // bookkeeping is guest work too: close to, not exactly, one call's.
            if (l.fuel - a.fuel).abs() > a.fuel * 0.01 { throw `load's fuel per message ${l.fuel} vs measure's ${a.fuel}`; }
            threshold("fib a", `fuel <= ${a.fuel}`);
            "#,
        )
        .unwrap();
    let report = ctx.report.lock().unwrap();
    let fib = report
        .measurements
        .iter()
        .find(|m| m.name == "fib a")
        .unwrap();
    assert!(fib.fuel.is_some_and(|f| f > 0.0), "{fib:?}");
}

#[test]
fn raw_instances_hold_their_slots_until_dropped_and_uninterrupted_kernels_answer() {
    // Plain wasmtime's spawn takes real pool slots: with 8 slots, 8 raw
    // instances leave no room for an agent until they are dropped.
    let t = super::util::node_with(caxton::host::EngineOptions {
        max_agents: 8,
        ..Default::default()
    });
    let ctx = ScriptContext::new(t.node.clone(), "raw.rhai");
    let result = Runner::new(&ctx, ScriptLimits::default()).run(
        "raw.rhai",
        r#"
        let echo = plugin("echo");
        let raw = raw_plugin(echo);
        let raws = [];
        for i in 0..8 { raws.push(raw.instantiate()); }
        let refused = false;
        try { spawn(echo); } catch (e) { refused = true; }
        if !refused { throw "a ninth instance found a slot"; }
        raws.clear();
        let a = spawn(echo);
        if request(a, "hi") != "hi" { throw "echo after the raw instances went"; }
        let u = uninterrupted("compute");
        if request(u, "fib 90") != native("fib 90") { throw "uninterrupted kernel disagrees"; }
        "#,
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn a_spawn_storm_runs_every_cycle_against_caxton_and_raw_wasmtime() {
    let ctx = run(
        r#"
        let echo = plugin("echo");
        let raw = raw_storm(echo, 60);
        let ours = storm(echo, 60);
        if raw.count != 60 || raw.errors != 0 { throw `raw: ${raw}`; }
        if ours.count != 60 || ours.errors != 0 { throw `caxton: ${ours}`; }
        if agent_count() != 0 { throw `a storm leaves no agents: ${agent_count()}`; }
        "#,
        ScriptLimits::default(),
    )
    .unwrap();
    let report = ctx.report.lock().unwrap();
    let names = measurement_names(&report);
    assert_eq!(
        names,
        [
            "spawn storm (echo, raw wasmtime)",
            "spawn storm (echo, caxton)"
        ]
    );
}

#[test]
fn compile_and_load_plugin_take_files_and_say_size_and_cache() {
    let echo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release/echo.wasm")
        .canonicalize()
        .unwrap();
    let size = std::fs::metadata(&echo).unwrap().len();
    let source = format!(
        r#"
        let cold = compile("{path}");
        if cold.cached {{ throw "compile() read a cache"; }}
        if cold.size != {size} {{ throw `size ${{cold.size}}`; }}
        let first = load_plugin("{path}");
        let second = load_plugin("{path}");
        if !second.cached {{ throw "the second load_plugin missed the disk cache"; }}
        if request(spawn(second), "hi") != "hi" {{ throw "no echo"; }}
        try {{ compile("no/such.wasm"); throw "compiled nothing"; }}
        catch (e) {{ if !`${{e}}`.contains("cannot read the component file") {{ throw e; }} }}
        "#,
        path = echo.display()
    );
    if let Err(e) = run(&source, ScriptLimits::default()) {
        panic!("{e}");
    }
}
