//! The resource guard: what a scenario will need (pod events, buckets, memory), estimated from
//! the scenario alone in O(size of the file), before anything is generated. A run beyond the
//! limit is refused up front, naming the field that drives the estimate.
//!
//! The memory model is linear and calibrated on `scripts/bench.sh` (peak RSS of release runs):
//! every pod event is kept in the history and produces writes in two write logs (~700 B all
//! told), every pod costs controller state in both APIs (~2 kB), every Service its objects and
//! queues (~40 kB), every time bucket its rows and per-watcher-group deliveries. It errs high.

use super::*;

/// Bytes per pod event: the history entry and its share of both write logs and objects.
const PER_POD_EVENT: f64 = 700.0;
/// Bytes per pod alive at the start: both controllers' desired state and stored objects.
const PER_POD: f64 = 2_000.0;
/// Bytes per Service: objects, trackers, queues, in both APIs.
const PER_SERVICE: f64 = 40_000.0;
/// Bytes per node: its name, IPAM and scheduling state.
const PER_NODE: f64 = 1_000.0;
/// Bytes per time bucket per API: the timeseries row and the per-bucket counters.
const PER_BUCKET: f64 = 200.0;
/// Bytes per time bucket per API per watcher group: what the group received.
const PER_BUCKET_GROUP: f64 = 24.0;
/// Bytes per request of an external Service's controller: the write in its own log and in
/// the run's, the published-address change, its share of the watch replay.
const PER_EXTERNAL_REQUEST: f64 = 600.0;
/// Bytes per registry instance: the registry, the stored objects, the observer's state.
const PER_INSTANCE: f64 = 1_000.0;
/// The program itself, its tables and buffers.
const BASE: f64 = 20e6;

/// Pod events per replaced pod (the new pod created, running, ready; the old one terminating,
/// gone), per failure (failed, gone, and a replacement), per flap (down, up).
const EVENTS_PER_REPLACEMENT: f64 = 5.0;
const EVENTS_PER_FAILURE: f64 = 6.0;
const EVENTS_PER_FLAP: f64 = 2.0;

/// What a scenario needs, and which field asks for most of it.
#[derive(Clone, Debug)]
pub struct Estimate {
    pub pod_events: f64,
    pub buckets: f64,
    pub memory_bytes: f64,
    /// The field behind the largest term: its path and where it is written.
    pub blame_path: String,
    pub blame_line: u64,
    pub blame_column: u64,
}

/// Estimates what running `sc` needs.
pub fn estimate(sc: &Scenario) -> Estimate {
    let f = &sc.file;
    let nodes: f64 = f
        .cluster
        .zones
        .value
        .iter()
        .map(|z| f64::from(z.nodes))
        .sum();
    let services: f64 = f.services.iter().map(|s| s.count() as f64).sum();
    let pods_of = |s: &Service| f64::from(s.replicas) * s.count() as f64;
    let pods: f64 = f.services.iter().map(pods_of).sum();
    let buckets = (f.duration.value.0 as f64 / f.bucket.value.0.max(1) as f64).ceil();
    let groups = 2.0 + f.watchers.custom.len() as f64;
    // The replicas behind a Service name (every entry, copy or namespace that has it).
    let replicas_of = |name: &str| -> f64 {
        f.services
            .iter()
            .filter(|s| validate::names_clash(&s.name.value, s.copies, name, 1))
            .map(|s| f64::from(s.replicas) * f64::from(s.namespaces.unwrap_or(1)))
            .sum()
    };

    // Each term with the field to blame when it dominates.
    let mut terms: Vec<(f64, String, u64, u64)> = Vec::new();
    let largest_service = f
        .services
        .iter()
        .enumerate()
        .max_by(|a, b| pods_of(a.1).total_cmp(&pods_of(b.1)));
    if let Some((i, s)) = largest_service {
        let field = if s.copies > 1 { "copies" } else { "replicas" };
        terms.push((
            pods * (PER_POD + 3.0 * PER_POD_EVENT) + services * PER_SERVICE,
            format!("services[{i}].{field}"),
            s.name.referenced.line(),
            s.name.referenced.column(),
        ));
    }
    terms.push((
        nodes * PER_NODE,
        "cluster.zones".into(),
        f.cluster.zones.referenced.line(),
        f.cluster.zones.referenced.column(),
    ));
    terms.push((
        buckets * 2.0 * (PER_BUCKET + groups * PER_BUCKET_GROUP),
        "bucket".into(),
        f.bucket.referenced.line(),
        f.bucket.referenced.column(),
    ));
    let mut events = 3.0 * pods;
    if let Churn::Actions(actions) = &f.churn {
        for (i, a) in actions.iter().enumerate() {
            let window = |from: Duration, until: Option<Duration>| {
                let end = until.map_or(f.duration.value, |u| u.min(f.duration.value));
                end.0.saturating_sub(from.0) as f64 / 3600e9
            };
            let (n, field) = match &a.value {
                Action::Rollout(r) => (
                    replicas_of(&r.service.value) * EVENTS_PER_REPLACEMENT,
                    "rollout",
                ),
                Action::Scale(s) => (
                    (f64::from(s.replicas) + replicas_of(&s.service.value))
                        * EVENTS_PER_REPLACEMENT,
                    "scale",
                ),
                Action::PodFailures(p) => (
                    p.per_hour.value * window(p.from, p.until) * EVENTS_PER_FAILURE,
                    "pod_failures.per_hour",
                ),
                Action::ReadinessFlaps(p) => (
                    p.per_hour.value * window(p.from, p.until) * EVENTS_PER_FLAP,
                    "readiness_flaps.per_hour",
                ),
                // Pods of drained, deleted or failed nodes are replaced: at most every pod.
                Action::NodeDrain(_) | Action::NodeDelete(_) | Action::ZoneOutage(_) => {
                    (pods * EVENTS_PER_FAILURE, a.value.kind())
                }
                Action::ServiceUpdate(u) => (replicas_of(&u.service.value), "service_update"),
                Action::ApiserverRestart(_) => (0.0, "apiserver_restart"),
                Action::Resize(r) => {
                    let before = r.service.as_ref().map_or(pods, |s| replicas_of(&s.value));
                    // At most every pod replaced at the largest size, or the change of size.
                    let after = before * r.max_factor.value.max(0.0);
                    let moved = if r.rollout {
                        before + after
                    } else {
                        (after - before)
                            .abs()
                            .max(before - before * r.min_factor.value)
                    };
                    (moved * EVENTS_PER_REPLACEMENT, "resize")
                }
                Action::ServiceDelete(d) => (
                    replicas_of(&d.service.value) * EVENTS_PER_REPLACEMENT,
                    "service_delete",
                ),
            };
            events += n;
            terms.push((
                n * PER_POD_EVENT,
                format!("churn[{i}].{field}"),
                a.referenced.line(),
                a.referenced.column(),
            ));
        }
    }
    let hours = f.duration.value.0 as f64 / 3600e9;
    for (i, e) in f.external_services.iter().enumerate() {
        let r = &e.registry;
        let steps = r.scale.iter().map(|s| s.instances.value.max(0) as f64);
        let largest = steps
            .clone()
            .fold(e.instances.value.max(0) as f64, f64::max)
            + r.join_per_hour.value.max(0.0) * hours;
        let changes =
            (r.join_per_hour.value + r.leave_per_hour.value + 2.0 * r.flaps_per_hour.value)
                .max(0.0)
                * hours
                + steps.sum::<f64>()
                + e.instances.value.max(0) as f64;
        let c = &e.controller;
        let chunk = c.chunk.value.clamp(1, 1000) as f64;
        let requests = match c.strategy {
            external::Strategy::Naive => {
                let polls =
                    (f.duration.value.0 as f64 / c.poll_interval.value.0.max(1) as f64).ceil();
                polls * (largest / chunk).ceil() * 2.0
            }
            // A sync writes at most its changes' slices (and the Endpoints object).
            _ => 3.0 * changes,
        };
        terms.push((
            requests * PER_EXTERNAL_REQUEST + largest * PER_INSTANCE,
            format!("external_services[{i}]"),
            e.name.referenced.line(),
            e.name.referenced.column(),
        ));
    }
    let memory = BASE + terms.iter().map(|t| t.0).sum::<f64>();
    let (_, blame_path, blame_line, blame_column) = terms
        .into_iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((0.0, String::new(), 1, 1));
    Estimate {
        pod_events: events,
        buckets,
        memory_bytes: memory,
        blame_path,
        blame_line,
        blame_column,
    }
}

/// Half of this machine's physical memory (`MemTotal` in `/proc/meminfo`), or 8 GiB where it
/// cannot be read: the default limit of the guard.
pub fn default_memory_limit() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(8 << 30, |kb| kb.saturating_mul(1024) / 2)
}

/// Checks the estimate against `limit` bytes: the problem to report when it is over.
pub fn check_memory(sc: &Scenario, limit: u64) -> Result<Estimate, ScenarioError> {
    let e = estimate(sc);
    if e.memory_bytes <= limit as f64 {
        return Ok(e);
    }
    Err(ScenarioError {
        problems: vec![Problem {
            file: sc.source.clone(),
            line: e.blame_line,
            column: e.blame_column,
            path: e.blame_path.clone(),
            message: format!(
                "this run would need about {} of memory ({} pod events, {} time buckets), \
                 more than the limit of {}; make the scenario smaller, or raise the limit \
                 with --max-memory (or --force)",
                // Saturating: an absurd estimate shows as the largest count.
                human_bytes(e.memory_bytes as u64),
                human_count(e.pod_events),
                human_count(e.buckets),
                human_bytes(limit)
            ),
        }],
    })
}

/// A count, with thousands separators up to 10^15 and in scientific notation beyond.
fn human_count(n: f64) -> String {
    if n < 1e15 {
        thousands(n.round() as u64)
    } else {
        format!("{n:.1e}")
    }
}

/// Parses a memory size such as `4GiB`, `500MB`, `2G` or `1073741824`.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a size such as 4GiB or 500MB, got {s:?}"))?;
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "k" | "kB" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "Ki" | "KiB" => 1024.0,
        "Mi" | "MiB" => 1024.0 * 1024.0,
        "Gi" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "Ti" | "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use B, kB, MB, GB, KiB, MiB, GiB)"
            ));
        }
    };
    let bytes = n * scale;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("{s:?} is too large"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(text: &str) -> Estimate {
        estimate(&Scenario::parse("t.yaml", "t", text).unwrap())
    }

    /// By hand: 2 Services of 100 pods = 600 initial pod events; 120 failures/h for 30 min =
    /// 60 failures x 6 events; one rollout of 100 pods x 5 events.
    #[test]
    fn pod_events_by_hand() {
        let e = est(
            "duration: 30m\nbucket: 1m\nservices:\n  - {name: a, replicas: 100}\n  - {name: b, replicas: 100}\nchurn:\n  - pod_failures: {per_hour: 120}\n  - rollout: {service: a, at: 1m}\n",
        );
        assert_eq!(e.pod_events, 600.0 + 360.0 + 500.0);
        assert_eq!(e.buckets, 30.0);
    }

    #[test]
    fn the_largest_term_is_blamed() {
        let e = est("duration: 10h\nbucket: 1ns\n");
        assert_eq!((e.blame_path.as_str(), e.blame_line), ("bucket", 2));
        assert!(e.memory_bytes > 1e15, "{}", e.memory_bytes);
        let e = est(
            "services:\n  - {name: a, replicas: 10}\nchurn:\n  - {name: x}\n"
                .replace("  - {name: x}\n", "  - pod_failures: {per_hour: 1e12}\n")
                .as_str(),
        );
        assert_eq!(
            (e.blame_path.as_str(), e.blame_line),
            ("churn[0].pod_failures.per_hour", 4)
        );
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("4GiB"), Ok(4 << 30));
        assert_eq!(parse_memory("500MB"), Ok(500_000_000));
        assert_eq!(parse_memory("1024"), Ok(1024));
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("1e30GB").is_err());
    }
}
