//! Outputs of a run: the CSV files, the side-by-side table, exported objects. Every file is
//! written to a temporary name in its directory and renamed, so an interrupted run never
//! leaves a half-written file.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;
use crate::size::human_bytes;
use crate::wire::{Object, WireError, reference};

pub use crate::outdir::write_file as write_atomic;

/// Serializes rows as CSV (header from the row type).
pub fn csv_bytes<T: Serialize>(rows: &[T]) -> io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| io::Error::other(e.to_string()))
}

/// One row of `summary.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub scenario: String,
    pub seed: u64,
    pub api: String,
    pub pod_events: u64,
    pub syncs: u64,
    pub creates: u64,
    pub updates: u64,
    pub deletes: u64,
    pub objects_final: u64,
    pub objects_peak: u64,
    pub max_object_proto_bytes: u64,
    pub max_object_json_bytes: u64,
    pub bytes_written: u64,
    pub watch_events: u64,
    pub bytes_delivered: u64,
    pub bytes_delivered_proto: u64,
    pub bytes_delivered_json: u64,
    /// Writes etcd refused (their request passed `--max-request-bytes`); not in `creates`,
    /// `updates` or `deletes`, never seen by watchers. Their requests are in `bytes_written`.
    pub failed_writes: u64,
    /// Object bytes etcd stored (protobuf), over the run.
    pub etcd_bytes_written: u64,
    /// Object bytes etcd holds at the end.
    pub etcd_stored_bytes: u64,
    /// Revisions etcd held at the fullest moment between two compactions.
    pub etcd_history_revisions: u64,
    /// Their object bytes.
    pub etcd_history_bytes: u64,
    /// etcd's request limit (`etcd.max_request_bytes`; 0: off): a write whose request passes
    /// it is refused.
    pub etcd_max_request_bytes: u64,
    /// From the pod change behind a write to a watcher receiving it, over every write and
    /// watcher (seconds; nearest rank).
    pub propagation_p50_s: f64,
    pub propagation_p90_s: f64,
    pub propagation_p99_s: f64,
    pub propagation_max_s: f64,
    /// Syncs of a kube-proxy per minute of the run (mean over kube-proxies).
    pub proxy_syncs_per_minute: f64,
    /// From the pod change behind a write to kube-proxy's sync that programs it (upstream's
    /// `network_programming_duration_seconds`), over writes with a trigger time and
    /// kube-proxies (seconds).
    pub network_programming_p50_s: f64,
    pub network_programming_p99_s: f64,
    /// Watches the API servers closed as unresponsive (one per watcher closed).
    pub watch_terminations: u64,
    /// LISTs by watchers that could not resume their watch (or lost it in a restart).
    pub relists: u64,
    /// Their response bytes, in each watcher's encoding.
    pub bytes_relist: u64,
    /// The most bytes waiting in the API servers' egress at one moment (summed per replica).
    pub peak_bytes_in_flight: u64,
    /// Of the Services' requests (`traffic`), the fraction kube-proxy sent to another zone.
    pub cross_zone_fraction: f64,
    /// Their request and response bytes.
    pub cross_zone_bytes: u64,
    /// What those bytes cost, in USD (`cross_zone_price_per_gb`, both directions).
    pub cross_zone_cost: f64,
    /// The busiest endpoint's load over the mean, per Service and moment, averaged over the
    /// requests.
    pub max_endpoint_load_ratio: f64,
    /// The fraction of requests routed by topology hints.
    pub hints_active_fraction: f64,
    /// The fraction of requests that found no endpoint (`internal_traffic_policy: Local`
    /// from a Node without one).
    pub dropped_fraction: f64,
}

/// One row of `zones.csv`: how one kind of routing fared in one time bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZoneRow {
    pub t_seconds: f64,
    pub api: String,
    /// The Services' routing: `no hints` (the Endpoints API), or over slices `no hints`,
    /// `Auto`, `PreferSameZone`, `PreferSameNode`, `Local`.
    pub routing: String,
    pub requests: f64,
    /// As in `summary.csv`, over the bucket's requests of that routing.
    pub cross_zone_fraction: f64,
    pub max_endpoint_load_ratio: f64,
    pub hints_active_fraction: f64,
    pub dropped_fraction: f64,
}

/// One row of `hints.csv`: a Service's topology hints going on or off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HintRow {
    pub t_seconds: f64,
    /// `namespace/name`.
    pub service: String,
    pub api: String,
    /// `on` or `off`.
    pub state: String,
    /// The controller's event: `TopologyAwareHintsEnabled`, or `TopologyAwareHintsDisabled:`
    /// and its message.
    pub reason: String,
}

/// One row of `watchers.csv`: one watcher class of one API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherRow {
    pub api: String,
    pub class: String,
    pub watchers: u64,
    /// What the class's watchers received, all of them together.
    pub watch_events: u64,
    pub bytes_delivered: u64,
    pub terminations: u64,
    pub relists: u64,
    pub bytes_relist: u64,
    /// The largest store one watcher held (the protobuf bytes of the objects it watches: a
    /// lower bound of the memory a Go informer takes for them).
    pub store_peak_bytes: u64,
    /// The most one watcher held while re-listing: its store and the LIST being decoded.
    pub relist_memory_peak_bytes: u64,
}

/// One row of `timeseries.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesRow {
    pub t_seconds: f64,
    pub api: String,
    pub writes: u64,
    pub watch_events: u64,
    pub bytes_delivered: u64,
    pub objects: u64,
    pub endpoints: u64,
    pub max_object_proto_bytes: u64,
    /// Object bytes etcd stored in the bucket.
    pub etcd_bytes_written: u64,
    /// Propagation delays of the bucket's writes (seconds).
    pub propagation_p50_s: f64,
    pub propagation_p99_s: f64,
    pub propagation_max_s: f64,
    /// The share of the API servers' egress in use (0 without an `apiserver:` block).
    pub egress_utilisation: f64,
    /// Bytes of the LISTs that re-listing watchers asked for in the bucket.
    pub bytes_relist: u64,
    /// As in `summary.csv`, over the bucket's requests.
    pub cross_zone_fraction: f64,
    pub max_endpoint_load_ratio: f64,
    pub hints_active_fraction: f64,
}

/// One row of `objects.csv`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRow {
    pub api: String,
    pub namespace: String,
    pub name: String,
    pub address_type: String,
    pub endpoints: u64,
    pub proto_bytes: u64,
    pub json_bytes: u64,
    /// The Service the object belongs to (a slice's `kubernetes.io/service-name` label).
    pub service: String,
    /// Endpoints the controller puts in one object: `max_endpoints_per_slice` for a slice,
    /// 1,000 for Endpoints when truncating, empty when unbounded.
    pub capacity: Option<u64>,
}

pub use crate::scenario::thousands;

/// A summary figure as a reader wants it: bytes (a figure whose name says so) in decimal
/// units, whole numbers with thousands separators, fractions to four places.
pub fn figure_value(figure: &str, v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e18 {
        let n = v.abs() as u64;
        let s = if figure.contains("bytes") {
            human_bytes(n)
        } else {
            thousands(n)
        };
        return if v < 0.0 { format!("-{s}") } else { s };
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The side-by-side comparison printed after a run.
pub fn comparison_table(rows: &[SummaryRow]) -> String {
    let (Some(e), Some(s)) = (
        rows.iter().find(|r| r.api == "endpoints"),
        rows.iter().find(|r| r.api == "endpointslices"),
    ) else {
        return String::new();
    };
    let count = thousands;
    type Line<'a> = (&'a str, u64, u64, fn(u64) -> String);
    let count: fn(u64) -> String = count;
    let mut lines: Vec<Line> = vec![
        (
            "API writes (create+update+delete)",
            e.creates + e.updates + e.deletes,
            s.creates + s.updates + s.deletes,
            count,
        ),
        ("  creates", e.creates, s.creates, count),
        ("  updates", e.updates, s.updates, count),
        ("  deletes", e.deletes, s.deletes, count),
        (
            "objects at the end",
            e.objects_final,
            s.objects_final,
            count,
        ),
        (
            "largest object (protobuf)",
            e.max_object_proto_bytes,
            s.max_object_proto_bytes,
            human_bytes,
        ),
        (
            "largest object (JSON)",
            e.max_object_json_bytes,
            s.max_object_json_bytes,
            human_bytes,
        ),
        (
            "bytes written by the controller",
            e.bytes_written,
            s.bytes_written,
            human_bytes,
        ),
        (
            "watch events delivered",
            e.watch_events,
            s.watch_events,
            count,
        ),
        (
            "bytes delivered to watchers",
            e.bytes_delivered,
            s.bytes_delivered,
            human_bytes,
        ),
        (
            "  of which JSON",
            e.bytes_delivered_json,
            s.bytes_delivered_json,
            human_bytes,
        ),
    ];
    if e.failed_writes + s.failed_writes > 0 {
        lines.insert(
            4,
            (
                "writes etcd refused (too large)",
                e.failed_writes,
                s.failed_writes,
                count,
            ),
        );
    }
    let ms = |secs: f64| (secs * 1000.0).round() as u64;
    if e.propagation_max_s + s.propagation_max_s > 0.0 {
        let delay: fn(u64) -> String = human_millis;
        for (name, a, b) in [
            (
                "propagation delay, median",
                e.propagation_p50_s,
                s.propagation_p50_s,
            ),
            (
                "propagation delay, p99",
                e.propagation_p99_s,
                s.propagation_p99_s,
            ),
            (
                "propagation delay, max",
                e.propagation_max_s,
                s.propagation_max_s,
            ),
        ] {
            lines.push((name, ms(a), ms(b), delay));
        }
    }
    if e.proxy_syncs_per_minute + s.proxy_syncs_per_minute > 0.0 {
        let tenths: fn(u64) -> String = |v| format!("{}.{}", thousands(v / 10), v % 10);
        let per_min = |x: f64| (x * 10.0).round() as u64;
        lines.push((
            "kube-proxy syncs per minute",
            per_min(e.proxy_syncs_per_minute),
            per_min(s.proxy_syncs_per_minute),
            tenths,
        ));
        let delay: fn(u64) -> String = human_millis;
        for (name, a, b) in [
            (
                "network programming, median",
                e.network_programming_p50_s,
                s.network_programming_p50_s,
            ),
            (
                "network programming, p99",
                e.network_programming_p99_s,
                s.network_programming_p99_s,
            ),
        ] {
            lines.push((name, ms(a), ms(b), delay));
        }
    }
    if e.cross_zone_bytes + s.cross_zone_bytes > 0 {
        let permille = |x: f64| (x * 1000.0).round() as u64;
        let percent: fn(u64) -> String = |v| format!("{}.{}%", v / 10, v % 10);
        let cents: fn(u64) -> String = |v| format!("${}.{:02}", thousands(v / 100), v % 100);
        lines.push((
            "requests crossing zones",
            permille(e.cross_zone_fraction),
            permille(s.cross_zone_fraction),
            percent,
        ));
        lines.push((
            "  their bytes",
            e.cross_zone_bytes,
            s.cross_zone_bytes,
            human_bytes,
        ));
        lines.push((
            "  their cost",
            (e.cross_zone_cost * 100.0).round() as u64,
            (s.cross_zone_cost * 100.0).round() as u64,
            cents,
        ));
        lines.push((
            "busiest endpoint's load / mean",
            permille(e.max_endpoint_load_ratio),
            permille(s.max_endpoint_load_ratio),
            |v| format!("{}.{:03}", v / 1000, v % 1000),
        ));
    }
    if e.dropped_fraction + s.dropped_fraction > 0.0 {
        let permille = |x: f64| (x * 1000.0).round() as u64;
        lines.push((
            "requests without a local endpoint",
            permille(e.dropped_fraction),
            permille(s.dropped_fraction),
            |v| format!("{}.{}%", v / 10, v % 10),
        ));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36} {:>14} {:>14} {:>12}",
        "", "Endpoints", "EndpointSlices", "Endpoints/"
    );
    let _ = writeln!(out, "{:<36} {:>14} {:>14} {:>12}", "", "", "", "Slices");
    for (name, a, b, f) in lines {
        let ratio = if b == 0 {
            if a == 0 {
                "-".to_string()
            } else {
                "inf".to_string()
            }
        } else {
            format!("{:.2}x", a as f64 / b as f64)
        };
        let _ = writeln!(out, "{name:<36} {:>14} {:>14} {ratio:>12}", f(a), f(b));
    }
    let _ = writeln!(
        out,
        "\nUnits are decimal (1 MB = 1,000,000 bytes). {} pod events; syncs: Endpoints {}, EndpointSlices {}.",
        thousands(e.pod_events),
        thousands(e.syncs),
        thousands(s.syncs)
    );
    out
}

/// Milliseconds as `850 ms`, `12.3 s` or `18m 31s`.
fn human_millis(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{}m {:02}s", ms / 60_000, ms / 1000 % 60),
    }
}

/// What `slicesim run` prints: the scenario, the comparison, a note on truncation when the
/// Endpoints side runs without it, and where the files went.
/// `largest_endpoints`: the most addresses a Service's last Endpoints write carried.
pub fn run_report(
    sc: &Scenario,
    summary: &[SummaryRow],
    hints: &[HintRow],
    external: &[crate::external::Row],
    largest_endpoints: u64,
    out: &Path,
) -> String {
    let mut s = match &sc.file.description {
        Some(d) => format!(
            "Scenario {} (seed {}): {}\n\n",
            sc.name,
            sc.file.seed,
            d.trim()
        ),
        None => format!("Scenario {} (seed {})\n\n", sc.name, sc.file.seed),
    };
    s.push_str(&comparison_table(summary));
    if !sc.file.controllers.endpoints.truncate {
        let _ = writeln!(
            s,
            "\nThe Endpoints side runs without truncation (truncate: false), as before Kubernetes 1.22,\n\
             which is what the published ~1 MB figures describe. With truncation the object would stay\n\
             at 1,000 addresses, but kube-proxy would then see only 1,000 of {} backends.",
            thousands(largest_endpoints)
        );
    }
    for r in summary.iter().filter(|r| r.failed_writes > 0) {
        let limit = sc.file.etcd.max_request_bytes.map_or(0, |b| b.0);
        let _ = writeln!(
            s,
            "\netcd refused {} {} writes: the object passed its request limit ({} bytes, \
             etcd.max_request_bytes).\nWatchers never saw those versions; the controller retried \
             with backoff. objects.csv leaves out\nobjects whose last write was refused (etcd \
             holds an older version of them, or none).",
            thousands(r.failed_writes),
            if r.api == "endpoints" {
                "Endpoints"
            } else {
                "EndpointSlice"
            },
            thousands(limit),
        );
    }
    if !hints.is_empty() {
        const SHOWN: usize = 10;
        let _ = writeln!(s, "\nTopology hints (topology_mode: Auto) went on or off:");
        for h in hints.iter().take(SHOWN) {
            let _ = writeln!(
                s,
                "  {:>8.1} s  {}  {}  {}",
                h.t_seconds, h.service, h.state, h.reason
            );
        }
        if hints.len() > SHOWN {
            let _ = writeln!(s, "  ... {} more in hints.csv", hints.len() - SHOWN);
        }
    }
    if !external.is_empty() {
        s.push_str(&external_table(external));
    }
    let optional = [
        (sc.requests_auto_hints(), ", hints.csv"),
        (sc.routes_by_topology(), ", zones.csv"),
        (!sc.file.external_services.is_empty(), ", external.csv"),
    ];
    let _ = writeln!(
        s,
        "\nWrote {}/summary.csv, timeseries.csv, objects.csv, watchers.csv, scenario.yaml{}, \
         report.html.",
        out.display(),
        optional
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect::<String>()
    );
    s
}

/// The external Services' figures, one line each (all of them are in `external.csv`).
fn external_table(rows: &[crate::external::Row]) -> String {
    let mut s = String::from(
        "\nExternal Services (requests: all sent; writes: stored; stale: published after the \
         instance left or failed):\n",
    );
    let header = [
        "service",
        "strategy",
        "requests",
        "failed",
        "writes",
        "delivered",
        "stale at end",
        "stale endpoint-s",
        "missing at end",
        "leaked",
        "staleness p99",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        table.push(vec![
            r.service.clone(),
            r.strategy.clone(),
            thousands(r.requests),
            thousands(r.failed_requests),
            thousands(r.writes),
            human_bytes(r.bytes_delivered),
            thousands(r.stale_endpoints_final),
            thousands(r.stale_endpoint_seconds.round() as u64),
            thousands(r.missing_endpoints_final),
            thousands(r.leaked_slices),
            format!("{:.1} s", r.staleness_p99_s),
        ]);
    }
    for line in aligned(&table, |c, _| c >= 2).lines() {
        let _ = writeln!(s, "  {line}");
    }
    s
}

/// Rows of cells as text columns two spaces apart, each as wide as its widest cell; a cell
/// for which `right(column, cell)` holds is aligned right, the others left; no trailing
/// spaces.
pub fn aligned(rows: &[Vec<String>], right: impl Fn(usize, &str) -> bool) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (v, w))| {
                if right(c, v) {
                    format!("{v:>w$}")
                } else {
                    format!("{v:<w$}")
                }
            })
            .collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
    }
    s
}

/// The objects as a kubectl-style `List` in YAML, which `slicesim size` reads back.
pub fn objects_yaml(objects: &[Object]) -> Result<String, WireError> {
    let items = objects
        .iter()
        .map(reference::json_value)
        .collect::<Result<Vec<_>, _>>()?;
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": items,
    });
    serde_saphyr::to_string(&list).map_err(|e| WireError::Export(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(5000), "5,000");
        assert_eq!(thousands(50_030_004), "50,030,004");
    }
}
