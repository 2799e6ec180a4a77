//! The report as one self-contained HTML page: summary, verdicts,
//! thresholds, the baseline comparison, latency-by-percentile charts with
//! runs overlaid, and load timelines. Everything is inline (uPlot, styles,
//! data): the file opens with no network. The `--dashboard` page is the
//! same page, fed the same state again as a run goes on.

use hdrhistogram::Histogram;
use serde::Serialize;

use super::Report;
use super::baseline::{Baseline, BaselineError};
use super::plot::percentile_points;

const TEMPLATE: &str = include_str!("../../assets/report.html");
const CSS: &str = include_str!("../../assets/report.css");
const APP: &str = include_str!("../../assets/report.js");
const UPLOT: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");

/// What the page draws: the report, the latency curves of its
/// measurements (and of the baseline's), and, on a live page, where its
/// updates come from and the measurement in progress.
#[derive(Debug, Clone, Serialize)]
pub struct PageState {
    /// The report so far.
    pub report: Report,
    /// Latency by percentile per measurement with a histogram.
    pub curves: Vec<Curve>,
    /// The baseline's curves, for Baseline vs Current.
    pub baseline_curves: Vec<Curve>,
    /// A live page's event stream path (`None` for a file).
    pub live: Option<String>,
    /// The measurement under way, on a live page.
    pub progress: Option<Progress>,
    /// The run is over (a live page stops listening).
    pub finished: bool,
    /// Why the script stopped, if it failed.
    pub error: Option<String>,
}

/// One latency distribution: `(nines, µs)` points (see
/// [`percentile_points`]).
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// The measurement.
    pub name: String,
    /// `[nines, latency in µs]`.
    pub points: Vec<(f64, f64)>,
}

/// A measurement in progress, as far as it has come.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    /// Its name.
    pub name: String,
    /// Seconds since it began.
    pub elapsed_s: f64,
    /// How long it is expected to take, if known.
    pub expected_s: Option<f64>,
    /// Operations done.
    pub count: u64,
    /// Operations failed.
    pub errors: u64,
    /// Operations per second so far.
    pub rate: f64,
    /// Median latency so far, ns.
    pub p50: Option<u64>,
    /// 99th percentile so far, ns.
    pub p99: Option<u64>,
}

/// The curves of `histograms` (name, histogram), in order.
pub fn curves<'a>(
    histograms: impl IntoIterator<Item = (&'a str, &'a Histogram<u64>)>,
) -> Vec<Curve> {
    histograms
        .into_iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(name, h)| Curve {
            name: name.to_string(),
            points: percentile_points(h),
        })
        .collect()
}

/// The baseline's curves for the measurements it kept histograms of.
pub fn baseline_curves(baseline: &Baseline) -> Result<Vec<Curve>, BaselineError> {
    let mut out = Vec::new();
    for named in &baseline.histograms {
        if let Some(h) = baseline.histogram(&named.name)? {
            out.extend(curves([(named.name.as_str(), &h)]));
        }
    }
    Ok(out)
}

impl PageState {
    /// A finished report's page state (for `--html`).
    pub fn finished(report: Report, curves: Vec<Curve>, baseline_curves: Vec<Curve>) -> Self {
        PageState {
            report,
            curves,
            baseline_curves,
            live: None,
            progress: None,
            finished: true,
            error: None,
        }
    }

    /// The state as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a page state always serializes")
    }
}

/// The page for `state`.
pub fn render_html(state: &PageState) -> String {
    // Inside <script> the data must not contain `</script>`; JSON has `<`
    // only inside strings, where `\u003c` means the same.
    let data = state.to_json().replace('<', "\\u003c");
    let title = format!("Caxton report: {}", state.report.script);
    // Filled in one pass, so text in one part (a script name, say) is never
    // taken for a placeholder of another.
    let mut out = String::with_capacity(TEMPLATE.len() + UPLOT.len() + data.len() + 8192);
    let mut rest = TEMPLATE;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        match &rest[start + 2..start + len] {
            "version" => out.push_str(env!("CARGO_PKG_VERSION")),
            "title" => out.push_str(&escape_text(&title)),
            "uplot_css" => out.push_str(UPLOT_CSS),
            "css" => out.push_str(CSS),
            "data" => out.push_str(&data),
            "uplot" => out.push_str(UPLOT),
            "app" => out.push_str(APP),
            other => panic!("unknown placeholder `{other}` in the report template"),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::{Stats, new_histogram};

    #[test]
    fn the_page_is_self_contained_and_its_data_cannot_close_the_script() {
        let mut h = new_histogram();
        for v in 1..=100u64 {
            h.record(v * 1000).unwrap();
        }
        let mut report = Report::new("</script><b>x.rhai");
        report.measurements.push(Stats::from_histogram(
            "m </script>",
            &h,
            0,
            Duration::from_millis(1),
            None,
        ));
        let state = PageState::finished(report, curves([("m </script>", &h)]), Vec::new());
        let page = render_html(&state);
        // One closing tag per script element of the template, none from the data.
        assert_eq!(
            page.matches("</script>").count(),
            TEMPLATE.matches("</script>").count()
        );
        assert!(page.contains("<title>Caxton report: &lt;/script&gt;&lt;b&gt;x.rhai</title>"));
        assert!(!page.contains("{{"), "a placeholder was left");
        // Nothing is fetched: no external scripts, styles or images.
        for fetch in ["src=\"http", "href=\"http", "@import", "src=\"//"] {
            assert!(!page.contains(fetch), "{fetch}");
        }
        assert!(page.contains("uPlot"));
        // The data round-trips through the page.
        let start = page.find("id=\"caxton-data\">").unwrap() + "id=\"caxton-data\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let back: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(back["report"]["measurements"][0]["name"], "m </script>");
        assert_eq!(back["curves"][0]["points"].as_array().unwrap().len(), 201);
    }
}
