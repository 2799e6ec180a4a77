//! `load(#{ on: [nodes...] })` with three real `serve` processes: each runs
//! its share of the rate next to its agents; the merged histogram is the
//! sum of the nodes' (count, max) and the reported rate their sum.

use super::peers::serve;
use super::util::{caxton_run, scratch, stderr};

#[test]
fn a_load_split_over_three_served_nodes_merges_their_histograms() {
    let dir = scratch("distributed");
    let served: Vec<_> = (0..3)
        .map(|i| {
            serve(
                &format!("n{i}"),
                "127.0.0.1:0",
                &dir.join(format!("n{i}")),
                &[],
            )
        })
        .collect();
    let connects: String = served
        .iter()
        .map(|s| {
            format!(
                "nodes.push(connect(\"{}\", #{{ fingerprint: \"{}\", token: \"{}\" }}));\n",
                s.addr, s.fingerprint, s.token
            )
        })
        .collect();
    let script = format!(
        r#"
let nodes = [];
{connects}
for n in nodes {{ spawn_many(n, "echo", 2, #{{ name: "e" }}); }}
let r = load(#{{ on: nodes, targets: ["e-0", "e-1"], rate: 1500, duration: "1s", name: "spread" }});
print(`merged count=${{r.count}} messages=${{r.messages}} sent=${{r.sent}} max=${{r.max}} throughput=${{r.throughput}}`);
for p in r.nodes {{
    print(`node ${{p.node}} count=${{p.count}} messages=${{p.messages}} max=${{p.max}} throughput=${{p.throughput}}`);
}}
try {{
    load(#{{ on: nodes, targets: "nobody", rate: 100, duration: "100ms" }});
}} catch (e) {{
    print(`missing: ${{e}}`);
}}
"#
    );
    std::fs::write(dir.join("spread.rhai"), script).unwrap();
    let out = caxton_run(&dir, "spread.rhai", &["--json", "report.json"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let field = |line: &str, key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in `{line}`"))
            .parse()
            .unwrap()
    };
    let merged = text.lines().find(|l| l.starts_with("merged ")).unwrap();
    let nodes: Vec<&str> = text.lines().filter(|l| l.starts_with("node ")).collect();
    assert_eq!(nodes.len(), 3, "{text}");
    for (i, line) in nodes.iter().enumerate() {
        assert!(line.starts_with(&format!("node n{i} ")), "{line}");
        // Each ran its third of 1500/s for 1 s.
        let count = field(line, "count");
        assert!((400.0..=600.0).contains(&count), "{line}");
    }
    let sum = |key: &str| nodes.iter().map(|l| field(l, key)).sum::<f64>();
    assert_eq!(field(merged, "count"), sum("count"), "{text}");
    assert_eq!(field(merged, "messages"), sum("messages"), "{text}");
    let max = nodes.iter().map(|l| field(l, "max")).fold(0.0, f64::max);
    assert_eq!(field(merged, "max"), max, "{text}");
    let rate = field(merged, "throughput");
    assert!((rate - sum("throughput")).abs() < 1e-6 * rate, "{text}");
    assert!(
        text.contains("no agent named `nobody` in tenant `default` on this node"),
        "{text}"
    );
    // The report has the merged measurement.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let spread = &report["measurements"][0];
    assert_eq!(spread["name"], "spread");
    assert_eq!(spread["count"].as_f64().unwrap(), sum("count"));
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}
