//! What the process uses: resident memory and CPU time, read from `/proc`
//! (Linux). Elsewhere these report `None` rather than a made-up figure.

/// Resident set size of this process, in bytes.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rss_grows_when_memory_is_touched() {
        let Some(before) = super::rss_bytes() else {
            return;
        };
        let block = vec![1u8; 64 << 20];
        let after = super::rss_bytes().unwrap();
        assert!(after >= before + (32 << 20), "{before} -> {after}");
        drop(block);
    }
}
