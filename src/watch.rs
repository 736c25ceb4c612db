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
    /// kube-proxies: they program the dataplane from what they receive ([`crate::kubeproxy`]).
    pub proxy: bool,
}

impl WatcherGroup {
    /// Bytes of write `w`'s watch event in this group's encoding.
    pub fn event_bytes(&self, w: &Write) -> u64 {
        let e = event_type(w.op);
        match self.encoding {
            Encoding::Protobuf => w.sizes.proto_watch_for(e),
            Encoding::Json => w.sizes.json_watch_for(e),
        }
    }

    pub fn matches(&self, w: &Write) -> bool {
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
            proxy: true,
        });
    }
    if w.coredns > 0 {
        out.push(WatcherGroup {
            name: "coredns".into(),
            count: u64::from(w.coredns),
            encoding: Encoding::Protobuf,
            namespace: None,
            skip_headless: false,
            proxy: false,
        });
    }
    for c in w.custom.iter().map(|c| &c.value) {
        out.push(WatcherGroup {
            name: c.name.clone(),
            count: u64::from(c.count),
            encoding: c.encoding,
            namespace: c.namespace.clone(),
            skip_headless: false,
            proxy: false,
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

/// The totals passed 2^64 (18.4 EB of bytes, or events): too large to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "what the watchers receive passes 2^64 bytes (18.4 EB), the most slicesim counts: use \
     fewer watchers (watchers.custom[*].count, cluster nodes) or a shorter run"
)]
pub struct Overflow;

/// What the watchers received per time bucket, in all and per group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    pub total: Vec<BucketDelivery>,
    /// Per group, in the order of the groups given.
    pub by_group: Vec<Vec<BucketDelivery>>,
}

/// What the watchers received per time bucket: each group computed once (`count` identical
/// watchers) and in parallel, then summed. Every product and sum is checked; the grand total
/// over all buckets and groups must fit in 64 bits too, so no sum of these values can wrap.
pub fn replay(
    writes: &[Write],
    groups: &[WatcherGroup],
    bucket: Nanos,
    buckets: usize,
) -> Result<Replay, Overflow> {
    let per_group: Vec<Vec<BucketDelivery>> = groups
        .par_iter()
        .map(|g| {
            let mut out = vec![BucketDelivery::default(); buckets];
            for w in writes.iter().filter(|w| w.stored() && g.matches(w)) {
                let b = ((w.time / bucket) as usize).min(buckets - 1);
                let d = &mut out[b];
                d.events = d.events.checked_add(g.count).ok_or(Overflow)?;
                let size = g.event_bytes(w);
                let total = match g.encoding {
                    Encoding::Protobuf => &mut d.bytes_proto,
                    Encoding::Json => &mut d.bytes_json,
                };
                *total = g
                    .count
                    .checked_mul(size)
                    .and_then(|b| total.checked_add(b))
                    .ok_or(Overflow)?;
            }
            Ok(out)
        })
        .collect::<Result<_, Overflow>>()?;
    let mut grand: [u128; 2] = [0; 2];
    for d in per_group.iter().flatten() {
        grand[0] += u128::from(d.events);
        grand[1] += u128::from(d.bytes_proto) + u128::from(d.bytes_json);
    }
    if grand.iter().any(|&t| t > u128::from(u64::MAX)) {
        return Err(Overflow);
    }
    let mut total = vec![BucketDelivery::default(); buckets];
    for g in &per_group {
        for (t, d) in total.iter_mut().zip(g) {
            t.add(d);
        }
    }
    Ok(Replay {
        total,
        by_group: per_group,
    })
}

/// The sum of some buckets.
pub fn sum<'a>(buckets: impl IntoIterator<Item = &'a BucketDelivery>) -> BucketDelivery {
    let mut s = BucketDelivery::default();
    for d in buckets {
        s.add(d);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ObjectSizes;

    fn write(time: Nanos, json: u64) -> Write {
        Write {
            time,
            trigger: None,
            op: Op::Update,
            service: 0,
            namespace: "default".into(),
            name: "web".into(),
            headless: false,
            sizes: ObjectSizes::from_object_sizes(json, json),
            request_bytes: 0,
            endpoints: 1,
            noop: false,
            failed: false,
        }
    }

    fn group(count: u64) -> WatcherGroup {
        WatcherGroup {
            name: "json".into(),
            count,
            encoding: Encoding::Json,
            namespace: None,
            skip_headless: false,
            proxy: false,
        }
    }

    /// By hand: a JSON watch line of a MODIFIED event is the object plus 30 bytes
    /// (`{"type":"MODIFIED","object":` + `}` + newline); 3 watchers, two writes of 100 bytes.
    #[test]
    fn deliveries_multiply_by_the_group_size() {
        let r = replay(
            &[write(0, 100), write(5, 100)],
            &[group(3), group(1)],
            10,
            1,
        )
        .unwrap();
        assert_eq!(r.total[0].events, 8);
        assert_eq!(r.total[0].bytes_json, 8 * 130);
        assert_eq!(r.by_group[0][0].bytes_json, 6 * 130);
        assert_eq!(r.by_group[1][0].events, 2);
    }

    /// Totals past 2^64 are an error, whether one product, one bucket or only the grand total
    /// passes it.
    #[test]
    fn totals_past_64_bits_are_refused() {
        let half = u64::MAX / 2;
        assert_eq!(
            replay(&[write(0, 100)], &[group(half)], 10, 1),
            Err(Overflow)
        );
        let big = [write(0, 1 << 40), write(15, 1 << 40)];
        // Each bucket fits (2^23 x 2^40), their sum does not once there are enough groups.
        let groups: Vec<_> = (0..2048).map(|_| group(1 << 12)).collect();
        assert!(replay(&big[..1], &groups[..1], 10, 2).is_ok());
        assert_eq!(replay(&big, &groups, 10, 2), Err(Overflow));
    }
}
