//! `services[*].traffic` and `cross_zone_price_per_gb`: what a Service's clients send, for the
//! cross-zone figures of kube-proxy's routing.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::units::Bytes;

/// What a Service's clients send. Every Service has one (the defaults when it is left out),
/// so that every run reports the cross-zone figures.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Requests per second from all clients together.
    #[serde(default = "default_rps")]
    pub requests_per_second: Spanned<f64>,
    #[serde(default = "default_request_bytes")]
    pub request_bytes: Bytes,
    #[serde(default = "default_response_bytes")]
    pub response_bytes: Bytes,
    /// Relative weight of each zone's clients (default: in proportion to its nodes).
    #[serde(default)]
    pub clients: Option<Spanned<BTreeMap<String, f64>>>,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            requests_per_second: default_rps(),
            request_bytes: default_request_bytes(),
            response_bytes: default_response_bytes(),
            clients: None,
        }
    }
}

/// The most requests per second a Service may have (10^9): their bytes over a long run stay
/// far below 2^64 as an `f64` sum.
pub const MAX_RPS: f64 = 1e9;

fn default_rps() -> Spanned<f64> {
    super::unspanned(100.0)
}
fn default_request_bytes() -> Bytes {
    Bytes(1_000)
}
fn default_response_bytes() -> Bytes {
    Bytes(10_000)
}

/// What cross-zone transfer costs, in USD per GB and direction (AWS, GCP and Azure list about
/// 0.01): both zones pay, so a byte that crosses costs twice this.
pub fn default_price() -> Spanned<f64> {
    super::unspanned(0.01)
}
