//! The latency distribution of a run as an SVG percentile plot: latency
//! against percentile on a log scale of `1 / (1 - q)`, the way HdrHistogram
//! plots are read (the tail gets as much room as the median).

use hdrhistogram::Histogram;
use plotters::prelude::*;

/// How far into the tail the plot goes: 4 nines (99.99%).
const NINES: f64 = 4.0;

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("plotting `{name}`: {message}")]
pub struct PlotError {
    name: String,
    message: String,
}

/// The percentile points plotted: `(nines, latency in µs)` where
/// `nines = -log10(1 - q)`.
pub fn percentile_points(hist: &Histogram<u64>) -> Vec<(f64, f64)> {
    if hist.is_empty() {
        return Vec::new();
    }
    (0..=200)
        .map(|i| {
            let nines = NINES * f64::from(i) / 200.0;
            let q = 1.0 - 10f64.powf(-nines);
            (nines, hist.value_at_quantile(q) as f64 / 1e3)
        })
        .collect()
}

/// Draws the latency distribution of `name` as an SVG document.
pub fn latency_svg(name: &str, hist: &Histogram<u64>) -> Result<String, PlotError> {
    let fail = |e: &dyn std::fmt::Display| PlotError {
        name: name.to_string(),
        message: e.to_string(),
    };
    let points = percentile_points(hist);
    let top = points.iter().map(|p| p.1).fold(1e-3, f64::max) * 1.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{name}: latency by percentile ({} samples)", hist.len()),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..NINES, 0f64..top)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_labels(NINES as usize + 1)
            .x_label_formatter(&|x| percentile_label(*x))
            .x_desc("percentile")
            .y_desc("latency (µs)")
            .draw()
            .map_err(|e| fail(&e))?;
        chart
            .draw_series(LineSeries::new(points, &BLUE))
            .map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(svg)
}

fn percentile_label(nines: f64) -> String {
    let q = 100.0 * (1.0 - 10f64.powf(-nines));
    match nines.round() as i32 {
        0 => "0%".into(),
        1 => "90%".into(),
        2 => "99%".into(),
        n => format!("{q:.*}%", (n - 2) as usize),
    }
}

/// A file name for the plot of measurement `name`: its letters and digits,
/// the rest as `-`.
pub fn file_name(index: usize, name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{index:02}-{}.svg", stem.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::new_histogram;

    #[test]
    fn the_plot_follows_the_histogram_into_the_tail() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v * 1_000).unwrap();
        }
        let points = percentile_points(&h);
        assert_eq!(points.first().unwrap().0, 0.0);
        // At 2 nines (p99) the latency is ~9,900 µs.
        let p99 = points.iter().find(|p| (p.0 - 2.0).abs() < 1e-9).unwrap().1;
        assert!((p99 - 9_900.0).abs() < 20.0, "{p99}");
        assert!(points.windows(2).all(|w| w[0].1 <= w[1].1));
        let svg = latency_svg("echo burst", &h).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        assert!(svg.contains("99.9%"), "the tail axis labels are drawn");
        assert!(svg.contains("<polyline"), "the line is drawn");
    }

    #[test]
    fn file_names_are_plain() {
        assert_eq!(
            file_name(3, "QUIC burst (256 B)"),
            "03-QUIC-burst--256-B.svg"
        );
    }
}
