//! `slicesim run --metrics FILE`: the run's counters and histograms in the Prometheus text
//! exposition format, under upstream's names, buckets and labels, so that a run can be set
//! beside a real cluster's scrape.
//!
//! Every series carries one more label than upstream, `api`: `endpoints` or `endpointslices`,
//! the simulated cluster it comes from (each API is simulated as its own cluster). Series of
//! many processes (kube-proxy on every node, several API servers) are summed over them, as
//! `sum without(instance)` would.
//!
//! * EndpointSlice controller (`pkg/controller/endpointslice/metrics/metrics.go`, subsystem
//!   `endpoint_slice_controller`; `../shared/spec/k8s-controllers.md` §2, counters without
//!   `_total`): `syncs{result}`, `changes{operation}`, `endpointslices_changed_per_sync`
//!   (default buckets, `topology="Disabled"`, `traffic_distribution=""`),
//!   `endpoints_added_per_sync` and `endpoints_removed_per_sync` (2 .. 32768, once per sync
//!   and address type), and the gauges
//!   `endpoints_desired`, `num_endpoint_slices`, `desired_endpoint_slices` at the end.
//! * API server: `apiserver_watch_events_total` and `apiserver_watch_events_sizes` (buckets
//!   1 KiB × 2^k, k < 8; labels `group`, `version`, `resource`;
//!   `apiserver/pkg/endpoints/metrics/metrics.go`), `apiserver_terminated_watchers_total`
//!   (`group`, `resource`; the cacher's `metrics.go`; the issue's
//!   `apiserver_watch_cache_terminated_watchers_total` is not upstream's name).
//! * kube-proxy (`pkg/proxy/metrics/metrics.go`, subsystem `kubeproxy`):
//!   `sync_proxy_rules_endpoint_changes_total` and `network_programming_duration_seconds`
//!   (its buckets begin with 0: upstream's `merge` starts from a zero-filled slice).

use std::fmt::Write as _;

use crate::controllers::{Api, Op, PerSync, Write};
use crate::output::ObjectRow;

/// A histogram: upper bounds, and per bound the observations at or below it (not
/// cumulative; the last count is above every bound).
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: Vec<f64>) -> Self {
        Histogram {
            counts: vec![0; bounds.len() + 1],
            bounds,
            sum: 0.0,
            count: 0,
        }
    }

    /// `weight` observations of `v`.
    pub fn observe(&mut self, v: f64, weight: u64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts[i] += weight;
        self.sum += v * weight as f64;
        self.count += weight;
    }
}

/// `prometheus.DefBuckets`.
pub fn default_buckets() -> Vec<f64> {
    vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
}

/// `ExponentialBuckets(2, 2, 15)`: 2 to 32,768 endpoints.
pub fn endpoint_count_buckets() -> Vec<f64> {
    (1..=15).map(|k| f64::from(1u32 << k)).collect()
}

/// `ExponentialBuckets(1024, 2.0, 8)`: 1 KiB to 128 KiB.
pub fn event_size_buckets() -> Vec<f64> {
    (0..8).map(|k| 1024.0 * f64::from(1u32 << k)).collect()
}

/// kube-proxy's `network_programming_duration_seconds` buckets: 0 (the quirk), 0.25, 0.5,
/// 1 .. 59, 60 .. 115 by 5, 120 .. 300 by 30.
pub fn programming_buckets() -> Vec<f64> {
    let mut b = vec![0.0, 0.25, 0.5];
    b.extend((1..=59).map(f64::from));
    b.extend((0..12).map(|i| 60.0 + 5.0 * f64::from(i)));
    b.extend((0..7).map(|i| 120.0 + 30.0 * f64::from(i)));
    b
}

/// One API's metrics.
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    pub api: Api,
    pub watch_events: u64,
    pub event_sizes: Histogram,
    pub terminated_watchers: u64,
    pub proxy_endpoint_changes: u64,
    pub network_programming: Histogram,
    pub syncs: u64,
    pub failed_syncs: u64,
    /// Successful creates, updates, deletes.
    pub changes: [u64; 3],
    pub changed_per_sync: Histogram,
    pub added_per_sync: Histogram,
    pub removed_per_sync: Histogram,
    pub endpoints_desired: u64,
    pub num_slices: u64,
    pub desired_slices: u64,
}

/// The controller's side of one API's metrics, from its write log: a sync's writes share
/// their time and Service and follow one another in the log.
pub fn controller_metrics(
    api: Api,
    writes: &[Write],
    syncs: u64,
    per_sync: &PerSync,
    objects: &[ObjectRow],
    max_per_slice: u64,
) -> ApiMetrics {
    let mut changes = [0u64; 3];
    let mut changed_per_sync = Histogram::new(default_buckets());
    let (mut with_writes, mut failed) = (0u64, 0u64);
    let mut i = 0;
    while i < writes.len() {
        let (t, s) = (writes[i].time, writes[i].service);
        let j = i + writes[i..]
            .iter()
            .take_while(|w| w.time == t && w.service == s)
            .count();
        let sync = &writes[i..j];
        with_writes += 1;
        if sync.iter().any(|w| w.failed) {
            // The error ends `finalize`: nothing observed.
            failed += 1;
        } else {
            changed_per_sync.observe(sync.len() as f64, 1);
        }
        for w in sync.iter().filter(|w| !w.failed) {
            changes[match w.op {
                Op::Create => 0,
                Op::Update => 1,
                Op::Delete => 2,
            }] += 1;
        }
        i = j;
    }
    // Syncs that wrote nothing observe 0.
    changed_per_sync.observe(0.0, syncs.saturating_sub(with_writes));
    let slices: Vec<&ObjectRow> = objects.iter().filter(|o| o.api == api.as_str()).collect();
    let mut per_service: std::collections::BTreeMap<(&str, &str, &str), u64> =
        std::collections::BTreeMap::new();
    for o in &slices {
        *per_service
            .entry((&o.namespace, &o.service, &o.address_type))
            .or_default() += o.endpoints;
    }
    let endpoint_counts = |m: &std::collections::BTreeMap<u32, u64>| {
        let mut h = Histogram::new(endpoint_count_buckets());
        for (v, n) in m {
            h.observe(f64::from(*v), *n);
        }
        h
    };
    ApiMetrics {
        api,
        watch_events: 0,
        event_sizes: Histogram::new(event_size_buckets()),
        terminated_watchers: 0,
        proxy_endpoint_changes: 0,
        network_programming: Histogram::new(programming_buckets()),
        syncs,
        failed_syncs: failed,
        changes,
        changed_per_sync,
        added_per_sync: endpoint_counts(&per_sync.added),
        removed_per_sync: endpoint_counts(&per_sync.removed),
        endpoints_desired: slices.iter().map(|o| o.endpoints).sum(),
        num_slices: slices.len() as u64,
        desired_slices: per_service
            .values()
            .map(|e| e.div_ceil(max_per_slice.max(1)).max(1))
            .sum(),
    }
}

/// A number as Prometheus prints it.
fn num(v: f64) -> String {
    if v.is_infinite() {
        "+Inf".into()
    } else {
        format!("{v}")
    }
}

/// The exposition of both APIs' metrics.
pub fn exposition(apis: &[ApiMetrics]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, body: &dyn Fn(&mut String)| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        body(&mut out);
    };
    let resource = |api: Api| match api {
        Api::Endpoints => r#"group="",resource="endpoints""#,
        Api::EndpointSlices => r#"group="discovery.k8s.io",resource="endpointslices""#,
    };
    let version = |api: Api| match api {
        Api::Endpoints => "v1",
        Api::EndpointSlices => "v1",
    };
    let histogram = |out: &mut String, name: &str, labels: &str, h: &Histogram| {
        let mut cumulative = 0;
        for (b, c) in h.bounds.iter().zip(&h.counts) {
            cumulative += c;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{}\"}} {cumulative}",
                num(*b)
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", num(h.sum));
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
    };
    let slices: Vec<&ApiMetrics> = apis
        .iter()
        .filter(|m| m.api == Api::EndpointSlices)
        .collect();
    let api_label = |m: &ApiMetrics| format!("api=\"{}\"", m.api.as_str());
    family(
        "endpoint_slice_controller_syncs",
        "counter",
        "[ALPHA] Number of EndpointSlice syncs",
        &|out| {
            for m in &slices {
                let l = api_label(m);
                let _ = writeln!(
                    out,
                    "endpoint_slice_controller_syncs{{{l},result=\"error\"}} {}",
                    m.failed_syncs
                );
                let _ = writeln!(
                    out,
                    "endpoint_slice_controller_syncs{{{l},result=\"success\"}} {}",
                    m.syncs - m.failed_syncs
                );
            }
        },
    );
    family(
        "endpoint_slice_controller_changes",
        "counter",
        "[ALPHA] Number of EndpointSlice changes",
        &|out| {
            for m in &slices {
                let l = api_label(m);
                for (op, n) in ["create", "update", "delete"].iter().zip(m.changes) {
                    let _ = writeln!(
                        out,
                        "endpoint_slice_controller_changes{{{l},operation=\"{op}\"}} {n}"
                    );
                }
            }
        },
    );
    family(
        "endpoint_slice_controller_endpointslices_changed_per_sync",
        "histogram",
        "[ALPHA] Number of EndpointSlices changed on each Service sync",
        &|out| {
            for m in &slices {
                let l = format!(
                    "{},topology=\"Disabled\",traffic_distribution=\"\"",
                    api_label(m)
                );
                histogram(
                    out,
                    "endpoint_slice_controller_endpointslices_changed_per_sync",
                    &l,
                    &m.changed_per_sync,
                );
            }
        },
    );
    for (name, help, h) in [
        (
            "endpoint_slice_controller_endpoints_added_per_sync",
            "[BETA] Number of endpoints added on each Service sync",
            (|m: &ApiMetrics| &m.added_per_sync) as fn(&ApiMetrics) -> &Histogram,
        ),
        (
            "endpoint_slice_controller_endpoints_removed_per_sync",
            "[BETA] Number of endpoints removed on each Service sync",
            |m| &m.removed_per_sync,
        ),
    ] {
        family(name, "histogram", help, &|out| {
            for m in &slices {
                histogram(out, name, &api_label(m), h(m));
            }
        });
    }
    for (name, help, value) in [
        (
            "endpoint_slice_controller_endpoints_desired",
            "[BETA] Number of endpoints desired",
            (|m: &ApiMetrics| m.endpoints_desired) as fn(&ApiMetrics) -> u64,
        ),
        (
            "endpoint_slice_controller_num_endpoint_slices",
            "[BETA] Number of EndpointSlices",
            |m| m.num_slices,
        ),
        (
            "endpoint_slice_controller_desired_endpoint_slices",
            "[BETA] Number of EndpointSlices that would exist with perfect endpoint allocation",
            |m| m.desired_slices,
        ),
    ] {
        family(name, "gauge", help, &|out| {
            for m in &slices {
                let _ = writeln!(out, "{name}{{{}}} {}", api_label(m), value(m));
            }
        });
    }
    family(
        "apiserver_watch_events_total",
        "counter",
        "[ALPHA] Number of events sent in watch clients",
        &|out| {
            for m in apis {
                let _ = writeln!(
                    out,
                    "apiserver_watch_events_total{{{},{},version=\"{}\"}} {}",
                    api_label(m),
                    resource(m.api),
                    version(m.api),
                    m.watch_events
                );
            }
        },
    );
    family(
        "apiserver_watch_events_sizes",
        "histogram",
        "[ALPHA] Watch event size distribution in bytes",
        &|out| {
            for m in apis {
                let l = format!(
                    "{},{},version=\"{}\"",
                    api_label(m),
                    resource(m.api),
                    version(m.api)
                );
                histogram(out, "apiserver_watch_events_sizes", &l, &m.event_sizes);
            }
        },
    );
    family(
        "apiserver_terminated_watchers_total",
        "counter",
        "[ALPHA] Counter of watchers closed due to unresponsiveness broken by resource type.",
        &|out| {
            for m in apis {
                let _ = writeln!(
                    out,
                    "apiserver_terminated_watchers_total{{{},{}}} {}",
                    api_label(m),
                    resource(m.api),
                    m.terminated_watchers
                );
            }
        },
    );
    family(
        "kubeproxy_sync_proxy_rules_endpoint_changes_total",
        "counter",
        "[ALPHA] Cumulative proxy rules Endpoint changes",
        &|out| {
            for m in apis {
                let _ = writeln!(
                    out,
                    "kubeproxy_sync_proxy_rules_endpoint_changes_total{{{}}} {}",
                    api_label(m),
                    m.proxy_endpoint_changes
                );
            }
        },
    );
    family(
        "kubeproxy_network_programming_duration_seconds",
        "histogram",
        "[ALPHA] In Cluster Network Programming Latency in seconds",
        &|out| {
            for m in apis {
                histogram(
                    out,
                    "kubeproxy_network_programming_duration_seconds",
                    &api_label(m),
                    &m.network_programming,
                );
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's bucket lists by count: 11 default, 8 sizes (1024 .. 131072), 81
    /// programming bounds (0, 2, 59, 12 and 7).
    #[test]
    fn upstream_buckets() {
        assert_eq!(default_buckets().len(), 11);
        let counts = endpoint_count_buckets();
        assert_eq!((counts.len(), counts[0], counts[14]), (15, 2.0, 32_768.0));
        let sizes = event_size_buckets();
        assert_eq!((sizes[0], sizes[7]), (1024.0, 131_072.0));
        let p = programming_buckets();
        assert_eq!(p.len(), 1 + 2 + 59 + 12 + 7);
        assert_eq!(
            (p[0], p[3], p[61], p[62], p[73], p[80]),
            (0.0, 1.0, 59.0, 60.0, 115.0, 300.0)
        );
    }

    /// An observation falls in the first bucket whose bound is at or above it.
    #[test]
    fn histogram_buckets_are_upper_bounds() {
        let mut h = Histogram::new(vec![1.0, 2.0]);
        h.observe(1.0, 2);
        h.observe(1.5, 1);
        h.observe(5.0, 1);
        assert_eq!(h.counts, [2, 1, 1]);
        assert_eq!((h.sum, h.count), (8.5, 4));
    }
}
