//! A against B: rounds that alternate the two, swapping which goes first
//! each round, so drift (thermal, caches, other load) hits both alike; the
//! answer is the median round's ratio and the spread of the rounds.

use super::stats::{Stats, spread};

/// What an A/B comparison found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Comparison {
    /// Name of A.
    pub a: String,
    /// Name of B.
    pub b: String,
    /// Median over rounds of mean(B) / mean(A).
    pub ratio: f64,
    /// Smallest per-round ratio.
    pub ratio_min: f64,
    /// Largest per-round ratio.
    pub ratio_max: f64,
    /// Rounds run.
    pub rounds: u32,
}

/// Runs `rounds` rounds (at least one) of `run_a` and `run_b`, alternating
/// which goes first; returns the median round of each side (its noise
/// widened to the spread of the rounds' means) and the comparison. The
/// first error of either side ends it.
pub fn compare<E>(
    names: (&str, &str),
    rounds: u32,
    mut run_a: impl FnMut() -> Result<Stats, E>,
    mut run_b: impl FnMut() -> Result<Stats, E>,
) -> Result<(Stats, Stats, Comparison), E> {
    let rounds = rounds.max(1);
    let (mut all_a, mut all_b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (sa, sb) = if round % 2 == 0 {
            let sa = run_a()?;
            (sa, run_b()?)
        } else {
            let sb = run_b()?;
            (run_a()?, sb)
        };
        ratios.push(sb.mean / sa.mean.max(1e-9));
        all_a.push(sa);
        all_b.push(sb);
    }
    ratios.sort_by(f64::total_cmp);
    let comparison = Comparison {
        a: names.0.to_string(),
        b: names.1.to_string(),
        ratio: ratios[ratios.len() / 2],
        ratio_min: ratios[0],
        ratio_max: ratios[ratios.len() - 1],
        rounds,
    };
    Ok((median(all_a), median(all_b), comparison))
}

/// The median round, with the spread of all rounds' means as its noise.
fn median(mut rounds: Vec<Stats>) -> Stats {
    let means: Vec<f64> = rounds.iter().map(|s| s.mean).collect();
    rounds.sort_by(|x, y| x.mean.total_cmp(&y.mean));
    let mut mid = rounds.swap_remove(rounds.len() / 2);
    mid.noise = mid.noise.max(spread(&means));
    mid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(mean: f64) -> Stats {
        let h = crate::measure::new_histogram();
        let mut s = Stats::from_histogram("x", &h, 0, std::time::Duration::from_secs(1), None);
        s.mean = mean;
        s
    }

    #[test]
    fn rounds_alternate_and_the_median_ratio_wins() {
        let order = std::cell::RefCell::new(Vec::new());
        let a_means = std::cell::Cell::new(0);
        let (a, b, c) = compare::<()>(
            ("a", "b"),
            3,
            || {
                order.borrow_mut().push('a');
                a_means.set(a_means.get() + 1);
                Ok(stats(100.0 * a_means.get() as f64))
            },
            || {
                order.borrow_mut().push('b');
                Ok(stats(200.0))
            },
        )
        .unwrap();
        // a goes first in even rounds, b in odd ones.
        assert_eq!(order.into_inner(), ['a', 'b', 'b', 'a', 'a', 'b']);
        // Ratios 2.0, 1.0, 0.667: the median is 1.0.
        assert_eq!(c.rounds, 3);
        assert!((c.ratio - 1.0).abs() < 1e-9, "{c:?}");
        assert!((c.ratio_min - 200.0 / 300.0).abs() < 1e-9);
        assert!((c.ratio_max - 2.0).abs() < 1e-9);
        assert_eq!((a.mean, b.mean), (200.0, 200.0));
        assert!(a.noise > 0.0);
    }

    #[test]
    fn an_error_ends_the_comparison() {
        let r = compare(("a", "b"), 5, || Ok(stats(1.0)), || Err("boom"));
        assert_eq!(r.unwrap_err(), "boom");
    }
}
