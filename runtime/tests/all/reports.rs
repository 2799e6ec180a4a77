//! `caxton-run`'s reports as a user gets them: baselines (saved, compared,
//! a regression exits 3), Markdown, SVG plots, parameters and include().

use std::path::Path;
use std::process::Command;

use caxton::report::{Baseline, Report};

use super::util::{caxton_run, scratch, stderr};

/// A request to an echo agent, then a pause of `param("pause")`: the pause
/// decides how slow the run is.
const SCRIPT: &str = r#"
let a = spawn("echo");
let pause = param("pause", "1ms");
measure("work", #{ iterations: 20, warmup: 2 }, || { request(a, "x"); sleep(pause); });
load(#{ name: "burst", targets: [a], concurrency: 4, messages: 2000 });
verdict(`paused ${pause}`);
"#;

#[test]
fn a_saved_baseline_is_compared_and_a_regression_exits_3() {
    let dir = scratch("baseline");
    // Only the paused measurement: its speed is set by the pause, so the
    // unchanged run below compares equal even on a loaded machine.
    let script = SCRIPT.replace("load(#{", "// load(#{");
    std::fs::write(dir.join("b.rhai"), script).unwrap();

    // Comparing with a baseline that does not exist fails before running.
    let out = caxton_run(&dir, "b.rhai", &["--baseline", "main"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--save-baseline main"),
        "{}",
        stderr(&out)
    );

    let out = caxton_run(&dir, "b.rhai", &["--save-baseline", "main"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = dir.join("caxton-results/baselines/main.json");
    let saved = Baseline::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved.report.measurements.len(), 1);
    // The histograms are stored, not just the summary.
    let work = saved.histogram("work").unwrap().unwrap();
    assert_eq!(work.len(), 20);

    // Fifty times slower: a regression, exit 3, after the whole report.
    let md = dir.join("r.md");
    let json = dir.join("r.json");
    let out = caxton_run(
        &dir,
        "b.rhai",
        &[
            "--baseline",
            "main",
            "--regression-threshold",
            "1000",
            "--set",
            "pause=50ms",
            "--markdown",
            md.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("REGRESSION"), "{stdout}");
    assert!(stderr(&out).contains("regressed"), "{}", stderr(&out));
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cmp = report.baseline.as_ref().unwrap();
    let p50 = cmp
        .changes
        .iter()
        .find(|c| c.measurement == "work" && c.metric == "p50")
        .unwrap();
    assert!(p50.regression && p50.change > 10.0, "{p50:?}");
    assert_eq!(report.verdicts, ["paused 50ms"]);
    let md = std::fs::read_to_string(&md).unwrap();
    for section in [
        "## Summary",
        "## Throughput",
        "## Latency",
        "## Resource Usage",
    ] {
        assert!(md.contains(section), "{section}:\n{md}");
    }
    assert!(md.contains("- paused 50ms"), "{md}");

    // The same speed again is no regression (a 1000% threshold keeps this
    // stable on a loaded machine; the unit tests cover the 10% default).
    let out = caxton_run(
        &dir,
        "b.rhai",
        &["--baseline", "main", "--regression-threshold", "1000"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn plots_resources_and_bad_names() {
    let dir = scratch("plots");
    let open = r#"load(#{ name: "open", targets: [a], rate: 2000, messages: 100 });"#;
    std::fs::write(dir.join("p.rhai"), format!("{SCRIPT}{open}\n")).unwrap();
    let json = dir.join("p.json");
    let out = caxton_run(
        &dir,
        "p.rhai",
        &[
            "--plots",
            "plots",
            "--set",
            "pause=0ms",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut svgs: Vec<String> = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    svgs.sort();
    assert_eq!(svgs, ["01-work.svg", "02-burst.svg", "03-open.svg"]);
    let svg = std::fs::read_to_string(dir.join("plots/02-burst.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
    // Every measurement carries the process's resources.
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for m in &report.measurements {
        let r = m.resources.expect("resources on Linux");
        assert!(r.rss_bytes > 1 << 20, "{r:?}");
        assert_eq!(r.agents, 1);
        assert_eq!(r.rss_per_agent, Some(r.rss_bytes));
        assert!(r.cpu_s >= 0.0);
    }
    // Only the open-model run has a schedule to lag behind, shown apart.
    let lags: Vec<_> = report
        .measurements
        .iter()
        .map(|m| (m.name.as_str(), m.send_lag.is_some()))
        .collect();
    assert_eq!(lags, [("work", false), ("burst", false), ("open", true)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("send lag"), "{stdout}");

    // A baseline name that would leave the results dir is refused up front.
    let out = caxton_run(&dir, "p.rhai", &["--save-baseline", "../evil"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not allowed"), "{}", stderr(&out));
    // A --set without `=` is a command-line error.
    let out = caxton_run(&dir, "p.rhai", &["--set", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn include_runs_another_script_into_the_same_report() {
    let dir = scratch("include");
    std::fs::write(
        dir.join("part.rhai"),
        "let a = spawn(\"echo\");\nmeasure(`part ${param(\"n\", 0)}`, #{ iterations: 5 }, || request(a, \"x\"));\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.rhai"),
        "let x = 1;\nthrow \"broken on purpose\";\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("suite.rhai"),
        "include(\"part.rhai\");\ninclude(\"part.rhai\");\nverdict(\"two parts\");\n",
    )
    .unwrap();
    let json = dir.join("s.json");
    let out = caxton_run(
        &dir,
        "suite.rhai",
        &["--set", "n=7", "--json", json.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<_> = report
        .measurements
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["part 7", "part 7"]);

    // An error inside an included script points into that script.
    std::fs::write(dir.join("bad.rhai"), "include(\"broken.rhai\");\n").unwrap();
    let out = caxton_run(&dir, "bad.rhai", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("broken.rhai:2") && err.contains("broken on purpose"),
        "{err}"
    );
    // A missing one says which file.
    std::fs::write(dir.join("missing.rhai"), "include(\"nope.rhai\");\n").unwrap();
    let out = caxton_run(&dir, "missing.rhai", &[]);
    assert!(stderr(&out).contains("nope.rhai"), "{}", stderr(&out));
}

/// Every shipped workflow, reduced (`--set quick=true`), through the suite:
/// each runs to the end and lands in one report. Thresholds are judged but
/// not required to pass: this is a debug build on a shared CI machine, and
/// a failed critical tier exits 3 after the full report, which is allowed.
#[test]
fn every_shipped_script_runs_reduced_through_the_suite() {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let dir = scratch("suite");
    let json = dir.join("suite.json");
    let out = Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .arg(scripts.join("suite.rhai"))
        .args(["--no-cache", "--set", "quick=true", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "exit {:?}\n{}\n{stdout}",
        out.status.code(),
        stderr(&out)
    );
    // Every script in scripts/ (but the suite itself) is part of it.
    let suite = std::fs::read_to_string(scripts.join("suite.rhai")).unwrap();
    for entry in std::fs::read_dir(&scripts).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".rhai") && name != "suite.rhai" {
            assert!(
                suite.contains(&format!("\"{name}\"")),
                "suite.rhai misses {name}"
            );
            assert!(
                stdout.contains(&format!("=== {name} ===")),
                "{name} did not run:\n{stdout}"
            );
        }
    }
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = report
        .measurements
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    for expected in [
        "wasm fib 20000",
        "warm spawn (echo)",
        "in-process round-robin",
        "QUIC at 100K/s",
        "ping-pong (10 turns)",
        "per-token request",
        "throughput, 100 agents",
        "alloc + touch half of 10 MiB",
        "peak, 256 in flight",
        "steady rate with a burst",
        "soak",
        "QUIC burst",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(report.verdicts.len() >= 10, "{:?}", report.verdicts);
    // Runs well below capacity have no errors (overloaded ones may: a full
    // mailbox is backpressure, reported as an error).
    for light in [
        "soak",
        "per-token request",
        "ping-pong (10 turns)",
        "warm spawn (echo)",
    ] {
        let m = report
            .measurements
            .iter()
            .find(|m| m.name == light)
            .unwrap();
        assert_eq!(m.errors, 0, "{light}: {:?}", m.first_error);
    }
}

#[test]
fn fuel_limits_need_and_get_the_fuel_flag() {
    let dir = scratch("fuel");
    std::fs::write(
        dir.join("f.rhai"),
        r#"
let a = spawn("crasher", #{ fuel: 1000000, restart: "never" });
let failed = "";
try { request(a, "loop"); } catch (e) { failed = `${e}`; }
print(`FAILED: ${failed}`);
print(`STATUS: ${a.status}`);
"#,
    )
    .unwrap();
    let out = caxton_run(&dir, "f.rhai", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("caxton-run --fuel"),
        "{}",
        stderr(&out)
    );

    let out = caxton_run(&dir, "f.rhai", &["--fuel"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("fuel"), "the failure names fuel:\n{stdout}");
    assert!(stdout.contains("STATUS: failed"), "{stdout}");
}
