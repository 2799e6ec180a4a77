//! The `--html` report and the `--dashboard` page in a real browser:
//! headless Chromium (driven by `runtime/tests/browser/check.mjs` through
//! playwright-core) loads them after or during a short real run, and these
//! tests check what it rendered: the run's numbers in the tables, charts
//! with lines drawn, no console or page errors, no network requests, and on
//! the dashboard the progress of the run, then the full report. A
//! screenshot of each is kept under the target's test-artifact directory.
//!
//! They skip, saying why, without Node.js, Chromium (Debian's `chromium`)
//! or playwright-core (`npm ci` in `runtime/tests/browser`); `.ci/run`
//! installs all three.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::util::{caxton_run, scratch, stderr};

fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(path.into());
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Why the browser tests cannot run here, if they cannot.
fn missing() -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("Node.js is not installed".into());
    }
    if chromium().is_none() {
        return Some(
            "Chromium is not installed (apt-get install chromium, or set CHROMIUM)".into(),
        );
    }
    if !harness().join("node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (npm ci in runtime/tests/browser)".into());
    }
    None
}

/// Where screenshots are kept after the test.
fn artifact(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// What Chromium saw of `target` (a file or a URL).
fn look(mode: &str, target: &str, screenshot: &Path) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(harness().join("check.mjs"))
        .args([mode, target])
        .arg(screenshot);
    if let Some(path) = chromium() {
        cmd.env("CHROMIUM", path);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "check.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("screenshot: {}", screenshot.display());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn script() -> PathBuf {
    harness().join("report.rhai")
}

/// The rows of the page's table under heading `title`, header first.
fn table<'a>(seen: &'a Value, title: &str) -> Vec<Vec<&'a str>> {
    seen["tables"][title]
        .as_array()
        .unwrap_or_else(|| panic!("no table `{title}` on the page: {}", seen["headings"]))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect()
        })
        .collect()
}

/// The page has the run's measurements (names and counts from the JSON
/// report), charts with lines, and no errors or requests.
fn check_report(seen: &Value, json: &Value) {
    for list in ["console_errors", "page_errors"] {
        assert_eq!(seen[list], Value::Array(vec![]), "{list}");
    }
    assert_eq!(seen["page_error_box"], "");
    let requests = seen["requests"].as_array().unwrap();
    assert!(
        requests
            .iter()
            .all(|r| !r.as_str().unwrap().starts_with("http")
                || r.as_str().unwrap().contains("127.0.0.1")),
        "the page reached for the network: {requests:?}"
    );
    let rows = table(seen, "Measurements");
    let measurements = json["measurements"].as_array().unwrap();
    assert_eq!(rows.len(), measurements.len() + 1, "{rows:?}");
    for (row, m) in rows[1..].iter().zip(measurements) {
        assert_eq!(row[0], m["name"].as_str().unwrap());
        assert_eq!(row[1], m["count"].to_string(), "count of {}", row[0]);
        assert!(row[4].ends_with('s'), "p50 of {} is `{}`", row[0], row[4]);
    }
    let thresholds = table(seen, "Thresholds");
    assert_eq!(thresholds.len(), 3, "{thresholds:?}");
    assert!(
        thresholds[1..].iter().all(|r| r[1] == "PASS"),
        "{thresholds:?}"
    );
    let text = seen["text"].as_str().unwrap();
    assert!(text.contains("the report has every part"), "no verdict");
    // The percentile chart, then the load's throughput/p99 and RSS charts.
    let titles: Vec<&str> = seen["chart_titles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("latency by percentile")),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"steady load: throughput and p99 by window"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"steady load: resident memory"),
        "{titles:?}"
    );
    let canvases = seen["canvases"].as_array().unwrap();
    assert_eq!(canvases.len(), titles.len(), "a canvas per chart");
    for (c, title) in canvases.iter().zip(&titles) {
        assert!(
            c["series"].as_u64().unwrap() > 200,
            "no lines drawn on `{title}`: {c}"
        );
    }
    // In-process and QUIC of the same request are overlaid from the start.
    let overlay = seen["overlay"].as_array().unwrap();
    let ticked: Vec<&str> = overlay
        .iter()
        .filter(|o| o["checked"] == true)
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(ticked, ["request (in-process)", "request (QUIC)"]);
}

#[test]
fn the_html_report_shows_the_runs_numbers_and_charts_in_chromium() {
    if let Some(why) = missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = scratch("browser-report");
    let results = dir.join("results");
    let results = results.to_str().unwrap();
    let first = caxton_run(
        &dir,
        script(),
        &[
            "--quiet",
            "--results-dir",
            results,
            "--save-baseline",
            "before",
        ],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let html = dir.join("report.html");
    let json = dir.join("report.json");
    let second = caxton_run(
        &dir,
        script(),
        &[
            "--quiet",
            "--results-dir",
            results,
            "--baseline",
            "before",
            // A noisy machine may call a change a regression; the page is
            // what is tested here, not the change.
            "--regression-threshold",
            "1000000",
            "--html",
            html.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(second.status.success(), "{}", stderr(&second));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let seen = look("report", html.to_str().unwrap(), &artifact("report.png"));
    check_report(&seen, &report);
    assert!(
        seen["live"].as_array().unwrap().is_empty(),
        "a file is not live"
    );
    // The baseline comparison: its table and the Baseline vs Current chart.
    let changes = table(&seen, "Baseline before / Current");
    assert!(changes.len() > 1, "{changes:?}");
    let titles = seen["chart_titles"].to_string();
    assert!(
        titles.contains("request (in-process): Baseline vs Current"),
        "{titles}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_dashboard_shows_a_run_as_it_goes_then_its_report() {
    if let Some(why) = missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = scratch("browser-dashboard");
    let json = dir.join("report.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .current_dir(&dir)
        .arg(script())
        .args(["--no-cache", "--max-agents", "16", "--quiet"])
        .args(["--set", "seconds=8", "--dashboard", "127.0.0.1:0", "--json"])
        .arg(&json)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("caxton-run ended before printing the dashboard's address")
            .unwrap();
        if let Some(url) = line.strip_prefix("dashboard: ") {
            break url.to_string();
        }
    };
    // Keep reading stderr so the child never blocks on a full pipe.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let seen = look("dashboard", &url, &artifact("dashboard.png"));
    let status = child.wait().unwrap();
    let rest = rest.join().unwrap().join("\n");
    assert!(status.success(), "{rest}");

    // While it ran: a measurement under way, with its figures.
    let live: Vec<&str> = seen["live"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        live.iter()
            .any(|l| l.starts_with("Running: ") && l.contains(" done · ") && l.contains("p99")),
        "no progress shown: {live:?}"
    );
    // At the end: the full report, as --html shows it.
    assert!(live.last().unwrap().starts_with("Finished"), "{live:?}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    check_report(&seen, &report);
    assert!(!seen["title"].as_str().unwrap().starts_with('●'));
    let _ = std::fs::remove_dir_all(&dir);
}
