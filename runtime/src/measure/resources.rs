//! What the process uses: resident memory and CPU time, read from `/proc`
//! (Linux). Elsewhere these report `None` rather than a made-up figure.

/// Resident set size of this process, in bytes.
pub fn rss_bytes() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// The highest resident set size of this process since it started or
/// since [`reset_peak_rss`], in bytes.
pub fn peak_rss() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// Resets the peak ([`peak_rss`]) to the current resident size (Linux:
/// `5` written to `/proc/self/clear_refs`), and returns that size. `None`
/// where the peak cannot be reset.
pub fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    rss_bytes()
}

fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time of this process so far (user + system, every thread), in
/// seconds. `/proc` counts it in USER_HZ ticks, which Linux fixes at 100
/// per second for this interface.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it do not.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15 (1-based).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// UDP datagrams the kernel dropped because a socket's receive buffer was
/// full, machine-wide since boot (`RcvbufErrors` in `/proc/net/snmp`).
/// A QUIC benchmark reads it before and after: a drop costs the requests
/// in that datagram a wait for loss recovery, which shows in the tail.
pub fn udp_receive_drops() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    // Two "Udp:" lines: the field names, then the values.
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names = udp.next()?.split_whitespace();
    let values = udp.next()?.split_whitespace();
    names
        .zip(values)
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
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

    #[test]
    fn the_peak_is_reset_and_then_follows_growth() {
        let Some(now) = super::reset_peak_rss() else {
            return;
        };
        let block = vec![1u8; 64 << 20];
        let peak = super::peak_rss().unwrap();
        assert!(peak >= now + (32 << 20), "{now} -> {peak}");
        drop(block);
    }

    #[test]
    fn udp_drops_are_read_where_linux_counts_them() {
        let known =
            std::fs::read_to_string("/proc/net/snmp").is_ok_and(|s| s.contains("RcvbufErrors"));
        assert_eq!(super::udp_receive_drops().is_some(), known);
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let Some(before) = super::cpu_seconds() else {
            return;
        };
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = super::cpu_seconds().unwrap();
        assert!(after - before >= 0.1, "{before} -> {after}");
    }
}
