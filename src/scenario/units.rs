//! Durations, counts and percentages as scenarios write them.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// Nanoseconds: the simulator's only unit of time.
pub type Nanos = u64;

pub const SECOND: Nanos = 1_000_000_000;

/// The longest duration a scenario may write (10 years): every sum of a few times stays far
/// below `u64::MAX` nanoseconds (584 years), so the event engine's arithmetic cannot wrap.
pub const MAX_DURATION: Duration = Duration(10 * 365 * 24 * 3600 * SECOND);

/// A duration written as `500ms`, `30s`, `5m`, `1h30m` or `0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub Nanos);

impl Duration {
    pub fn parse(s: &str) -> Result<Duration, String> {
        let s = s.trim();
        if s == "0" {
            return Ok(Duration(0));
        }
        let bad = || format!("expected a duration such as 500ms, 30s, 5m or 1h30m, got {s:?}");
        let mut total: u128 = 0;
        let mut rest = s;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            if digits == 0 {
                return Err(bad());
            }
            let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale: f64 = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total += (number * scale).round() as u128;
        }
        if total > u128::from(MAX_DURATION.0) {
            return Err(format!(
                "duration {s:?} is too long: a scenario spans at most {MAX_DURATION}"
            ));
        }
        Ok(Duration(total as u64))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return write!(f, "0s");
        }
        if !ns.is_multiple_of(SECOND) {
            return write!(f, "{}ms", ns as f64 / 1e6);
        }
        let s = ns / SECOND;
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if sec > 0 || (h == 0 && m == 0) {
            write!(f, "{sec}s")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(0) => Ok(Duration(0)),
            Raw::Int(n) => Err(serde::de::Error::custom(format!(
                "expected a duration with a unit (e.g. {n}s), got {n}"
            ))),
            Raw::Str(s) => Duration::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// A count: a non-negative integer, with a clear message for anything else.
pub(super) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Float(f64),
        Str(String),
    }
    let bad = |got: String| {
        serde::de::Error::custom(format!("expected a non-negative integer, got {got}"))
    };
    match Raw::deserialize(d)? {
        Raw::Int(n) => u32::try_from(n).map_err(|_| bad(n.to_string())),
        Raw::Float(f) => Err(bad(f.to_string())),
        Raw::Str(s) => Err(bad(format!("{s:?}"))),
    }
}

/// A count as a value of its own, for fields that also keep where they are written
/// (`Spanned<Count>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Count(pub u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        count(d).map(Count)
    }
}

pub(super) fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    count(d).map(Some)
}

/// A count or a percentage, as in a Deployment's `maxSurge`: `1` or `"25%"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(u32),
    Percent(u32),
}

impl IntOrPercent {
    pub fn is_zero(self) -> bool {
        matches!(self, IntOrPercent::Int(0) | IntOrPercent::Percent(0))
    }

    /// Resolves against `total`: percentages round up for surge and down for unavailable
    /// (Deployment controller, `ResolveFenceposts`).
    pub fn resolve(self, total: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let x = u64::from(total) * u64::from(p);
                (if round_up { x.div_ceil(100) } else { x / 100 }) as u32
            }
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u32),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(IntOrPercent::Int(n)),
            Raw::Str(s) => s
                .strip_suffix('%')
                .and_then(|p| p.parse::<u32>().ok())
                .filter(|p| *p <= 100)
                .map(IntOrPercent::Percent)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "expected a non-negative count or a percentage from 0% to 100%, got {s:?}"
                    ))
                }),
        }
    }
}

/// The largest byte quantity a scenario may write (1 PiB): sums of a few stay far below 2^64.
pub const MAX_BYTES: u64 = 1 << 50;

/// Splits `1.5MiB` into its number and its unit, the number finite and non-negative.
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..end].parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| (n, s[end..].trim()))
}

/// A number of bytes: `1572864`, `1.5MiB`, `10MB`, `512KiB` (decimal `kB`/`MB`/`GB`, binary
/// `KiB`/`MiB`/`GiB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl Bytes {
    pub fn parse(s: &str) -> Result<Bytes, String> {
        let bad = || format!("expected a size in bytes such as 1572864, 1.5MiB or 10MB, got {s:?}");
        let (n, unit) = number_and_unit(s.trim()).ok_or_else(bad)?;
        let scale: f64 = match unit {
            "" | "B" => 1.0,
            "kB" | "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            "GiB" => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let v = (n * scale).round();
        if v > MAX_BYTES as f64 {
            return Err(format!("{s:?} is too large: at most 1 PiB"));
        }
        Ok(Bytes(v as u64))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Bytes::parse(&n.to_string()),
            Raw::Str(s) => Bytes::parse(&s),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// A link's speed in bits per second: `10Gbps`, `100Mbps`, `1.25GB/s` (bytes per second).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bandwidth(pub u64);

impl Bandwidth {
    /// At least 1 kbps (a slower link makes one object take days), at most 100 Pbps.
    const RANGE: (f64, f64) = (1e3, 1e17);

    pub fn parse(s: &str) -> Result<Bandwidth, String> {
        let bad = || format!("expected a bandwidth such as 10Gbps, 100Mbps or 1.25GB/s, got {s:?}");
        let (n, unit) = number_and_unit(s.trim()).ok_or_else(bad)?;
        let bits: f64 = match unit {
            "bps" => 1.0,
            "kbps" | "Kbps" => 1e3,
            "Mbps" => 1e6,
            "Gbps" => 1e9,
            "Tbps" => 1e12,
            "B/s" => 8.0,
            "kB/s" | "KB/s" => 8e3,
            "MB/s" => 8e6,
            "GB/s" => 8e9,
            _ => return Err(bad()),
        };
        let v = (n * bits).round();
        if !(Self::RANGE.0..=Self::RANGE.1).contains(&v) {
            return Err(format!(
                "{s:?} is out of range: a bandwidth is from 1kbps to 100Pbps"
            ));
        }
        Ok(Bandwidth(v as u64))
    }

    /// Nanoseconds that `bytes` take at this speed, rounded up.
    pub fn transfer(self, bytes: u64) -> Nanos {
        let ns = (u128::from(bytes) * 8 * u128::from(SECOND)).div_ceil(u128::from(self.0));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Bytes this speed carries in `ns` nanoseconds, rounded down.
    pub fn bytes_in(self, ns: Nanos) -> u64 {
        let b = u128::from(self.0) * u128::from(ns) / (8 * u128::from(SECOND));
        u64::try_from(b).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        match b {
            b if b >= 1e9 => write!(f, "{}Gbps", b / 1e9),
            b if b >= 1e6 => write!(f, "{}Mbps", b / 1e6),
            b => write!(f, "{}kbps", b / 1e3),
        }
    }
}

impl<'de> Deserialize<'de> for Bandwidth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Bandwidth::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// `5000` as `5,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count in decimal units: `728 B`, `1.5 kB`, `1.05 MB`, `4.50 GB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.digits$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("500ms"), Ok(Duration(500_000_000)));
        assert_eq!(Duration::parse("30s"), Ok(Duration(30 * SECOND)));
        assert_eq!(Duration::parse("5m"), Ok(Duration(300 * SECOND)));
        assert_eq!(Duration::parse("1h30m"), Ok(Duration(5400 * SECOND)));
        assert_eq!(Duration::parse("0"), Ok(Duration(0)));
        assert!(Duration::parse("5").is_err());
        assert!(Duration::parse("5x").is_err());
        assert!(Duration::parse("").is_err());
        assert_eq!(Duration(5400 * SECOND).to_string(), "1h30m");
    }

    #[test]
    fn byte_quantities_and_bandwidths() {
        assert_eq!(Bytes::parse("1.5MiB"), Ok(Bytes(1_572_864)));
        assert_eq!(Bytes::parse("1572864"), Ok(Bytes(1_572_864)));
        assert_eq!(Bytes::parse("10MB"), Ok(Bytes(10_000_000)));
        assert!(Bytes::parse("-1").is_err());
        assert!(Bytes::parse("1.5 parsecs").is_err());
        assert!(Bytes::parse("2PiB").is_err());
        assert_eq!(Bandwidth::parse("10Gbps"), Ok(Bandwidth(10_000_000_000)));
        assert_eq!(Bandwidth::parse("1.25GB/s"), Ok(Bandwidth(10_000_000_000)));
        assert!(Bandwidth::parse("0Gbps").is_err());
        assert!(Bandwidth::parse("10 furlongs").is_err());
        // 1.25 GB at 10 Gbps: one second; 1 byte rounds up to a whole nanosecond.
        let ten = Bandwidth(10_000_000_000);
        assert_eq!(ten.transfer(1_250_000_000), SECOND);
        assert_eq!(ten.transfer(1), 1);
        assert_eq!(ten.bytes_in(SECOND), 1_250_000_000);
        assert_eq!(ten.to_string(), "10Gbps");
    }

    #[test]
    fn percentages_resolve_like_deployments() {
        assert_eq!(IntOrPercent::Percent(25).resolve(10, true), 3);
        assert_eq!(IntOrPercent::Percent(25).resolve(10, false), 2);
        assert_eq!(IntOrPercent::Int(1).resolve(10, true), 1);
    }
}
