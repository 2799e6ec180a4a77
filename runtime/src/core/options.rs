//! Options as users write them, in one typed form for every source: a
//! script's map (through `rhai::serde`), the node's TOML config and a
//! client's spawn frame all become a `serde_json::Value` and are read by
//! [`parse`] into a `#[serde(deny_unknown_fields)]` struct. So an option
//! means the same wherever it is written, a typo is an error, and the error
//! names the key ([`OptionsError`]).
//!
//! The value types: [`ByteSize`] (`65536` or `"64 KiB"`), [`Span`] (`250`
//! milliseconds or `"250ms"`), [`PerSecond`] (a positive rate) and
//! [`Config`] (a string, or any value as its JSON text).

use std::fmt;
use std::time::Duration;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::core::limits::{parse_duration, parse_size};

/// Options that could not be read; names the option when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct OptionsError {
    /// Whose options: "spawn", "quota", "load", ...
    pub what: &'static str,
    /// The key at fault (`memory`, `burst.rate`), if one is.
    pub key: Option<String>,
    /// What is wrong, and what a valid value looks like.
    pub message: String,
}

impl OptionsError {
    fn render(&self) -> String {
        match &self.key {
            Some(key) => format!("{} option `{key}`: {}", self.what, self.message),
            None => format!("{} options: {}", self.what, self.message),
        }
    }
}

/// Reads `value` into `T`; `what` names the options in errors.
pub fn parse<T: DeserializeOwned>(
    what: &'static str,
    value: serde_json::Value,
) -> Result<T, OptionsError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        OptionsError {
            what,
            key: (path != ".").then_some(path),
            message: e.into_inner().to_string(),
        }
    })
}

/// A script value (through `rhai::serde`) or a TOML table as the JSON value
/// [`parse`] reads: strings stay strings, integers integers, maps objects,
/// blobs arrays of bytes.
pub fn to_value(
    what: &'static str,
    value: &impl Serialize,
) -> Result<serde_json::Value, OptionsError> {
    serde_json::to_value(value).map_err(|e| OptionsError {
        what,
        key: None,
        message: e.to_string(),
    })
}

/// A number of bytes: written as an integer or a string like `"64 KiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size like \"64 MiB\" or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("{n} is negative")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                parse_size(s).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A length of time: written as an integer of milliseconds or a string
/// like `"250ms"`, `"2s"`, `"100us"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span(pub Duration);

impl Serialize for Span {
    /// Whole milliseconds as an integer, anything finer as nanoseconds.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let nanos = self.0.as_nanos();
        if nanos.is_multiple_of(1_000_000) {
            s.serialize_u64((nanos / 1_000_000) as u64)
        } else {
            s.serialize_str(&format!("{nanos}ns"))
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"250ms\" or a number of milliseconds")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Span, E> {
                Ok(Span(Duration::from_millis(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Span, E> {
                u64::try_from(n)
                    .map(|n| Span(Duration::from_millis(n)))
                    .map_err(|_| E::custom(format!("{n} is negative")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Span, E> {
                parse_duration(s).map(Span).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A positive, finite rate per second: an integer, a float or a string.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct PerSecond(pub f64);

impl<'de> Deserialize<'de> for PerSecond {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PerSecond;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number per second")
            }
            fn visit_f64<E: de::Error>(self, r: f64) -> Result<PerSecond, E> {
                if r > 0.0 && r.is_finite() {
                    Ok(PerSecond(r))
                } else {
                    Err(E::custom(format!(
                        "expected a positive number per second, got {r}"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PerSecond, E> {
                self.visit_f64(n as f64)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PerSecond, E> {
                self.visit_f64(n as f64)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PerSecond, E> {
                let r = s
                    .trim()
                    .parse()
                    .map_err(|_| E::custom(format!("expected a number per second, got `{s}`")))?;
                self.visit_f64(r)
            }
        }
        d.deserialize_any(V)
    }
}

/// The text an agent's `init` receives: a string as is, any other value
/// (a map, a number) as its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Config(pub String);

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Config(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }))
    }
}

/// `Option<u64>` fields written as a [`ByteSize`] (`#[serde(with)]`).
pub mod size_opt {
    use super::*;

    /// As a number of bytes.
    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(ByteSize).serialize(s)
    }

    /// From a size in either notation.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(Option::<ByteSize>::deserialize(d)?.map(|b| b.0))
    }
}

/// `Option<Duration>` fields written as a [`Span`] (`#[serde(with)]`).
pub mod span_opt {
    use super::*;

    /// As milliseconds (or nanoseconds, when finer).
    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Span).serialize(s)
    }

    /// From a duration in either notation.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Span>::deserialize(d)?.map(|s| s.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        size: Option<ByteSize>,
        span: Option<Span>,
        rate: Option<PerSecond>,
        config: Option<Config>,
    }

    #[test]
    fn both_notations_and_a_round_trip() {
        let s: Sample = parse(
            "test",
            json!({"size": "12 MiB", "span": 250, "rate": "2.5", "config": {"a": 1}}),
        )
        .unwrap();
        assert_eq!(s.size, Some(ByteSize(12 << 20)));
        assert_eq!(s.span, Some(Span(Duration::from_millis(250))));
        assert_eq!(s.rate, Some(PerSecond(2.5)));
        assert_eq!(s.config, Some(Config(r#"{"a":1}"#.into())));
        let fine: Sample = parse("test", json!({"span": "100us"})).unwrap();
        let back: Sample = parse("test", serde_json::to_value(&fine).unwrap()).unwrap();
        assert_eq!(back, fine);
    }

    #[test]
    fn errors_name_the_key_and_the_valid_form() {
        let err = parse::<Sample>("test", json!({"size": "12 parsecs"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("size"));
        assert!(
            err.to_string()
                .contains("test option `size`: `12 parsecs` is not a size"),
            "{err}"
        );
        let err = parse::<Sample>("test", json!({"span": -1})).unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
        let err = parse::<Sample>("test", json!({"rate": 0})).unwrap_err();
        assert!(err.to_string().contains("positive"), "{err}");
        let err = parse::<Sample>("test", json!({"sise": 1})).unwrap_err();
        assert!(err.to_string().contains("unknown field `sise`"), "{err}");
        assert!(err.to_string().contains("`size`"), "{err}");
    }
}
