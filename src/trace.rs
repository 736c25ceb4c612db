//! Pod-history traces: the pod changes that drove a run, as CSV, and back.
//!
//! Format (one header line, then one row per pod change, in time order):
//!
//! | column | meaning |
//! |---|---|
//! | `t_ns` | time of the change, nanoseconds from the start of the run |
//! | `namespace`, `service` | the Service the pod belongs to (must exist in the scenario) |
//! | `pod`, `uid` | pod name and UID |
//! | `node`, `zone` | the node and its zone; a node the scenario's cluster lacks is treated as missing from the informer |
//! | `ipv4`, `ipv6` | pod IPs, empty when none |
//! | `phase` | `Pending`, `Running` or `Failed` |
//! | `ready` | the Ready condition, `true`/`false` |
//! | `terminating` | `deletionTimestamp` is set |
//! | `deleted` | the pod object is gone (this row is its last state) |
//! | `ready_changed_ns` | when the Ready condition last changed (the trigger time) |
//! | `container_ports` | the pod's named container ports, `name=port` joined by `;` (may be empty) |
//!
//! A scenario replays a trace with `churn: {trace: FILE}`. Traces converted from a real cluster
//! use the same columns. Service changes (`service_update`) are not part of a trace.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cluster::{Change, History, Node, Phase, Pod, ServiceSpec};
use crate::engine::Nanos;

#[derive(Debug, Serialize, Deserialize)]
struct Row {
    t_ns: u64,
    namespace: String,
    service: String,
    pod: String,
    uid: String,
    node: String,
    zone: String,
    ipv4: String,
    ipv6: String,
    phase: String,
    ready: bool,
    terminating: bool,
    deleted: bool,
    ready_changed_ns: u64,
    container_ports: String,
}

/// A trace that cannot be replayed.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:1: {message}")]
pub struct TraceError {
    pub file: String,
    pub line: u64,
    pub message: String,
}

/// The csv crate's message without its position prefix (the position is printed in front).
fn csv_message(e: &csv::Error) -> String {
    let text = e.to_string();
    let text = match text.split_once("): ") {
        Some((head, rest)) if head.contains("(line: ") => rest.to_string(),
        _ => text,
    };
    format!(
        "not a trace row: {}",
        text.trim_start_matches("CSV error: ")
    )
}

/// Writes the pod changes among `events` (of a history of these `nodes` and `services`) as a
/// trace.
pub fn write<'h>(
    nodes: &[Node],
    services: &[ServiceSpec],
    events: impl Iterator<Item = &'h (Nanos, Change)>,
    out: impl Write,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for (t, change) in events {
        let Change::Pod { pod, deleted } = change else {
            continue;
        };
        let svc = &services[pod.service as usize];
        let node = nodes.get(pod.node as usize);
        let node_name = pod.node_name.to_string();
        w.serialize(Row {
            t_ns: *t,
            namespace: svc.namespace.to_string(),
            service: svc.name.to_string(),
            pod: pod.name.to_string(),
            uid: pod.uid.to_string(),
            node: node_name,
            zone: node.map_or(String::new(), |n| n.zone.to_string()),
            ipv4: pod.ipv4.as_ref().map_or(String::new(), |a| a.0.to_string()),
            ipv6: pod.ipv6.as_ref().map_or(String::new(), |a| a.0.to_string()),
            phase: pod.phase.as_str().into(),
            ready: pod.ready,
            terminating: pod.terminating,
            deleted: *deleted,
            ready_changed_ns: pod.ready_changed,
            container_ports: pod
                .container_ports
                .iter()
                .map(|(n, p)| format!("{n}={p}"))
                .collect::<Vec<_>>()
                .join(";"),
        })?;
    }
    w.flush()?;
    Ok(())
}

/// Reads a trace for a cluster of `nodes` and `services`.
pub fn read(
    file: &str,
    input: impl Read,
    nodes: Vec<Node>,
    services: Vec<ServiceSpec>,
) -> Result<History, TraceError> {
    let err = |line: u64, message: String| TraceError {
        file: file.to_string(),
        line,
        message,
    };
    let node_index: HashMap<&str, u32> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (&*n.name, i as u32))
        .collect();
    let service_index: HashMap<(&str, &str), u32> = services
        .iter()
        .enumerate()
        .map(|(i, s)| ((&*s.namespace, &*s.name), i as u32))
        .collect();
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern =
        |s: String| -> Arc<str> { names.entry(s.clone()).or_insert_with(|| s.into()).clone() };
    let mut ports_cache: BTreeMap<BTreeMap<String, i32>, Arc<BTreeMap<String, i32>>> =
        BTreeMap::new();
    // Pod ids by name: a name seen again is the same pod to the controllers' informers.
    let mut pod_ids: HashMap<String, u32> = HashMap::new();
    let mut events = Vec::new();
    let mut last_t = 0;
    let mut reader = csv::Reader::from_reader(input);
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let line = i as u64 + 2;
        let row = row.map_err(|e| err(e.position().map_or(line, |p| p.line()), csv_message(&e)))?;
        if row.t_ns < last_t {
            return Err(err(
                line,
                format!(
                    "t_ns {} is earlier than the row before ({last_t})",
                    row.t_ns
                ),
            ));
        }
        last_t = row.t_ns;
        let service = *service_index
            .get(&(row.namespace.as_str(), row.service.as_str()))
            .ok_or_else(|| {
                err(
                    line,
                    format!(
                        "service {}/{} is not in the scenario",
                        row.namespace, row.service
                    ),
                )
            })?;
        let node = *node_index.get(row.node.as_str()).ok_or_else(|| {
            err(
                line,
                format!("node {:?} is not in the scenario's cluster", row.node),
            )
        })?;
        let phase = match row.phase.as_str() {
            "Pending" => Phase::Pending,
            "Running" => Phase::Running,
            "Failed" => Phase::Failed,
            other => {
                return Err(err(
                    line,
                    format!("phase {other:?}: expected Pending, Running or Failed"),
                ));
            }
        };
        let ip = |s: &str, what: &str| -> Result<Option<std::net::IpAddr>, TraceError> {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse()
                    .map(Some)
                    .map_err(|_| err(line, format!("{what} {s:?} is not an IP address")))
            }
        };
        let ipv4 = match ip(&row.ipv4, "ipv4")? {
            Some(std::net::IpAddr::V4(a)) => Some(a.into()),
            Some(_) => return Err(err(line, "ipv4 holds an IPv6 address".into())),
            None => None,
        };
        let ipv6 = match ip(&row.ipv6, "ipv6")? {
            Some(std::net::IpAddr::V6(a)) => Some(a.into()),
            Some(_) => return Err(err(line, "ipv6 holds an IPv4 address".into())),
            None => None,
        };
        let mut container_ports = BTreeMap::new();
        for item in row.container_ports.split(';').filter(|s| !s.is_empty()) {
            let parsed = item
                .split_once('=')
                .and_then(|(n, p)| Some((n.to_string(), p.parse::<i32>().ok()?)));
            let (n, p) = parsed.ok_or_else(|| {
                err(
                    line,
                    format!("container_ports entry {item:?}: expected name=port"),
                )
            })?;
            container_ports.insert(n, p);
        }
        let container_ports = ports_cache
            .entry(container_ports.clone())
            .or_insert_with(|| Arc::new(container_ports))
            .clone();
        let next = pod_ids.len() as u32;
        let id = *pod_ids.entry(row.pod.clone()).or_insert(next);
        let pod = Pod {
            id,
            service,
            name: intern(row.pod),
            uid: intern(row.uid),
            node,
            node_name: intern(row.node),
            ipv4,
            ipv6,
            phase,
            ready: row.ready,
            terminating: row.terminating,
            ready_changed: row.ready_changed_ns,
            container_ports,
        };
        events.push((
            row.t_ns,
            Change::Pod {
                pod,
                deleted: row.deleted,
            },
        ));
    }
    Ok(History {
        nodes,
        services,
        events,
    })
}
