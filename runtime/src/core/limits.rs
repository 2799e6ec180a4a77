//! Per-agent limits and the human-friendly units scripts write them in.

use std::time::Duration;

/// A limit value a user wrote that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitParseError {
    /// The text is not a number followed by an optional known unit.
    #[error("`{text}` is not a {what}: write a number with an optional unit, e.g. {example}")]
    Malformed {
        /// What the user wrote.
        text: String,
        /// "size" or "duration".
        what: &'static str,
        /// A valid example for this kind of value.
        example: &'static str,
    },
    /// The value parsed but is outside what the node allows.
    #[error("{what} {value} is out of range: {allowed}")]
    OutOfRange {
        /// Which option.
        what: &'static str,
        /// The value as written.
        value: String,
        /// The range accepted.
        allowed: String,
    },
}

/// Parses a byte size: `1048576`, `64KiB`, `12 MiB`, `1GiB`, `10MB`, `512k`.
pub fn parse_size(text: &str) -> Result<u64, LimitParseError> {
    let malformed = || LimitParseError::Malformed {
        text: text.to_string(),
        what: "size",
        example: "`64 MiB`, `512KiB` or `1048576`",
    };
    let (number, unit) = split_number(text).ok_or_else(malformed)?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(malformed()),
    };
    let value = number * multiplier as f64;
    if !(0.0..=u64::MAX as f64).contains(&value) {
        return Err(malformed());
    }
    Ok(value as u64)
}

/// Parses a duration: `250ms`, `2s`, `100us`, `1.5 s`, `5m`; a bare number is milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, LimitParseError> {
    let malformed = || LimitParseError::Malformed {
        text: text.to_string(),
        what: "duration",
        example: "`250ms`, `2s` or `100us`",
    };
    let (number, unit) = split_number(text).ok_or_else(malformed)?;
    let seconds = match unit.to_ascii_lowercase().as_str() {
        "ns" => number / 1e9,
        "us" | "µs" => number / 1e6,
        "" | "ms" => number / 1e3,
        "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(malformed()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| malformed())
}

/// Splits `"12.5 MiB"` into `(12.5, "MiB")`; `None` if there is no number.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let number: f64 = text[..end].replace('_', "").parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    Some((number, text[end..].trim()))
}

/// The hard limits one agent runs under.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentLimits {
    /// Linear memory the agent may grow to, in bytes.
    pub memory: u64,
    /// Longest one message may take to handle before the agent is failed.
    pub deadline: Duration,
    /// Messages that may wait in the mailbox; more is backpressure.
    pub mailbox: usize,
    /// Largest payload the agent may receive or send, in bytes.
    pub max_message: usize,
    /// Fuel (roughly, wasm instructions) per message, if metered.
    pub fuel: Option<u64>,
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            memory: 64 << 20,
            deadline: Duration::from_secs(1),
            mailbox: 1024,
            max_message: 1 << 20,
            fuel: None,
        }
    }
}

impl AgentLimits {
    /// Checks the limits against what the node was configured to allow.
    pub fn check(&self, node_max_memory: u64) -> Result<(), LimitParseError> {
        let range = |what, value: String, allowed: String| {
            Err(LimitParseError::OutOfRange {
                what,
                value,
                allowed,
            })
        };
        if self.memory < (128 << 10) || self.memory > node_max_memory {
            return range(
                "memory",
                format!("{} bytes", self.memory),
                format!(
                    "128 KiB ..= {} MiB (the node's maximum)",
                    node_max_memory >> 20
                ),
            );
        }
        if self.deadline < Duration::from_micros(100) || self.deadline > Duration::from_secs(3600) {
            return range(
                "deadline",
                format!("{:?}", self.deadline),
                "100us ..= 1h".into(),
            );
        }
        if self.mailbox == 0 || self.mailbox > 1 << 20 {
            return range("mailbox", self.mailbox.to_string(), "1 ..= 1048576".into());
        }
        if self.max_message == 0 || self.max_message > 64 << 20 {
            return range(
                "max_message",
                self.max_message.to_string(),
                "1 B ..= 64 MiB".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("12 MiB"), Ok(12 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("512k"), Ok(512_000));
    }

    #[test]
    fn bad_sizes_say_what_was_wrong() {
        let err = parse_size("12 parsecs").unwrap_err();
        assert!(
            err.to_string().contains("`12 parsecs` is not a size"),
            "{err}"
        );
        assert!(parse_size("").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("-5").is_err());
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("1.5 s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("40"), Ok(Duration::from_millis(40)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn limits_are_range_checked() {
        let ok = AgentLimits::default();
        assert!(ok.check(1 << 30).is_ok());
        let too_big = AgentLimits {
            memory: 2 << 30,
            ..ok.clone()
        };
        assert!(matches!(
            too_big.check(1 << 30),
            Err(LimitParseError::OutOfRange { what: "memory", .. })
        ));
        let no_mailbox = AgentLimits { mailbox: 0, ..ok };
        assert!(no_mailbox.check(1 << 30).is_err());
    }
}
