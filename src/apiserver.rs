//! The API servers between the write log and the watchers: when each watcher receives each
//! write, which watchers the API server closes, and what they re-list.
//!
//! * **Egress.** Every stored write reaches each replica's watch cache at its write time (the
//!   cacher's own watch on etcd is taken as instant) and is dispatched to that replica's
//!   watchers (`Cacher.dispatchEvent`, `staging/src/k8s.io/apiserver/pkg/storage/cacher/
//!   cacher.go`). A watcher's events leave in order over one stream; a replica's egress is
//!   shared max-min fairly among the streams with bytes waiting (as TCP flows share a link):
//!   a stream slower than its share (its watcher's `receive` speed) takes what it can and the
//!   rest share the remainder. Watchers are spread over the replicas round-robin.
//! * **Buffers and terminations** (`cache_watcher.go`). A watcher holds at most
//!   `2 × chanSize + 2` events on the server (its `input` and `result` channels, one event
//!   between them and one being written), `chanSize` = the watch cache's capacity / 75 s,
//!   within 10 and 100 (`suggestedWatchChannelSize`, no index for these resources), and the
//!   bytes its connection takes before the client acknowledges them (`send_window`: Go's
//!   HTTP/2 client opens 4 MiB per stream, `transportDefaultStreamFlow`); it is full when both
//!   are. An event
//!   for a full watcher blocks the dispatcher up to the time budget (`time_budget.go`: 50 ms
//!   more every second, at most 100 ms, shared by all blocked watchers of that event; full at
//!   the start of the run, empty after a restart); a watcher still full then is closed
//!   ("Forcing watcher close due to unresponsiveness"). Two simplifications: the dispatcher's
//!   wait does not delay the other watchers, and a watcher's channel size follows the cache's
//!   current capacity (upstream fixes it when the watch starts).
//! * **Re-watch or re-list** (client-go `reflector.go`). A closed watcher watches again from
//!   the last event it received; if the replica's watch cache no longer holds the events after
//!   it (`watch_cache.go`: a window of 100 to 102,400 events, doubled when full of events
//!   younger than 75 s, halved when its newest quarter is older) the watch fails with 410 Gone
//!   and the watcher re-lists after the reflector's backoff (800 ms, doubling up to 30 s, reset
//!   after 2 minutes without one; its jitter is left out so that identical watchers stay
//!   together): a LIST of every object it watches, in its encoding, then a watch from there.
//!   An API server restart (`apiserver_restart`) makes every watcher of that replica re-list.
//!
//! Identical watchers stay one [`Cohort`] per replica: they receive the same events at the
//! same rate and are closed together, so each event reaches all of them at one moment,
//! computed once.

use std::collections::VecDeque;

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use crate::controllers::{Api, Op, Write};
use crate::engine::Nanos;
use crate::scenario::{Apiserver, Encoding, Receive, SECOND};
use crate::watch::WatcherGroup;
use crate::wire::fast::{enveloped_len, varint_len};

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

/// What happened to one cohort (counts are per member; multiply by `members`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CohortStats {
    /// Times the API server closed its watch as unresponsive.
    pub terminations: u64,
    pub relists: u64,
    /// Bytes of its LIST responses.
    pub relist_bytes: u64,
    /// The most bytes of objects it held (its store), in protobuf.
    pub store_peak: u64,
    /// The most it held while re-listing: the store plus the LIST being decoded (the
    /// reflector keeps both until `Replace`).
    pub relist_memory_peak: u64,
}

/// When each cohort received the writes it watches.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    pub cohorts: Vec<Cohort>,
    /// Per cohort.
    pub received: Vec<Received>,
    pub stats: Vec<CohortStats>,
    /// Per time bucket, the replicas' egress busy time summed (ns); empty without a limit.
    pub busy: Vec<f64>,
    /// The most bytes waiting to be sent on a replica, summed over the replicas.
    pub peak_in_flight: u64,
    /// Per time bucket, the bytes of the LISTs re-listing watchers asked for (every watcher).
    pub relist_bytes: Vec<u64>,
    pub replicas: u32,
}

impl Delivery {
    /// A cohort count summed over every watcher.
    pub fn total(&self, f: impl Fn(&CohortStats) -> u64) -> u64 {
        self.cohorts
            .iter()
            .zip(&self.stats)
            .fold(0u64, |a, (c, s)| {
                a.saturating_add(c.members.saturating_mul(f(s)))
            })
    }

    /// The share of the replicas' egress capacity used in each bucket (0 without a limit).
    pub fn utilisation(&self, bucket: Nanos, buckets: usize) -> Vec<f64> {
        let capacity = bucket as f64 * f64::from(self.replicas.max(1));
        (0..buckets)
            .map(|b| self.busy.get(b).map_or(0.0, |busy| busy / capacity))
            .collect()
    }
}

/// What the API server side of a run is: its replicas and egress, the watchers' receive
/// speeds (per group), and the restarts (time, replica or all).
pub struct Setup<'a> {
    pub api: Api,
    pub apiserver: Option<&'a Apiserver>,
    pub receive: Vec<Option<Receive>>,
    pub restarts: Vec<(Nanos, Option<u32>)>,
}

impl Setup<'_> {
    /// Nothing delays or closes a watch: every event arrives at its write time.
    fn instant(&self) -> bool {
        self.apiserver.is_none()
            && self.receive.iter().all(Option::is_none)
            && self.restarts.is_empty()
    }
}

/// Computes when every watcher receives every stored write it watches, and what the API
/// server closed and re-sent.
pub fn deliver(
    writes: &[Write],
    groups: &[WatcherGroup],
    setup: &Setup,
    bucket: Nanos,
    buckets: usize,
) -> Delivery {
    let replicas = setup.apiserver.map_or(1, |a| a.replicas.max(1));
    let cohorts = cohorts(groups, replicas);
    if setup.instant() {
        let received = cohorts
            .iter()
            .map(|c| {
                let g = &groups[c.group];
                writes
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| w.stored() && g.matches(w))
                    .map(|(i, w)| (i as u32, w.time))
                    .collect()
            })
            .collect();
        return Delivery {
            stats: vec![CohortStats::default(); cohorts.len()],
            cohorts,
            received,
            replicas,
            ..Delivery::default()
        };
    }
    let per_replica: Vec<Replica> = (0..replicas)
        .into_par_iter()
        .map(|r| {
            let mine: Vec<(usize, &Cohort)> = cohorts
                .iter()
                .enumerate()
                .filter(|(_, c)| c.replica == r)
                .collect();
            let mut rep = Replica::new(setup, &mine, bucket.max(1), buckets);
            let mut restarts = setup
                .restarts
                .iter()
                .filter(|(_, which)| which.is_none_or(|x| x == r))
                .map(|(t, _)| *t)
                .peekable();
            for (i, w) in writes.iter().enumerate().filter(|(_, w)| w.stored()) {
                while let Some(t) = restarts.next_if(|t| *t <= w.time) {
                    rep.advance(t as f64, groups);
                    rep.restart(t as f64);
                }
                rep.advance(w.time as f64, groups);
                rep.dispatch(i as u32, w, groups);
            }
            for t in restarts {
                rep.advance(t as f64, groups);
                rep.restart(t as f64);
            }
            rep.advance(f64::INFINITY, groups);
            rep
        })
        .collect();
    let mut received = vec![Vec::new(); cohorts.len()];
    let mut stats = vec![CohortStats::default(); cohorts.len()];
    let mut busy = vec![0.0; buckets];
    let mut peak_in_flight = 0u64;
    let mut relist_bytes = vec![0u64; buckets];
    for rep in per_replica {
        relist_bytes
            .iter_mut()
            .zip(&rep.relist_bytes)
            .for_each(|(x, y)| *x = x.saturating_add(*y));
        for lane in rep.lanes {
            received[lane.cohort] = lane.received;
            stats[lane.cohort] = lane.stats;
        }
        busy.iter_mut().zip(rep.busy).for_each(|(x, y)| *x += y);
        peak_in_flight = peak_in_flight.saturating_add(rep.peak_in_flight);
    }
    Delivery {
        cohorts,
        received,
        stats,
        busy: if setup.apiserver.is_some() {
            busy
        } else {
            Vec::new()
        },
        peak_in_flight,
        relist_bytes,
        replicas,
    }
}

/// The send window without an `apiserver:` block.
const DEFAULT_SEND_WINDOW: u64 = 4 << 20;

/// `eventFreshDuration` (`watch_cache.go`).
const FRESH: f64 = 75.0 * SECOND as f64;
/// `defaultLowerBoundCapacity`, `defaultUpperBoundCapacity` (`watch_cache.go`).
const CACHE_MIN: usize = 100;
const CACHE_MAX: usize = 100 * 1024;
/// `minWatchChanSize`, `maxWatchChanSizeWithoutIndex` (`watch_cache.go`).
const CHAN_MIN: usize = 10;
const CHAN_MAX: usize = 100;
/// The dispatch time budget (`time_budget.go`): `refreshPerSecond`, `maxBudget`.
const BUDGET_REFRESH: f64 = 0.05 * SECOND as f64;
const BUDGET_MAX: f64 = 0.1 * SECOND as f64;
/// The reflector's backoff (`NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0)`).
const BACKOFF_INIT: f64 = 0.8 * SECOND as f64;
const BACKOFF_MAX: f64 = 30.0 * SECOND as f64;
const BACKOFF_RESET: f64 = 120.0 * SECOND as f64;

/// One replica's watch cache of the resource: which events it still holds.
struct WatchCache {
    capacity: usize,
    /// (write index, record time) of the events held, oldest first.
    events: VecDeque<(u32, f64)>,
    /// Events before this write index are gone (evicted, or before a restart).
    from: u32,
}

impl WatchCache {
    fn new(from: u32) -> Self {
        WatchCache {
            capacity: CACHE_MIN,
            events: VecDeque::new(),
            from,
        }
    }

    /// `updateCache` with `resizeCacheLocked`.
    fn add(&mut self, index: u32, t: f64) {
        let full = self.events.len() >= self.capacity;
        if full {
            let oldest = self.events.front().map_or(t, |e| e.1);
            let quarter = self.events.len() - self.capacity / 4;
            let recent = self.events.get(quarter).map_or(t, |e| e.1);
            if t - oldest < FRESH {
                self.capacity = (self.capacity * 2).min(CACHE_MAX);
            } else if t - recent > FRESH {
                self.capacity = (self.capacity / 2).max(CACHE_MIN);
                while self.events.len() > self.capacity {
                    self.evict();
                }
            }
        }
        if self.events.len() >= self.capacity {
            self.evict();
        }
        self.events.push_back((index, t));
    }

    fn evict(&mut self) {
        if let Some((i, _)) = self.events.pop_front() {
            self.from = self.from.max(i + 1);
        }
    }

    /// The write index after the newest event held (or seen before a restart).
    fn latest(&self) -> u32 {
        self.events.back().map_or(self.from, |e| e.0 + 1)
    }

    /// A watch from write index `next` on (everything before it received) can be served.
    fn holds(&self, next: u32) -> bool {
        next >= self.from
    }

    /// `suggestedWatchChannelSize`: about a second of history, within 10 and 100.
    fn chan_size(&self) -> usize {
        (self.capacity as f64 / (FRESH / SECOND as f64)).ceil() as usize
    }

    fn buffer(&self) -> usize {
        2 * self.chan_size().clamp(CHAN_MIN, CHAN_MAX) + 2
    }
}

/// The dispatcher's time budget (`timeBudget`): refilled on a 1 s ticker from the replica's
/// start.
struct Budget {
    left: f64,
    started: f64,
    ticks: u64,
}

impl Budget {
    /// A budget from a start at `started`: empty after a restart (`newTimeBudget`), full for
    /// a replica that was up before the run.
    fn new(started: f64, left: f64) -> Self {
        Budget {
            left,
            started,
            ticks: 0,
        }
    }

    fn take(&mut self, now: f64) -> f64 {
        let ticks = ((now - self.started) / SECOND as f64).floor().max(0.0) as u64;
        if ticks > self.ticks {
            self.left = (self.left + (ticks - self.ticks) as f64 * BUDGET_REFRESH).min(BUDGET_MAX);
            self.ticks = ticks;
        }
        std::mem::take(&mut self.left)
    }

    fn give_back(&mut self, unused: f64) {
        self.left = (self.left + unused.max(0.0)).min(BUDGET_MAX);
    }
}

/// Something a stream sends: an event, or a LIST response that brings the writes in `covers`.
struct Job {
    bytes: u64,
    /// Objects in it (1 for an event), for a per-object receive time.
    items: u64,
    kind: JobKind,
}

enum JobKind {
    Event(u32),
    /// A LIST taken when everything before write `snapshot` was written, bringing the
    /// writes in `covers` (those the watcher missed).
    List {
        covers: Vec<u32>,
        snapshot: u32,
    },
}

enum State {
    Watching,
    /// Receiving a LIST: the watch starts when it is done, with what came meanwhile.
    Listing,
    /// Closed; re-lists at `until`. The writes meanwhile come with the LIST.
    Waiting {
        until: f64,
    },
}

/// One cohort's stream on its replica.
struct Lane {
    cohort: usize,
    group: usize,
    members: u64,
    /// Bytes per ns a member takes at most, or ns per object.
    receive: Option<Receive>,
    queue: VecDeque<Job>,
    /// Bytes of the first job each member still has to receive.
    head: f64,
    /// Queued jobs from before the current watch started (replayed, not counted against the
    /// buffer).
    replayed: usize,
    /// Bytes of the queued jobs.
    queued: u64,
    /// Everything before this write index has been received.
    next: u32,
    state: State,
    /// Writes dropped or missed while closed, to come with the next LIST.
    covered: Vec<u32>,
    backoff: f64,
    last_backoff: f64,
    received: Received,
    stats: CohortStats,
    /// Objects it watches now: count, protobuf bytes as list items, JSON bytes as list items,
    /// protobuf bytes of the objects.
    items: u64,
    list_proto: u64,
    list_json: u64,
    store: u64,
}

impl Lane {
    fn push(&mut self, job: Job) {
        if self.queue.is_empty() {
            self.head = job.bytes as f64;
        }
        self.queued = self.queued.saturating_add(job.bytes);
        self.queue.push_back(job);
    }

    fn pop(&mut self) -> Option<Job> {
        let job = self.queue.pop_front()?;
        self.queued -= job.bytes;
        self.replayed = self.replayed.saturating_sub(1);
        self.head = self.queue.front().map_or(0.0, |j| j.bytes as f64);
        Some(job)
    }

    /// This member's speed limit for its first job, in bytes per ns.
    fn cap(&self) -> f64 {
        let Some(job) = self.queue.front() else {
            return f64::INFINITY;
        };
        match self.receive {
            None => f64::INFINITY,
            Some(Receive::Bandwidth(b)) => b.0 as f64 / 8.0 / SECOND as f64,
            Some(Receive::PerObject(d)) => {
                job.bytes as f64 / (d.0 as f64 * job.items.max(1) as f64).max(1.0)
            }
        }
    }
}

/// An object's namespace and name.
type ObjectKey = (std::sync::Arc<str>, std::sync::Arc<str>);

/// One replica: its egress, watch cache, budget and streams.
struct Replica {
    api: Api,
    /// Bytes a watch stream holds beyond its channels (`Apiserver::send_window`).
    send_window: u64,
    /// Bytes per ns; infinite without a limit.
    rate: f64,
    lanes: Vec<Lane>,
    cache: WatchCache,
    budget: Budget,
    now: f64,
    bucket: f64,
    busy: Vec<f64>,
    peak_in_flight: u64,
    /// Per bucket, LIST bytes asked for (members × bytes).
    relist_bytes: Vec<u64>,
    /// Live objects and their sizes ([`list_item`]).
    live: HashMap<ObjectKey, (u64, u64, u64)>,
}

impl Replica {
    fn new(setup: &Setup, cohorts: &[(usize, &Cohort)], bucket: Nanos, buckets: usize) -> Self {
        Replica {
            api: setup.api,
            send_window: setup
                .apiserver
                .map_or(DEFAULT_SEND_WINDOW, |a| a.send_window.0),
            rate: setup
                .apiserver
                .map_or(f64::INFINITY, |a| a.egress.0 as f64 / 8.0 / SECOND as f64),
            lanes: cohorts
                .iter()
                .map(|(i, c)| Lane {
                    cohort: *i,
                    group: c.group,
                    members: c.members,
                    receive: setup.receive[c.group],
                    queue: VecDeque::new(),
                    head: 0.0,
                    replayed: 0,
                    queued: 0,
                    next: 0,
                    state: State::Watching,
                    covered: Vec::new(),
                    backoff: BACKOFF_INIT,
                    last_backoff: f64::NEG_INFINITY,
                    received: Vec::new(),
                    stats: CohortStats::default(),
                    items: 0,
                    list_proto: 0,
                    list_json: 0,
                    store: 0,
                })
                .collect(),
            cache: WatchCache::new(0),
            budget: Budget::new(0.0, BUDGET_MAX),
            now: 0.0,
            bucket: bucket as f64,
            busy: vec![0.0; buckets],
            peak_in_flight: 0,
            relist_bytes: vec![0; buckets],
            live: HashMap::default(),
        }
    }

    /// A stored write reaches the replica: into the cache, the watchers' stores, and to the
    /// watchers that watch it.
    fn dispatch(&mut self, index: u32, w: &Write, groups: &[WatcherGroup]) {
        self.cache.add(index, self.now);
        let item = list_item(self.api, w);
        let key = (w.namespace.clone(), w.name.clone());
        let old = if w.op == Op::Delete {
            self.live.remove(&key)
        } else {
            self.live.insert(key, item)
        };
        let mut blocked = Vec::new();
        for (l, lane) in self.lanes.iter_mut().enumerate() {
            let g = &groups[lane.group];
            if !g.matches(w) {
                continue;
            }
            // (Saturating: an object whose headlessness changed was not counted before.)
            if let Some((p, j, s)) = old {
                lane.items = lane.items.saturating_sub(1);
                lane.list_proto = lane.list_proto.saturating_sub(p);
                lane.list_json = lane.list_json.saturating_sub(j);
                lane.store = lane.store.saturating_sub(s);
            }
            if w.op != Op::Delete {
                lane.items += 1;
                lane.list_proto += item.0;
                lane.list_json += item.1;
                lane.store += item.2;
            }
            lane.stats.store_peak = lane.stats.store_peak.max(lane.store);
            match lane.state {
                State::Waiting { .. } => lane.covered.push(index),
                State::Listing => {
                    lane.push(Job {
                        bytes: g.event_bytes(w),
                        items: 1,
                        kind: JobKind::Event(index),
                    });
                    lane.replayed += 1;
                }
                State::Watching => {
                    // Full: the channels hold their events and the send window its bytes.
                    let fresh = lane.queue.len() - lane.replayed;
                    if fresh >= self.cache.buffer() && lane.queued >= self.send_window {
                        blocked.push(l);
                    }
                    lane.push(Job {
                        bytes: g.event_bytes(w),
                        items: 1,
                        kind: JobKind::Event(index),
                    });
                }
            }
        }
        if !blocked.is_empty() {
            // One timer for every blocked watcher: each may free a place until it fires.
            let budget = self.budget.take(self.now);
            let rates = self.rates();
            let mut used: f64 = 0.0;
            for l in blocked {
                let lane = &self.lanes[l];
                let wait = lane.head / rates[l];
                if wait <= budget {
                    used = used.max(wait);
                } else {
                    used = budget;
                    let now = self.now;
                    self.close(l, now, true);
                }
            }
            self.budget.give_back(budget - used);
        }
        let in_flight: u64 = self
            .lanes
            .iter()
            .map(|l| l.members.saturating_mul(l.queued))
            .sum();
        self.peak_in_flight = self.peak_in_flight.max(in_flight);
    }

    /// The API server closes lane `l`'s watches (as unresponsive, or by a restart): they
    /// watch again from what they received, or re-list after the backoff.
    fn close(&mut self, l: usize, now: f64, unresponsive: bool) {
        let lane = &mut self.lanes[l];
        if unresponsive {
            lane.stats.terminations += 1;
        }
        if unresponsive && self.cache.holds(lane.next) {
            // A new watch replays what the old one had not delivered; the event being sent
            // starts over.
            lane.head = lane.queue.front().map_or(0.0, |j| j.bytes as f64);
            lane.replayed = lane.queue.len();
            return;
        }
        lane.queued = 0;
        for job in lane.queue.drain(..) {
            match job.kind {
                JobKind::Event(i) => lane.covered.push(i),
                JobKind::List { covers, .. } => lane.covered.extend(covers),
            }
        }
        lane.head = 0.0;
        lane.replayed = 0;
        if now - lane.last_backoff > BACKOFF_RESET {
            lane.backoff = BACKOFF_INIT;
        }
        lane.last_backoff = now;
        lane.state = State::Waiting {
            until: now + lane.backoff,
        };
        lane.backoff = (lane.backoff * 2.0).min(BACKOFF_MAX);
    }

    /// An API server restart: a new watch cache from now on, a new budget, every watch closed.
    fn restart(&mut self, now: f64) {
        self.cache = WatchCache::new(self.cache.latest());
        self.budget = Budget::new(now, 0.0);
        for l in 0..self.lanes.len() {
            if !matches!(self.lanes[l].state, State::Waiting { .. }) {
                self.close(l, now, false);
            }
        }
    }

    /// Lane `l` re-lists: one LIST of what it watches, then a watch from there.
    fn relist(&mut self, l: usize, groups: &[WatcherGroup]) {
        let api = self.api;
        let snapshot = self.cache.latest();
        let lane = &mut self.lanes[l];
        let encoding = groups[lane.group].encoding;
        let bytes = list_len(api, encoding, lane.items, lane.list_proto, lane.list_json);
        lane.stats.relists += 1;
        lane.stats.relist_bytes = lane.stats.relist_bytes.saturating_add(bytes);
        lane.stats.relist_memory_peak = lane.stats.relist_memory_peak.max(lane.store + bytes);
        let b = ((self.now / self.bucket) as usize).min(self.relist_bytes.len().saturating_sub(1));
        if let Some(slot) = self.relist_bytes.get_mut(b) {
            *slot = slot.saturating_add(bytes.saturating_mul(lane.members));
        }
        let covers = std::mem::take(&mut lane.covered);
        lane.push(Job {
            bytes,
            items: lane.items,
            kind: JobKind::List { covers, snapshot },
        });
        lane.replayed = lane.queue.len();
        lane.state = State::Listing;
    }

    /// Max-min fair rates (bytes per ns per member) of the lanes with something to send.
    fn rates(&self) -> Vec<f64> {
        let mut rates = vec![0.0; self.lanes.len()];
        let mut active: Vec<(f64, usize)> = self
            .lanes
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.queue.is_empty())
            .map(|(i, l)| (l.cap(), i))
            .collect();
        if self.rate.is_infinite() {
            for (cap, i) in active {
                rates[i] = cap;
            }
            return rates;
        }
        active.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut left = self.rate;
        let mut members: u64 = active.iter().map(|&(_, i)| self.lanes[i].members).sum();
        for &(cap, i) in &active {
            let share = left / members as f64;
            let r = cap.min(share);
            rates[i] = r;
            let m = self.lanes[i].members;
            left -= r * m as f64;
            members -= m;
        }
        rates
    }

    fn add_busy(&mut self, a: f64, b: f64, share: f64) {
        let mut t = a;
        while t < b {
            let k = (t / self.bucket) as usize;
            if k >= self.busy.len() {
                return;
            }
            let end = ((k + 1) as f64 * self.bucket).min(b);
            self.busy[k] += (end - t) * share;
            t = end;
        }
    }

    /// Sends until `until` (or until every stream is empty and no watcher waits, for
    /// infinity), re-listing the waiting watchers when their backoff ends.
    fn advance(&mut self, until: f64, groups: &[WatcherGroup]) {
        loop {
            let relist_at = self
                .lanes
                .iter()
                .enumerate()
                .filter_map(|(i, l)| match l.state {
                    State::Waiting { until } => Some((until, i)),
                    State::Watching | State::Listing => None,
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let rates = self.rates();
            // The next stream to finish its first job.
            let finish = self
                .lanes
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.queue.is_empty())
                .map(|(i, l)| (l.head / rates[i], i))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let next_finish = finish.map_or(f64::INFINITY, |(dt, _)| self.now + dt);
            let next_relist = relist_at.map_or(f64::INFINITY, |(t, _)| t.max(self.now));
            let step_end = next_finish.min(next_relist);
            if step_end > until || step_end == f64::INFINITY {
                if until.is_finite() {
                    self.send_for(until - self.now, &rates);
                    self.now = until.max(self.now);
                }
                return;
            }
            self.send_for(step_end - self.now, &rates);
            self.now = step_end;
            if next_relist <= next_finish {
                if let Some((_, l)) = relist_at {
                    self.relist(l, groups);
                }
                continue;
            }
            let at = self.now.ceil() as Nanos;
            let done = finish.map(|(_, i)| i);
            for (i, lane) in self.lanes.iter_mut().enumerate() {
                if lane.queue.is_empty() {
                    continue;
                }
                let ended = Some(i) == done || lane.head <= 1e-6 * (1.0 + lane.head.abs());
                if !ended {
                    continue;
                }
                let Some(job) = lane.pop() else {
                    continue;
                };
                match job.kind {
                    JobKind::Event(w) => {
                        lane.received.push((w, at));
                        lane.next = lane.next.max(w + 1);
                    }
                    JobKind::List { covers, snapshot } => {
                        lane.received.extend(covers.into_iter().map(|w| (w, at)));
                        lane.next = lane.next.max(snapshot);
                        lane.state = State::Watching;
                    }
                }
            }
        }
    }

    /// `dt` ns of sending at `rates`.
    fn send_for(&mut self, dt: f64, rates: &[f64]) {
        if dt <= 0.0 {
            return;
        }
        let mut sent = 0.0;
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            if !lane.queue.is_empty() {
                lane.head -= dt * rates[i];
                sent += rates[i] * lane.members as f64;
            }
        }
        if sent > 0.0 && self.rate.is_finite() {
            // Busy for the share of the link the streams used.
            let share = (sent / self.rate).min(1.0);
            self.add_busy(self.now, self.now + dt, share);
        }
    }
}

/// The `apiVersion` and `kind` of an API's objects, and of its lists.
fn type_of(api: Api) -> (&'static str, &'static str, &'static str) {
    match api {
        Api::Endpoints => ("v1", "Endpoints", "EndpointsList"),
        Api::EndpointSlices => ("discovery.k8s.io/v1", "EndpointSlice", "EndpointSliceList"),
    }
}

/// A write's object as an item of a LIST response: (protobuf bytes as a list item, JSON bytes
/// as a list item, protobuf bytes as stored). In protobuf an item is `12 <len> <raw object>`,
/// without the `k8s\0` envelope; in JSON the items of a typed list carry no `apiVersion` and
/// `kind` (`../shared/spec/wire-format.md`).
fn list_item(api: Api, w: &Write) -> (u64, u64, u64) {
    let (version, kind, _) = type_of(api);
    let enveloped = w.sizes.proto;
    let raw = (1..=10)
        .filter_map(|v| {
            let raw = enveloped.checked_sub(enveloped_len(version, kind, 0) - 1 + v)?;
            (enveloped_len(version, kind, raw) == enveloped).then_some(raw)
        })
        .next()
        .unwrap_or(enveloped);
    let type_meta = (r#""apiVersion":"","kind":"","#.len() + version.len() + kind.len()) as u64;
    (
        1 + varint_len(raw) + raw,
        w.sizes.json.saturating_sub(type_meta),
        enveloped,
    )
}

/// Digits of the resourceVersion a LIST carries (taken as 8).
const LIST_RV_DIGITS: u64 = 8;

/// Bytes of a LIST response of `items` objects whose list-item bytes sum to `proto_items`
/// (protobuf) and `json_items` (JSON), in `encoding`: the envelope once, the `ListMeta`
/// (`selfLink`, `resourceVersion`, `continue`) and the items; in JSON
/// `{"kind":..,"apiVersion":..,"metadata":{"resourceVersion":".."},"items":[..]}`.
fn list_len(api: Api, encoding: Encoding, items: u64, proto_items: u64, json_items: u64) -> u64 {
    let (version, _, list_kind) = type_of(api);
    match encoding {
        Encoding::Protobuf => {
            let list_meta = 2 + 2 + (2 + LIST_RV_DIGITS) + 2;
            enveloped_len(version, list_kind, list_meta + proto_items)
        }
        Encoding::Json => {
            let head =
                r#"{"kind":"","apiVersion":"","metadata":{"resourceVersion":""},"items":[]}"#;
            head.len() as u64
                + (list_kind.len() + version.len()) as u64
                + LIST_RV_DIGITS
                + json_items
                + items.saturating_sub(1)
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
        Percentiles::of_sorted(samples)
    }

    /// [`Percentiles::of`] samples already in order.
    fn of_sorted(samples: &[(Nanos, u64)]) -> Percentiles {
        let total: u128 = samples.iter().map(|s| u128::from(s.1)).sum();
        let Some(&(max, _)) = samples.last() else {
            return Percentiles::default();
        };
        if total == 0 {
            return Percentiles::default();
        }
        // The least rank r (1-based) with r >= p% of the total, for p = 50, 90, 99.
        let ranks = [50u128, 90, 99].map(|p| (total * p).div_ceil(100).max(1));
        let mut found = [max; 3];
        let mut next = 0;
        let mut seen = 0u128;
        for &(d, w) in samples {
            seen += u128::from(w);
            while next < 3 && seen >= ranks[next] {
                found[next] = d;
                next += 1;
            }
            if next == 3 {
                break;
            }
        }
        Percentiles {
            p50: found[0],
            p90: found[1],
            p99: found[2],
            max,
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
    // Zero delays (every write, when nothing delays them) are counted, not listed.
    let mut zeros = vec![0u64; buckets];
    for (c, received) in d.cohorts.iter().zip(&d.received) {
        for &(i, at) in received {
            let w = &writes[i as usize];
            let from = w.trigger.unwrap_or(w.time).min(w.time);
            let b = ((w.time / bucket.max(1)) as usize).min(buckets - 1);
            match at.saturating_sub(from) {
                0 => zeros[b] = zeros[b].saturating_add(c.members),
                delay => per_bucket[b].push((delay, c.members)),
            }
        }
    }
    for (samples, zeros) in per_bucket.iter_mut().zip(zeros) {
        if zeros > 0 {
            samples.push((0, zeros));
        }
    }
    let series: Vec<Percentiles> = per_bucket
        .par_iter_mut()
        .map(|s| Percentiles::of(s))
        .collect();
    // The buckets' samples are sorted runs: a stable sort merges them.
    let mut all: Vec<(Nanos, u64)> = per_bucket.into_iter().flatten().collect();
    all.sort();
    (Percentiles::of_sorted(&all), series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Bandwidth, Bytes, Duration};
    use crate::wire::ObjectSizes;

    fn setup(apiserver: Option<&Apiserver>, groups: usize) -> Setup<'_> {
        Setup {
            api: Api::Endpoints,
            apiserver,
            receive: vec![None; groups],
            restarts: Vec::new(),
        }
    }

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
            send_window: Bytes(4 << 20),
        };
        let writes = [write(0, 100_000), write(SECOND / 10, 100_000)];
        let d = deliver(&writes, &[group(4)], &setup(Some(&api), 1), SECOND, 2);
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
            send_window: Bytes(4 << 20),
        };
        let mut big = group(1);
        big.namespace = Some("big".into());
        let mut w_big = write(0, 30_000);
        w_big.namespace = "big".into();
        let mut small = group(1);
        small.namespace = Some("default".into());
        let writes = [write(0, 10_000), w_big];
        let d = deliver(&writes, &[small, big], &setup(Some(&api), 2), SECOND, 1);
        assert_eq!(d.received, [vec![(0, 20_000_000)], vec![(1, 40_000_000)]]);
    }

    #[test]
    fn without_a_limit_watchers_receive_at_the_write_time() {
        let writes = [write(5, 100), write(7, 100)];
        let d = deliver(&writes, &[group(3)], &setup(None, 1), SECOND, 1);
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

    /// By hand, the watch cache (`watch_cache.go`): it starts at 100 events and doubles when
    /// full of events younger than 75 s (at the 101st event, 200); events 76 s apart fill it
    /// without growing it, and then the oldest goes. The channel size is capacity / 75 s,
    /// within 10 and 100.
    #[test]
    fn the_watch_cache_window() {
        let mut c = WatchCache::new(0);
        for i in 0..101 {
            c.add(i, f64::from(i) * 1e6);
        }
        assert_eq!(c.capacity, 200);
        assert!(c.holds(0));
        let s = SECOND as f64;
        let mut c = WatchCache::new(0);
        for i in 0..101 {
            c.add(i, f64::from(i) * 76.0 * s);
        }
        assert_eq!(c.capacity, 100);
        assert!(!c.holds(0), "event 0 was evicted");
        assert!(c.holds(1));
        assert_eq!(c.buffer(), 2 * 10 + 2);
        c.capacity = 102_400;
        assert_eq!(c.buffer(), 2 * 100 + 2, "1,366 clamped to 100");
    }

    /// By hand, the time budget (`time_budget.go`): +50 ms on each whole second since the
    /// start, at most 100 ms; a take empties it; what is given back returns.
    #[test]
    fn the_dispatch_time_budget() {
        let s = SECOND as f64;
        let mut b = Budget::new(0.0, 0.0);
        assert_eq!(b.take(0.5 * s), 0.0);
        assert_eq!(b.take(1.0 * s), 0.05 * s);
        assert_eq!(b.take(5.2 * s), 0.1 * s, "at most 100 ms");
        b.give_back(0.03 * s);
        assert_eq!(b.take(5.3 * s), 0.03 * s);
    }

    /// By hand, the termination rule. One JSON watcher taking 1,000,000 bytes a second, no
    /// send window, 100,000-byte events every millisecond from 0 to 23 ms: each takes 100 ms.
    /// The channels hold 22 events (chanSize 10, the cache holding 100). The 23rd (22 ms)
    /// finds them full: the first event has 78,000 bytes left, 78 ms, within the 100 ms budget:
    /// accepted, 22 ms of budget left. The 24th (23 ms): 77 ms > 22 ms: the watch is closed.
    /// The cache still holds everything after the last event received, so it watches again
    /// and receives all 24 (the first from its start again: at 123 ms, then every 100 ms).
    #[test]
    fn a_watcher_that_cannot_keep_up_is_closed_and_watches_again() {
        let api = Apiserver {
            replicas: 1,
            egress: Bandwidth(100_000_000_000),
            send_window: Bytes(0),
        };
        let mut s = setup(Some(&api), 1);
        s.receive = vec![Some(Receive::Bandwidth(Bandwidth(8_000_000)))];
        let ms = SECOND / 1000;
        let writes: Vec<_> = (0..24).map(|i| write(i * ms, 100_000)).collect();
        let d = deliver(&writes, &[group(1)], &s, SECOND, 1);
        assert_eq!(d.stats[0].terminations, 1);
        assert_eq!(d.stats[0].relists, 0);
        let got: Vec<Nanos> = d.received[0].iter().map(|r| r.1).collect();
        assert_eq!(got.len(), 24);
        assert_eq!(got[0], 123 * ms);
        assert_eq!(got[23], 123 * ms + 23 * 100 * ms);
    }

    /// By hand, a restart: one Endpoints object written at 1 s and 2 s, the API server
    /// restarting at 3 s, another write at 3.5 s. The watcher re-lists after the reflector's
    /// 800 ms backoff (3.8 s): one LIST of one object, which brings the write of 3.5 s. No
    /// egress limit: at once. LIST bytes: the object's raw protobuf (without its 28-byte
    /// envelope for a raw of 128 bytes or more) as an item (1 + varint + raw), the list meta
    /// (16 bytes with an 8-digit resourceVersion), the list's envelope.
    #[test]
    fn a_restart_makes_every_watcher_relist() {
        let mut s = setup(None, 1);
        s.restarts = vec![(3 * SECOND, None)];
        let mut g = group(2);
        g.encoding = Encoding::Protobuf;
        let writes = [
            write(SECOND, 1000),
            write(2 * SECOND, 1000),
            write(3 * SECOND + SECOND / 2, 1000),
        ];
        let d = deliver(&writes, &[g], &s, SECOND, 4);
        assert_eq!(d.stats[0].relists, 1);
        assert_eq!(
            d.stats[0].terminations, 0,
            "a restart is not an unresponsive watcher"
        );
        assert_eq!(
            d.received[0],
            [
                (0, SECOND),
                (1, 2 * SECOND),
                (2, 3 * SECOND + 8 * SECOND / 10)
            ]
        );
        let enveloped = writes[0].sizes.proto;
        let raw = enveloped - 28;
        assert_eq!(enveloped_len("v1", "Endpoints", raw), enveloped);
        let items = 1 + varint_len(raw) + raw;
        assert_eq!(
            d.stats[0].relist_bytes,
            enveloped_len("v1", "EndpointsList", 16 + items)
        );
        assert_eq!(d.total(|s| s.relists), 2, "two watchers");
        assert_eq!(
            d.stats[0].relist_memory_peak,
            enveloped + d.stats[0].relist_bytes
        );
    }

    /// A per-object receive time is a speed limit: 1,000-byte events at 10 ms each.
    #[test]
    fn a_time_per_object_paces_a_watcher() {
        let mut s = setup(None, 1);
        s.receive = vec![Some(Receive::PerObject(Duration(10 * SECOND / 1000)))];
        let writes = [write(0, 1000), write(0, 1000)];
        let d = deliver(&writes, &[group(1)], &s, SECOND, 1);
        assert_eq!(d.received[0], [(0, 10_000_000), (1, 20_000_000)]);
    }

    /// By hand: the JSON list of one Endpoints item of `j` bytes is
    /// `{"kind":"EndpointsList","apiVersion":"v1","metadata":{"resourceVersion":"12345678"},
    /// "items":[` + the item without `"apiVersion":"v1","kind":"Endpoints",` + `]}`.
    #[test]
    fn json_list_bytes() {
        let w = write(0, 1030);
        let (_, item, _) = list_item(Api::Endpoints, &w);
        assert_eq!(
            item,
            1000 - r#""apiVersion":"v1","kind":"Endpoints","#.len() as u64
        );
        let text = format!(
            r#"{{"kind":"EndpointsList","apiVersion":"v1","metadata":{{"resourceVersion":"12345678"}},"items":[{}]}}"#,
            "x".repeat(item as usize)
        );
        assert_eq!(
            list_len(Api::Endpoints, Encoding::Json, 1, 0, item),
            text.len() as u64
        );
    }
}
