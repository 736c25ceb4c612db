//! The API servers between the write log and the watchers: when each watcher receives each
//! write.
//!
//! Every stored write reaches each replica's watch cache at its write time (the cacher's own
//! watch on etcd is taken as instant) and is dispatched to that replica's watchers
//! (`Cacher.dispatchEvent`, `staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go`). A
//! watcher's events leave in order over one HTTP stream; a replica's egress is shared fairly
//! among the streams that have bytes to send (processor sharing, as TCP flows through one
//! link share it): with `n` busy watchers each receives at `egress / n`. Watchers are spread
//! over the replicas round-robin, so the replicas carry equal shares.
//!
//! Identical watchers stay one [`Cohort`] per replica: they receive the same events at the same
//! rate, so each event reaches all of them at one moment, computed once.

use std::collections::VecDeque;

use rayon::prelude::*;

use crate::controllers::Write;
use crate::engine::Nanos;
use crate::scenario::{Apiserver, Bandwidth, Encoding, SECOND};
use crate::watch::{WatcherGroup, event_type};

/// The identical watchers of one group on one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cohort {
    pub group: usize,
    pub replica: u32,
    pub members: u64,
}

/// The cohorts of `groups` on `replicas` replicas: watcher k of the run (in group order) goes
/// to replica k mod `replicas`, so no replica has more than one watcher more than another.
pub fn cohorts(groups: &[WatcherGroup], replicas: u32) -> Vec<Cohort> {
    let r = u64::from(replicas.max(1));
    let mut out = Vec::new();
    let mut first = 0u64;
    for (g, group) in groups.iter().enumerate() {
        for replica in 0..r {
            // Watchers k in [first, first + count) with k mod r == replica.
            let offset = (replica + r - first % r) % r;
            let members = group.count.saturating_sub(offset).div_ceil(r);
            if members > 0 {
                out.push(Cohort {
                    group: g,
                    replica: replica as u32,
                    members,
                });
            }
        }
        first = first.wrapping_add(group.count);
    }
    out
}

/// What one cohort received, in write order: (index into the write log, time received).
pub type Received = Vec<(u32, Nanos)>;

/// When each cohort received the writes it watches.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    pub cohorts: Vec<Cohort>,
    /// Per cohort.
    pub received: Vec<Received>,
    /// Per time bucket, the replicas' egress busy time summed (ns); empty without a limit.
    pub busy: Vec<f64>,
    pub replicas: u32,
}

impl Delivery {
    /// The share of the replicas' egress capacity used in each bucket (0 without a limit).
    pub fn utilisation(&self, bucket: Nanos, buckets: usize) -> Vec<f64> {
        let capacity = bucket as f64 * f64::from(self.replicas.max(1));
        (0..buckets)
            .map(|b| self.busy.get(b).map_or(0.0, |busy| busy / capacity))
            .collect()
    }
}

/// Bytes of write `w`'s watch event in a group's encoding.
fn event_bytes(g: &WatcherGroup, w: &Write) -> u64 {
    let e = event_type(w.op);
    match g.encoding {
        Encoding::Protobuf => w.sizes.proto_watch_for(e),
        Encoding::Json => w.sizes.json_watch_for(e),
    }
}

/// Computes when every watcher receives every stored write it watches. Without an
/// `apiserver` (no egress limit) that is the write's time.
pub fn deliver(
    writes: &[Write],
    groups: &[WatcherGroup],
    apiserver: Option<&Apiserver>,
    bucket: Nanos,
    buckets: usize,
) -> Delivery {
    let replicas = apiserver.map_or(1, |a| a.replicas.max(1));
    let cohorts = cohorts(groups, replicas);
    let per_replica: Vec<(Vec<Received>, Vec<f64>)> = (0..replicas)
        .into_par_iter()
        .map(|r| {
            let mine: Vec<&Cohort> = cohorts.iter().filter(|c| c.replica == r).collect();
            let mut link = Link::new(apiserver.map(|a| a.egress), &mine, bucket.max(1), buckets);
            for (i, w) in writes.iter().enumerate().filter(|(_, w)| w.stored()) {
                link.advance(w.time as f64);
                for (lane, c) in mine.iter().enumerate() {
                    let g = &groups[c.group];
                    if g.matches(w) {
                        link.send(lane, i as u32, w.time, event_bytes(g, w));
                    }
                }
            }
            link.advance(f64::INFINITY);
            (
                link.lanes.into_iter().map(|l| l.received).collect(),
                link.busy,
            )
        })
        .collect();
    let mut received = Vec::with_capacity(cohorts.len());
    let mut busy = Vec::new();
    for (lanes, b) in per_replica {
        received.extend(lanes);
        if busy.is_empty() {
            busy = b;
        } else {
            busy.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
    }
    // `cohorts` lists replica-major within a group; the lanes came replica by replica.
    let mut order: Vec<usize> = (0..cohorts.len()).collect();
    order.sort_by_key(|&i| (cohorts[i].replica, i));
    let mut by_cohort = vec![Vec::new(); cohorts.len()];
    for (lanes_index, cohort_index) in order.into_iter().enumerate() {
        by_cohort[cohort_index] = std::mem::take(&mut received[lanes_index]);
    }
    Delivery {
        cohorts,
        received: by_cohort,
        busy: if apiserver.is_some() {
            busy
        } else {
            Vec::new()
        },
        replicas,
    }
}

/// One cohort's stream: the events not yet received by its members.
struct Lane {
    members: u64,
    /// (write index, bytes) in order; the first is being sent.
    queue: VecDeque<(u32, u64)>,
    /// Bytes of the first event each member still has to receive.
    head: f64,
    received: Vec<(u32, Nanos)>,
}

/// One replica's egress, shared by its cohorts' streams.
struct Link {
    /// Bytes per nanosecond; `None`: unlimited.
    rate: Option<f64>,
    lanes: Vec<Lane>,
    now: f64,
    bucket: f64,
    busy: Vec<f64>,
}

impl Link {
    fn new(egress: Option<Bandwidth>, cohorts: &[&Cohort], bucket: Nanos, buckets: usize) -> Self {
        Link {
            rate: egress.map(|b| b.0 as f64 / 8.0 / SECOND as f64),
            lanes: cohorts
                .iter()
                .map(|c| Lane {
                    members: c.members,
                    queue: VecDeque::new(),
                    head: 0.0,
                    received: Vec::new(),
                })
                .collect(),
            now: 0.0,
            bucket: bucket as f64,
            busy: vec![0.0; buckets],
        }
    }

    /// Write `write` (at `time`) enters `lane`'s stream with `bytes` per member.
    fn send(&mut self, lane: usize, write: u32, time: Nanos, bytes: u64) {
        let l = &mut self.lanes[lane];
        if self.rate.is_none() {
            l.received.push((write, time));
            return;
        }
        if l.queue.is_empty() {
            l.head = bytes as f64;
        }
        l.queue.push_back((write, bytes));
    }

    /// The busy interval [a, b) into the buckets it overlaps (time past the last bucket is
    /// not shown).
    fn add_busy(&mut self, a: f64, b: f64) {
        let mut t = a;
        while t < b {
            let k = (t / self.bucket) as usize;
            if k >= self.busy.len() {
                return;
            }
            let end = ((k + 1) as f64 * self.bucket).min(b);
            self.busy[k] += end - t;
            t = end;
        }
    }

    /// Sends until `until` (or until every stream is empty, for infinity).
    fn advance(&mut self, until: f64) {
        let Some(rate) = self.rate else {
            return;
        };
        loop {
            let busy_members: u64 = self
                .lanes
                .iter()
                .filter(|l| !l.queue.is_empty())
                .map(|l| l.members)
                .sum();
            if busy_members == 0 {
                if until.is_finite() {
                    self.now = self.now.max(until);
                }
                return;
            }
            let per_member = rate / busy_members as f64;
            let (first, least) = self
                .lanes
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.queue.is_empty())
                .map(|(i, l)| (i, l.head))
                .fold(
                    (usize::MAX, f64::INFINITY),
                    |a, b| if b.1 < a.1 { b } else { a },
                );
            let step = least / per_member;
            let end = self.now + step;
            if end > until {
                let sent = (until - self.now) * per_member;
                for l in self.lanes.iter_mut().filter(|l| !l.queue.is_empty()) {
                    l.head -= sent;
                }
                self.add_busy(self.now, until);
                self.now = until;
                return;
            }
            self.add_busy(self.now, end);
            self.now = end;
            let at = end.ceil() as Nanos;
            for (i, l) in self.lanes.iter_mut().enumerate() {
                if l.queue.is_empty() {
                    continue;
                }
                l.head -= least;
                // The stream with the least left is done; so is any within rounding of it.
                if i == first || l.head <= least * 1e-12 {
                    let (write, _) = l.queue.pop_front().unwrap_or_default();
                    l.received.push((write, at));
                    l.head = l.queue.front().map_or(0.0, |(_, b)| *b as f64);
                }
            }
        }
    }
}

/// Percentiles of a delay, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    pub p50: Nanos,
    pub p90: Nanos,
    pub p99: Nanos,
    pub max: Nanos,
}

impl Percentiles {
    /// Nearest-rank percentiles of weighted samples (delay, weight): the p-th is the least
    /// delay whose cumulative weight reaches p of the total. Sorts `samples`.
    pub fn of(samples: &mut [(Nanos, u64)]) -> Percentiles {
        samples.sort_unstable();
        let total: u128 = samples.iter().map(|s| u128::from(s.1)).sum();
        if total == 0 {
            return Percentiles::default();
        }
        let at = |p: u128| {
            // The least rank r (1-based) with r >= p% of total.
            let rank = (total * p).div_ceil(100).max(1);
            let mut seen = 0u128;
            for &(d, w) in samples.iter() {
                seen += u128::from(w);
                if seen >= rank {
                    return d;
                }
            }
            samples.last().map_or(0, |s| s.0)
        };
        Percentiles {
            p50: at(50),
            p90: at(90),
            p99: at(99),
            max: samples.last().map_or(0, |s| s.0),
        }
    }
}

/// Propagation delays: from the pod change that triggered a write (the trigger time it
/// carries; its own time when it carries none) to each watcher receiving it. Over the run,
/// and per bucket of the write's time.
pub fn propagation(
    writes: &[Write],
    d: &Delivery,
    bucket: Nanos,
    buckets: usize,
) -> (Percentiles, Vec<Percentiles>) {
    let mut per_bucket: Vec<Vec<(Nanos, u64)>> = vec![Vec::new(); buckets];
    for (c, received) in d.cohorts.iter().zip(&d.received) {
        for &(i, at) in received {
            let w = &writes[i as usize];
            let from = w.trigger.unwrap_or(w.time).min(w.time);
            let b = ((w.time / bucket.max(1)) as usize).min(buckets - 1);
            per_bucket[b].push((at.saturating_sub(from), c.members));
        }
    }
    let series: Vec<Percentiles> = per_bucket
        .par_iter_mut()
        .map(|s| Percentiles::of(s))
        .collect();
    let mut all: Vec<(Nanos, u64)> = per_bucket.into_iter().flatten().collect();
    (Percentiles::of(&mut all), series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::Op;
    use crate::wire::ObjectSizes;

    fn group(count: u64) -> WatcherGroup {
        WatcherGroup {
            name: "w".into(),
            count,
            encoding: Encoding::Json,
            namespace: None,
            skip_headless: false,
            proxy: false,
        }
    }

    /// A write at `time` whose JSON watch line is `line` bytes (a MODIFIED line is the object
    /// plus 30 bytes).
    fn write(time: Nanos, line: u64) -> Write {
        Write {
            time,
            trigger: Some(time),
            op: Op::Update,
            service: 0,
            namespace: "default".into(),
            name: "web".into(),
            headless: false,
            sizes: ObjectSizes::from_object_sizes(line - 30, line - 30),
            request_bytes: 0,
            endpoints: 1,
            noop: false,
            failed: false,
        }
    }

    #[test]
    fn watchers_spread_round_robin_over_replicas() {
        let c = cohorts(&[group(5), group(2)], 3);
        // Watchers 0..5 → replicas 0,1,2,0,1; watchers 5,6 → replicas 2,0.
        let m: Vec<_> = c.iter().map(|c| (c.group, c.replica, c.members)).collect();
        assert_eq!(m, [(0, 0, 2), (0, 1, 2), (0, 2, 1), (1, 0, 1), (1, 2, 1)]);
    }

    /// By hand: one replica of 8 Mbps (1,000,000 bytes per second), 4 watchers. A 100,000-byte
    /// event at 0 goes to 4 watchers: 400,000 bytes, all received at 0.4 s. A second at 0.1 s
    /// waits behind it: received at 0.8 s. Utilisation of the first 1 s bucket: 0.8.
    #[test]
    fn a_shared_link_delivers_in_order_at_its_fair_share() {
        let api = Apiserver {
            replicas: 1,
            egress: Bandwidth(8_000_000),
        };
        let writes = [write(0, 100_000), write(SECOND / 10, 100_000)];
        let d = deliver(&writes, &[group(4)], Some(&api), SECOND, 2);
        assert_eq!(
            d.received,
            [vec![(0, 4 * SECOND / 10), (1, 8 * SECOND / 10)]]
        );
        let u = d.utilisation(SECOND, 2);
        assert!((u[0] - 0.8).abs() < 1e-9, "{u:?}");
        let (all, _) = propagation(&writes, &d, SECOND, 2);
        // Delays 0.4 s and 0.7 s, 4 watchers each: p50 0.4 s, p90 and max 0.7 s.
        assert_eq!(
            (all.p50, all.p90, all.max),
            (400_000_000, 700_000_000, 700_000_000)
        );
    }

    /// Two groups share the link: 1 watcher of a 10,000-byte event and 1 of a 30,000-byte
    /// one, at 1,000,000 bytes per second. Both send at 500,000 B/s until the small one is
    /// done (20 ms); the large one then has the link alone: 20,000 bytes left, 20 ms more.
    #[test]
    fn streams_share_the_link_until_they_finish() {
        let api = Apiserver {
            replicas: 1,
            egress: Bandwidth(8_000_000),
        };
        let mut big = group(1);
        big.namespace = Some("big".into());
        let mut w_big = write(0, 30_000);
        w_big.namespace = "big".into();
        let mut small = group(1);
        small.namespace = Some("default".into());
        let writes = [write(0, 10_000), w_big];
        let d = deliver(&writes, &[small, big], Some(&api), SECOND, 1);
        assert_eq!(d.received, [vec![(0, 20_000_000)], vec![(1, 40_000_000)]]);
    }

    #[test]
    fn without_a_limit_watchers_receive_at_the_write_time() {
        let writes = [write(5, 100), write(7, 100)];
        let d = deliver(&writes, &[group(3)], None, SECOND, 1);
        assert_eq!(d.received, [vec![(0, 5), (1, 7)]]);
        assert_eq!(
            propagation(&writes, &d, SECOND, 1).0,
            Percentiles::default()
        );
    }

    /// Nearest rank: 100 samples 1..=100 ms give p50 50, p90 90, p99 99; weights count as
    /// copies.
    #[test]
    fn percentiles_by_nearest_rank() {
        let mut s: Vec<_> = (1..=100).map(|i| (i, 1)).collect();
        let p = Percentiles::of(&mut s);
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50, 90, 99, 100));
        let mut w = vec![(10, 99), (1000, 1)];
        let p = Percentiles::of(&mut w);
        assert_eq!((p.p50, p.p99, p.max), (10, 10, 1000));
    }
}
