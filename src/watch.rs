//! Watchers and fan-out: every stored write becomes a watch event for every watcher whose
//! filter matches, counted in that watcher's encoding with the exact sizes.
//!
//! * kube-proxy, one per node: protobuf, every non-headless object (its informer's label
//!   selector `!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless`,
//!   `cmd/kube-proxy/app/server.go`);
//! * CoreDNS replicas: protobuf, every object (`plugin/kubernetes`);
//! * custom watchers: a count, an encoding, an optional namespace.
//!
//! On the Endpoints side the same watchers watch Endpoints objects, as kube-proxy did before
//! EndpointSlices. Identical watchers form a group that is replayed once and counted `count`
//! times; groups replay in parallel (rayon) and their integer totals are summed in group order,
//! so results do not depend on the thread count.

use rayon::prelude::*;

use crate::controllers::{Op, Write};
use crate::engine::Nanos;
use crate::scenario::{Encoding, Scenario};
use crate::wire::EventType;

/// A group of identical watchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatcherGroup {
    pub name: String,
    pub count: u64,
    pub encoding: Encoding,
    pub namespace: Option<String>,
    pub skip_headless: bool,
}

impl WatcherGroup {
    fn matches(&self, w: &Write) -> bool {
        !(self.skip_headless && w.headless)
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == &*w.namespace)
    }
}

/// The watcher groups of a scenario on a cluster of `nodes` nodes.
pub fn groups(sc: &Scenario, nodes: usize) -> Vec<WatcherGroup> {
    let w = &sc.file.watchers;
    let mut out = Vec::new();
    if w.kube_proxy && nodes > 0 {
        out.push(WatcherGroup {
            name: "kube-proxy".into(),
            count: nodes as u64,
            encoding: Encoding::Protobuf,
            namespace: None,
            skip_headless: true,
        });
    }
    if w.coredns > 0 {
        out.push(WatcherGroup {
            name: "coredns".into(),
            count: u64::from(w.coredns),
            encoding: Encoding::Protobuf,
            namespace: None,
            skip_headless: false,
        });
    }
    for c in w.custom.iter().map(|c| &c.value) {
        out.push(WatcherGroup {
            name: c.name.clone(),
            count: u64::from(c.count),
            encoding: c.encoding,
            namespace: c.namespace.clone(),
            skip_headless: false,
        });
    }
    out
}

/// What one time bucket received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketDelivery {
    pub events: u64,
    pub bytes_proto: u64,
    pub bytes_json: u64,
}

impl BucketDelivery {
    pub fn bytes(&self) -> u64 {
        self.bytes_proto + self.bytes_json
    }

    fn add(&mut self, o: &BucketDelivery) {
        self.events += o.events;
        self.bytes_proto += o.bytes_proto;
        self.bytes_json += o.bytes_json;
    }
}

pub fn event_type(op: Op) -> EventType {
    match op {
        Op::Create => EventType::Added,
        Op::Update => EventType::Modified,
        Op::Delete => EventType::Deleted,
    }
}

/// Replays the write log to every group; returns deliveries per bucket of width `bucket`.
pub fn replay(
    writes: &[Write],
    groups: &[WatcherGroup],
    bucket: Nanos,
    buckets: usize,
) -> Vec<BucketDelivery> {
    let per_group: Vec<Vec<BucketDelivery>> = groups
        .par_iter()
        .map(|g| {
            let mut out = vec![BucketDelivery::default(); buckets];
            for w in writes.iter().filter(|w| !w.noop && g.matches(w)) {
                let b = ((w.time / bucket) as usize).min(buckets - 1);
                let e = event_type(w.op);
                let d = &mut out[b];
                d.events += g.count;
                match g.encoding {
                    Encoding::Protobuf => d.bytes_proto += g.count * w.sizes.proto_watch_for(e),
                    Encoding::Json => d.bytes_json += g.count * w.sizes.json_watch_for(e),
                }
            }
            out
        })
        .collect();
    let mut total = vec![BucketDelivery::default(); buckets];
    for g in &per_group {
        for (t, d) in total.iter_mut().zip(g) {
            t.add(d);
        }
    }
    total
}
