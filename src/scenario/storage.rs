//! The path from a controller's write to the watchers: the `apiserver:` and `etcd:` blocks, and
//! the controllers' retry settings (what happens to a write etcd refuses).

use serde::{Deserialize, Deserializer};

use super::units::{Bandwidth, Bytes, Duration, SECOND};

/// The API servers that serve the watches (`apiserver:`). Without the block, every watch event
/// reaches its watchers the moment it is written (no egress limit).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apiserver {
    /// kube-apiserver replicas; watchers are spread evenly over them (as a load balancer
    /// spreads long-lived connections).
    #[serde(default = "default_replicas", deserialize_with = "super::units::count")]
    pub replicas: u32,
    /// Each replica's network egress: every watch event occupies it for its bytes, shared
    /// fairly among the replica's watchers that have events to receive.
    pub egress: Bandwidth,
    /// Bytes a watch stream takes beyond the API server's channels before the client has
    /// acknowledged them: the HTTP/2 stream window client-go's transport opens (Go's
    /// `transportDefaultStreamFlow`, 4 MiB).
    #[serde(default = "default_send_window")]
    pub send_window: Bytes,
}

fn default_send_window() -> Bytes {
    Bytes(4 << 20)
}

fn default_replicas() -> u32 {
    3
}

/// How fast a watcher takes its events: a bandwidth (`100Mbps`) or a time per object (`2ms`,
/// its decoding and handling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receive {
    Bandwidth(Bandwidth),
    PerObject(Duration),
}

impl<'de> Deserialize<'de> for Receive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if let Ok(b) = Bandwidth::parse(&s) {
            return Ok(Receive::Bandwidth(b));
        }
        match Duration::parse(&s) {
            Ok(t) if t.0 > 0 => Ok(Receive::PerObject(t)),
            _ => Err(serde::de::Error::custom(format!(
                "expected a bandwidth such as 100Mbps or a time per object such as 2ms, got {s:?}"
            ))),
        }
    }
}

/// `apiserver_restart`: the API server replica `replica` (every replica when absent)
/// restarts; every watcher it served re-lists.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiserverRestart {
    pub at: Duration,
    #[serde(default, deserialize_with = "super::units::optional_count")]
    pub replica: Option<u32>,
}

/// etcd behind the API server (`etcd:`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Etcd {
    /// etcd's `--max-request-bytes` (`DefaultMaxRequestBytes = 1.5 * 1024 * 1024`,
    /// `server/embed/config.go`): a write whose request is larger fails with `etcdserver:
    /// request is too large`. `off` lifts it (for hypothetical objects, as KEP-0752's tables).
    #[serde(default = "default_max_request", deserialize_with = "limit")]
    pub max_request_bytes: Option<Bytes>,
    /// kube-apiserver's `--etcd-compaction-interval` (default 5m): every interval the API
    /// server compacts etcd to the revision it saw at the previous interval
    /// (`apiserver/pkg/storage/etcd3/compact.go`), so etcd holds one to two intervals of
    /// history.
    #[serde(default = "default_compaction")]
    pub compaction_interval: Duration,
}

impl Default for Etcd {
    fn default() -> Self {
        Etcd {
            max_request_bytes: default_max_request(),
            compaction_interval: default_compaction(),
        }
    }
}

pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 1024 * 1024 * 3 / 2;

fn default_max_request() -> Option<Bytes> {
    Some(Bytes(DEFAULT_MAX_REQUEST_BYTES))
}

fn default_compaction() -> Duration {
    Duration(300 * SECOND)
}

/// A byte limit, or `off` (which YAML 1.1 also reads as `false`).
fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bytes>, D::Error> {
    struct Limit;
    impl serde::de::Visitor<'_> for Limit {
        type Value = Option<Bytes>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a size in bytes such as 1572864, 1.5MiB or 10MB, or off")
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            match v {
                false => Ok(None),
                true => Err(E::custom("expected a size in bytes or off, got true")),
            }
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Bytes::parse(&v.to_string()).map(Some).map_err(E::custom)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Bytes::parse(&v.to_string()).map(Some).map_err(E::custom)
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Bytes::parse(&v.to_string()).map(Some).map_err(E::custom)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v {
                "off" | "false" => Ok(None),
                _ => Bytes::parse(v)
                    .map(Some)
                    .map_err(|e| E::custom(format!("{e}, or off"))),
            }
        }
    }
    d.deserialize_any(Limit)
}

/// How a controller retries a failed sync: its workqueue's rate limiter, the max of a
/// per-Service exponential backoff (`ItemExponentialFailureRateLimiter`: `backoff` × 2^n, at
/// most `max_backoff`) and an overall token bucket (`BucketRateLimiter`: `qps`, `burst`);
/// after `max_retries` the Service is dropped until its next event (`handleErr`). Unset
/// fields take the controller's upstream value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    #[serde(default)]
    pub backoff: Option<Duration>,
    #[serde(default)]
    pub max_backoff: Option<Duration>,
    #[serde(default, deserialize_with = "super::units::optional_count")]
    pub max_retries: Option<u32>,
    #[serde(default, deserialize_with = "super::units::optional_count")]
    pub qps: Option<u32>,
    #[serde(default, deserialize_with = "super::units::optional_count")]
    pub burst: Option<u32>,
}

/// A [`Retry`] with every value set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub max_retries: u32,
    pub qps: u32,
    pub burst: u32,
}

impl RetryPolicy {
    /// The Endpoints controller: `workqueue.DefaultTypedControllerRateLimiter()` (5 ms to
    /// 1000 s, 10 qps, burst 100) and `maxRetries = 15`
    /// (`pkg/controller/endpoint/endpoints_controller.go`).
    pub const ENDPOINTS: RetryPolicy = RetryPolicy {
        backoff: Duration(5_000_000),
        max_backoff: Duration(1000 * SECOND),
        max_retries: 15,
        qps: 10,
        burst: 100,
    };
    /// The EndpointSlice controller: `defaultSyncBackOff = 1s`, `maxSyncBackOff = 1000s`, the
    /// same bucket, `maxRetries = 15` (`pkg/controller/endpointslice/endpointslice_controller.go`).
    pub const ENDPOINTSLICES: RetryPolicy = RetryPolicy {
        backoff: Duration(SECOND),
        ..RetryPolicy::ENDPOINTS
    };
}

impl Retry {
    /// The policy with the unset values taken from `upstream`.
    pub fn policy(&self, upstream: RetryPolicy) -> RetryPolicy {
        RetryPolicy {
            backoff: self.backoff.unwrap_or(upstream.backoff),
            max_backoff: self.max_backoff.unwrap_or(upstream.max_backoff),
            max_retries: self.max_retries.unwrap_or(upstream.max_retries),
            qps: self.qps.unwrap_or(upstream.qps),
            burst: self.burst.unwrap_or(upstream.burst),
        }
    }
}
