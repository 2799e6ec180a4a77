//! The terminal table of measurements.

use crate::measure::stats::{human_ns, human_rate};

use super::Report;

/// Renders all measurements as an aligned table.
pub fn render_table(report: &Report) -> String {
    let header = [
        "measurement",
        "count",
        "errors",
        "mean",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "throughput",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for s in &report.measurements {
        rows.push(vec![
            s.name.clone(),
            s.count.to_string(),
            s.errors.to_string(),
            human_ns(s.mean),
            human_ns(s.p50 as f64),
            human_ns(s.p90 as f64),
            human_ns(s.p99 as f64),
            human_ns(s.p999 as f64),
            human_ns(s.max as f64),
            human_rate(s.throughput),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = widths[c] - cell.chars().count();
                if c == 0 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}
