//! How many cases a fuzz property runs. Shared by the integration tests
//! and, through `#[path]`, the frame decoder's unit tests, so the knob is
//! defined once.

/// CI's short run is `n` cases; `CAXTON_FUZZ_SCALE=K` runs K times as many
/// (the longer run in docs/tenants.md).
pub fn scaled(n: u32) -> u32 {
    let k: u32 = std::env::var("CAXTON_FUZZ_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    n.saturating_mul(k.max(1))
}
