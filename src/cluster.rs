//! The cluster model: nodes, pods, Deployments, and the churn that drives them.
//!
//! It plays the scenario's churn once and records the **pod history**: every change of a pod
//! (created, running with IPs, ready, not ready, terminating, failed, deleted) and of a Service
//! (labels, ports), in time order. Both controllers are then fed the very same history, so the
//! two APIs are compared on identical churn.
//!
//! Modelled behaviour (upstream): pods go Pending → Running (IPs assigned from the node's /24
//! and /64) → Ready; deletion sets `deletionTimestamp` (terminating; readiness unchanged) and the
//! pod disappears after its grace period. Deployments keep `replicas` pods alive and roll out
//! with `maxSurge`/`maxUnavailable` (`pkg/controller/deployment/rolling.go`: scale the new
//! ReplicaSet up to `replicas + maxSurge` pods in total, scale old ones down while at least
//! `replicas - maxUnavailable` pods are available). A failed pod is replaced. A zone outage marks
//! its nodes' pods not ready after 40 s (node-monitor-grace-period), evicts them after
//! `eviction_after`, and they go away when the zone comes back.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rand::Rng as _;
use rand::seq::IndexedRandom;
use rand_distr::Distribution as _;

use crate::engine::{self, Nanos, Queue, Rng};
use crate::rank::RankSet;
use crate::scenario::{
    self, Action, Distribution, IpFamily, NodeNaming, SECOND, Scenario, ServicePort,
};

/// The alphabet of generated name suffixes (`apimachinery/pkg/util/rand`, `alphanums`).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Node monitor grace period: how long before an unreachable node's pods are marked not ready.
const NODE_MONITOR_GRACE: Nanos = 40 * SECOND;

pub fn random_suffix(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect()
}

/// A random UUID, version 4, variant 10: `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`, from 16
/// random bytes (the version and variant bits set in place), two hex digits a byte.
pub fn random_uid(rng: &mut Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    s
}

/// A node.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: Arc<str>,
    pub zone: Arc<str>,
    /// `status.allocatable.cpu`, in millicores.
    pub cpu_milli: u64,
}

/// One concrete Service (a scenario entry with `copies: N` gives N of them).
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSpec {
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    pub uid: Arc<str>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
    pub container_ports: BTreeMap<String, i32>,
    pub families: Vec<IpFamily>,
    pub headless: bool,
    pub publish_not_ready_addresses: bool,
    /// Which hints the EndpointSlice controller gives its endpoints.
    pub hints: Hints,
    /// `internalTrafficPolicy: Local`: kube-proxy sends its node's requests to the endpoints
    /// on that node only.
    pub local_traffic: bool,
    /// The Service has a deletionTimestamp (a finalizer still holds it).
    pub deleting: bool,
    /// The Service is gone.
    pub gone: bool,
}

impl ServiceSpec {
    /// kube-proxy may route this Service's requests by Node: node hints, or the `Local`
    /// internal traffic policy.
    pub fn routes_by_node(&self) -> bool {
        self.local_traffic || self.hints == (Hints::Close { same_node: true })
    }
}

/// The hints a Service's slices carry (`reconciler.go`, `reconcileByAddressType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Hints {
    #[default]
    Off,
    /// The topology-mode annotation is `Auto`: proportional zone hints (it wins over
    /// trafficDistribution).
    Auto,
    /// trafficDistribution: each ready endpoint hinted for its own zone, and for its own node
    /// too when `same_node`.
    Close { same_node: bool },
}

impl Hints {
    pub fn of(s: &scenario::Service) -> Hints {
        use scenario::TrafficDistribution as T;
        match s.traffic_distribution {
            _ if s.auto_hints() => Hints::Auto,
            Some(T::PreferClose | T::PreferSameZone) => Hints::Close { same_node: false },
            Some(T::PreferSameNode) => Hints::Close { same_node: true },
            None => Hints::Off,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Running,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Failed => "Failed",
        }
    }
}

/// The state of a pod after a change.
#[derive(Clone, Debug, PartialEq)]
pub struct Pod {
    /// The pod's identity within the run: distinct pods have distinct ids (a pod name reused
    /// in a trace keeps its id). The controllers key their per-pod state by it.
    pub id: u32,
    pub service: u32,
    pub name: Arc<str>,
    pub uid: Arc<str>,
    /// Index of the pod's node in the cluster's node list (`u32::MAX`: a node the cluster
    /// does not know, e.g. from a trace).
    pub node: u32,
    /// `spec.nodeName`.
    pub node_name: Arc<str>,
    pub ipv4: Option<PodIp>,
    pub ipv6: Option<PodIp>,
    pub phase: Phase,
    pub ready: bool,
    pub terminating: bool,
    /// When the Ready condition last changed: the trigger time (`trigger_time_tracker.go`).
    pub ready_changed: Nanos,
    /// The named container ports of the pod's template (named `targetPort`s resolve to these).
    pub container_ports: Arc<BTreeMap<String, i32>>,
}

impl Pod {
    /// The pod's address of `family` as text (shared, not formatted again).
    pub fn ip(&self, family: IpFamily) -> Option<Arc<str>> {
        match family {
            IpFamily::IPv4 => self.ipv4.as_ref().map(|a| a.0.clone()),
            IpFamily::IPv6 => self.ipv6.as_ref().map(|a| a.0.clone()),
        }
    }
}

/// A pod IP as text, formatted once when the pod gets it: both controllers read it as text
/// on every event of the pod, and nothing reads it as a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodIp(pub Arc<str>);

impl From<Ipv4Addr> for PodIp {
    fn from(addr: Ipv4Addr) -> Self {
        let mut s = String::with_capacity(15);
        crate::digits::push_ipv4(&mut s, addr);
        PodIp(s.into())
    }
}

impl From<Ipv6Addr> for PodIp {
    fn from(addr: Ipv6Addr) -> Self {
        PodIp(addr.to_string().into())
    }
}

/// The region in a cloud-style zone name: AWS `us-east-1a` → `us-east-1`, GCP
/// `us-central1-a` → `us-central1`; any other name (`zone-a`) is used whole.
pub fn region_of(zone: &str) -> &str {
    let b = zone.as_bytes();
    match b {
        // <...digit><letter>
        [.., d, l] if d.is_ascii_digit() && l.is_ascii_lowercase() => &zone[..zone.len() - 1],
        // <...digit...>-<letter>
        [rest @ .., b'-', l]
            if l.is_ascii_lowercase() && rest.iter().any(|c| c.is_ascii_digit()) =>
        {
            &zone[..zone.len() - 2]
        }
        _ => zone,
    }
}

/// One recorded change.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A pod's new state; `deleted` when the pod object is gone.
    Pod { pod: Pod, deleted: bool },
    /// A Service's new spec (boxed: rare, and three times the size of a pod change).
    Service { index: u32, spec: Box<ServiceSpec> },
    /// Something happened to a Node.
    Node { index: u32, event: NodeEvent },
}

/// What happens to Nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// Deleted from the cluster.
    Gone,
    /// Its Ready condition changed (the node lifecycle controller marks the Nodes of a zone
    /// outage NotReady after its grace period, and Ready when they are back).
    Ready(bool),
    /// A deleted Node's replacement joined, Ready, with or without its
    /// `topology.kubernetes.io/zone` label yet.
    Joined { zone_label: bool },
    /// It got its zone label.
    ZoneLabelled,
}

/// The recorded history: what both controllers are fed.
#[derive(Clone, Debug)]
pub struct History {
    pub nodes: Vec<Node>,
    /// Services as they are at t = 0.
    pub services: Vec<ServiceSpec>,
    pub events: Vec<(Nanos, Change)>,
}

/// The zones of these Nodes, in the order their first Node comes.
pub fn zone_names(nodes: &[Node]) -> Vec<Arc<str>> {
    let mut zones: Vec<Arc<str>> = Vec::new();
    for n in nodes {
        if !zones.contains(&n.zone) {
            zones.push(n.zone.clone());
        }
    }
    zones
}

/// Builds the nodes and Services of a scenario.
pub fn build_topology(sc: &Scenario, rng: &mut Rng) -> (Vec<Node>, Vec<ServiceSpec>) {
    let mut nodes = Vec::new();
    let mut n = 0u32;
    for z in &sc.file.cluster.zones.value {
        let zone: Arc<str> = z.name.value.as_str().into();
        let region = region_of(&z.name.value);
        for _ in 0..z.nodes {
            let name = match sc.file.cluster.node_naming {
                // Node IPs from 10.0.0.0/16 upward, as on a cloud VPC.
                NodeNaming::Cloud => format!(
                    "ip-10-0-{}-{}.{}.compute.internal",
                    (n + 10) / 250,
                    (n + 10) % 250 + 4,
                    region
                ),
                NodeNaming::Short => format!("node-{n}"),
            };
            nodes.push(Node {
                name: name.into(),
                zone: zone.clone(),
                cpu_milli: (z.cpu * 1000.0).round() as u64,
            });
            n += 1;
        }
    }
    let mut services = Vec::new();
    for s in &sc.file.services {
        for (namespace, name) in s.instances() {
            services.push(ServiceSpec {
                namespace: namespace.into(),
                name: name.into(),
                uid: random_uid(rng).into(),
                labels: s.labels.clone(),
                ports: s.ports.clone(),
                container_ports: s.container_ports.clone(),
                families: s.ip_families.value.clone(),
                headless: s.headless,
                publish_not_ready_addresses: s.publish_not_ready_addresses,
                hints: Hints::of(s),
                local_traffic: s.internal_traffic_policy == scenario::TrafficPolicy::Local,
                deleting: false,
                gone: false,
            });
        }
    }
    (nodes, services)
}

/// Draws a delay from a scenario distribution.
pub fn sample(d: &Distribution, rng: &mut Rng) -> Nanos {
    let ns = match d {
        Distribution::Constant(c) => c.0 as f64,
        Distribution::Uniform { min, max } => {
            let (a, b) = (min.0.min(max.0), min.0.max(max.0));
            if a == b {
                a as f64
            } else {
                rng.random_range(a..=b) as f64
            }
        }
        Distribution::Exponential { mean } => {
            if mean.0 == 0 {
                0.0
            } else {
                rand_distr::Exp::new(1.0 / mean.0 as f64)
                    .map(|e| e.sample(rng))
                    .unwrap_or(0.0)
            }
        }
        Distribution::Lognormal { median, p99 } => {
            // p99 = median * exp(2.326 sigma).
            let mu = (median.0.max(1) as f64).ln();
            let sigma = ((p99.0.max(median.0).max(1) as f64) / median.0.max(1) as f64).ln() / 2.326;
            rand_distr::LogNormal::new(mu, sigma)
                .map(|d| d.sample(rng))
                .unwrap_or(median.0 as f64)
        }
    };
    ns.max(0.0).min(u64::MAX as f64 / 2.0) as Nanos
}

struct NodeRt {
    pods: Vec<u32>,
    schedulable: bool,
    used_v4: [u64; 4],
    cursor: u32,
}

struct Deployment {
    replicas: u32,
    /// `replicas` as the scenario writes it (what a `resize` scales from).
    written: u32,
    hash: String,
    /// The current pod template's named container ports.
    container_ports: Arc<BTreeMap<String, i32>>,
    /// Alive (not terminating, not failed) pods of the current and of older ReplicaSets.
    new: Vec<u32>,
    old: VecDeque<u32>,
    /// How many pods of `new` / `old` are available (running, ready, not terminating).
    avail_new: u32,
    avail_old: u32,
    rollout: Option<(scenario::IntOrPercent, scenario::IntOrPercent)>,
    zone_weights: Vec<f64>,
    zone_counts: Vec<u32>,
    /// Per pod of this Deployment, in creation order (the pod's `slot`): available? Every
    /// pod of `old` was created before every pod of `new` (a rollout moves all of `new` to
    /// `old`), so "the k-th available pod of `new`, then of `old`" is a selection here.
    available: RankSet,
    /// The pod id of each slot.
    slots: Vec<u32>,
}

#[derive(Clone, Copy)]
struct PodRt {
    alive: bool,
    /// In the Deployment's current ReplicaSet (`new`), else in an older one.
    in_new: bool,
    /// The host part of the pod's addresses in its node's /24 and /64, once running.
    host: Option<u32>,
    /// Index in its Deployment's `available` set.
    slot: u32,
    /// Counted as available (alive, running, ready, not terminating) in the rank sets.
    listed: bool,
}

enum Ev {
    Action(usize),
    Running(u32),
    Ready(u32),
    Gone(u32),
    FailureTick(usize),
    FlapTick(usize),
    FlapUp(u32),
    DrainNode(u32),
    OutageNotReady(usize),
    OutageEvict(usize),
    OutageEnd(usize),
    ServiceGone(u32),
    /// The pod garbage collector deletes the pods left on a deleted node.
    PodGc(u32),
    /// A deleted node's replacement joins (with its zone label or not yet).
    NodeJoined(u32, bool),
    /// The replacement gets its zone label.
    NodeLabelled(u32),
    /// The Deployment and ReplicaSet controllers act on a pod that became ready.
    Reconcile(u32),
    /// A `resize` (action index) reaches one Deployment.
    Resize(usize, u32),
}

struct Sim<'a> {
    sc: &'a Scenario,
    rng: Rng,
    q: Queue<Ev>,
    nodes: Vec<NodeRt>,
    node_zone: Vec<usize>,
    zone_nodes: Vec<Vec<u32>>,
    zone_cursor: Vec<usize>,
    node_names: Vec<Arc<str>>,
    services: Vec<ServiceSpec>,
    deployments: Vec<Deployment>,
    pods: Vec<Pod>,
    rt: Vec<PodRt>,
    events: &'a mut dyn Sink,
    outages_active: Vec<bool>,
    /// Names of pods that exist (for generateName collisions).
    names: rustc_hash::FxHashSet<String>,
    /// Per pod id: available? (for failures and flaps of any Service).
    available: RankSet,
    /// The Services of each name, in index order.
    by_name: std::collections::HashMap<Arc<str>, Vec<u32>>,
}

/// The nodes and Services of a scenario, as every run of it builds them (PRNG stream 0).
pub fn topology(sc: &Scenario) -> Topology {
    let mut rng = engine::rng(sc.file.seed, 0);
    let (nodes, services) = build_topology(sc, &mut rng);
    Topology {
        nodes,
        services,
        rng,
    }
}

/// A scenario's nodes and Services, and PRNG stream 0 as building them left it (the
/// Deployments' template hashes follow from it).
pub struct Topology {
    pub nodes: Vec<Node>,
    pub services: Vec<ServiceSpec>,
    rng: Rng,
}

/// Where the churn's events go as they are generated, in time order.
pub trait Sink {
    fn push(&mut self, t: Nanos, change: Change);
}

impl Sink for Vec<(Nanos, Change)> {
    fn push(&mut self, t: Nanos, change: Change) {
        Vec::push(self, (t, change));
    }
}

/// An empty history with room for the pod events the resource guard expects (an estimate:
/// the vector still grows past it), so that a large history is not copied while it grows.
/// Without room (a forced run beyond the machine) it starts empty instead of failing.
fn history_room(sc: &Scenario) -> Vec<(Nanos, Change)> {
    let mut events = Vec::new();
    let _ = events.try_reserve(crate::scenario::estimate(sc).pod_events.min(1e9) as usize);
    events
}

/// Plays the churn of `sc` and records the pod history.
pub fn generate(sc: &Scenario) -> History {
    let topo = topology(sc);
    let mut events = history_room(sc);
    play(sc, &topo, &mut events);
    History {
        nodes: topo.nodes,
        services: topo.services,
        events,
    }
}

/// Plays the churn of `sc` on its topology and pushes its events into `events`, in time
/// order.
pub fn play(sc: &Scenario, topo: &Topology, events: &mut dyn Sink) {
    let (nodes, services) = (&topo.nodes, &topo.services);
    let mut topo_rng = topo.rng.clone();
    let zones: Vec<&str> = sc
        .file
        .cluster
        .zones
        .value
        .iter()
        .map(|z| z.name.value.as_str())
        .collect();
    let mut node_zone = Vec::new();
    let mut zone_nodes = vec![Vec::new(); zones.len()];
    for (i, n) in nodes.iter().enumerate() {
        let z = zones.iter().position(|z| **z == *n.zone).unwrap_or(0);
        node_zone.push(z);
        zone_nodes[z].push(i as u32);
    }
    let mut deployments = Vec::new();
    for s in &sc.file.services {
        for _ in 0..s.count() {
            let weights: Vec<f64> = match &s.zone_weights {
                None => vec![1.0; zones.len()],
                Some(w) => zones
                    .iter()
                    .map(|z| *w.value.get(*z).unwrap_or(&0.0))
                    .collect(),
            };
            deployments.push(Deployment {
                replicas: s.replicas,
                written: s.replicas,
                hash: random_suffix(&mut topo_rng, 10),
                container_ports: Arc::new(s.container_ports.clone()),
                new: Vec::new(),
                old: VecDeque::new(),
                avail_new: 0,
                avail_old: 0,
                rollout: None,
                zone_counts: vec![0; zones.len()],
                zone_weights: weights,
                available: RankSet::new(),
                slots: Vec::new(),
            });
        }
    }
    let mut sim = Sim {
        sc,
        rng: engine::rng(sc.file.seed, 1),
        q: Queue::new(),
        nodes: (0..nodes.len())
            .map(|_| NodeRt {
                pods: Vec::new(),
                schedulable: true,
                used_v4: [0b111, 0, 0, 1 << 63 | 1 << 62],
                cursor: 2,
            })
            .collect(),
        node_zone,
        node_names: nodes.iter().map(|n| n.name.clone()).collect(),
        zone_nodes,
        zone_cursor: vec![0; zones.len()],
        services: services.to_vec(),
        deployments,
        pods: Vec::new(),
        rt: Vec::new(),
        events,
        outages_active: Vec::new(),
        names: rustc_hash::FxHashSet::default(),
        available: RankSet::new(),
        by_name: std::collections::HashMap::new(),
    };
    for (i, s) in services.iter().enumerate() {
        sim.by_name
            .entry(s.name.clone())
            .or_default()
            .push(i as u32);
    }
    // The cluster is in steady state when the simulation starts: every pod already ready.
    for svc in 0..sim.services.len() {
        for _ in 0..sim.deployments[svc].replicas {
            if let Some(p) = sim.create_pod(0, svc as u32) {
                sim.set_running(0, p);
                sim.set_ready(0, p, true);
            }
        }
    }
    if let scenario::Churn::Actions(actions) = &sc.file.churn {
        for (i, a) in actions.iter().enumerate() {
            sim.q.at(a.value.start().0, Ev::Action(i));
            sim.outages_active.push(false);
        }
    }
    let end = sc.file.duration.value.0;
    while let Some(t) = sim.q.peek_time() {
        if t > end {
            break;
        }
        let Some((t, ev)) = sim.q.pop() else { break };
        sim.handle(t, ev);
    }
}

impl Sim<'_> {
    /// Records a pod change for the controllers, and keeps the rank sets of available pods
    /// current: every change of a pod's availability is recorded.
    fn record(&mut self, t: Nanos, pod: u32, deleted: bool) {
        let rt = self.rt[pod as usize];
        let available = rt.alive && self.is_available(pod);
        if available != rt.listed {
            self.rt[pod as usize].listed = available;
            self.available.set(pod as usize, available);
            let svc = self.pods[pod as usize].service as usize;
            self.deployments[svc]
                .available
                .set(rt.slot as usize, available);
        }
        self.events.push(
            t,
            Change::Pod {
                pod: self.pods[pod as usize].clone(),
                deleted,
            },
        );
    }

    /// The Services of that name, in index order.
    fn service_of(&self, name: &str) -> Vec<u32> {
        self.by_name.get(name).cloned().unwrap_or_default()
    }

    fn pick_node(&mut self, svc: u32) -> Option<u32> {
        let d = &self.deployments[svc as usize];
        let max = self.sc.file.cluster.max_pods_per_node.value.0 as usize;
        // The zone furthest below its share, then the next node with room in that zone.
        let mut zones: Vec<usize> = (0..self.zone_nodes.len())
            .filter(|&z| d.zone_weights[z] > 0.0)
            .collect();
        zones.sort_by(|&a, &b| {
            let ra = f64::from(d.zone_counts[a]) / d.zone_weights[a];
            let rb = f64::from(d.zone_counts[b]) / d.zone_weights[b];
            ra.total_cmp(&rb).then(a.cmp(&b))
        });
        for z in zones {
            let n = self.zone_nodes[z].len();
            for k in 0..n {
                let idx = (self.zone_cursor[z] + k) % n;
                let node = self.zone_nodes[z][idx];
                let rt = &self.nodes[node as usize];
                if rt.schedulable && rt.pods.len() < max {
                    self.zone_cursor[z] = idx + 1;
                    return Some(node);
                }
            }
        }
        None
    }

    fn create_pod(&mut self, t: Nanos, svc: u32) -> Option<u32> {
        let node = self.pick_node(svc)?;
        let id = self.pods.len() as u32;
        // generateName: the API server draws another suffix when the name is taken.
        let name = loop {
            let d = &self.deployments[svc as usize];
            let service = &self.services[svc as usize].name;
            let mut name = String::with_capacity(service.len() + d.hash.len() + 7);
            name.push_str(service);
            name.push('-');
            name.push_str(&d.hash);
            name.push('-');
            name.push_str(&random_suffix(&mut self.rng, 5));
            if self.names.insert(name.clone()) {
                break name;
            }
        };
        let zone = self.node_zone[node as usize];
        let container_ports = self.deployments[svc as usize].container_ports.clone();
        self.pods.push(Pod {
            id,
            service: svc,
            name: name.into(),
            uid: random_uid(&mut self.rng).into(),
            node,
            node_name: self.node_names[node as usize].clone(),
            ipv4: None,
            ipv6: None,
            phase: Phase::Pending,
            ready: false,
            terminating: false,
            ready_changed: t,
            container_ports,
        });
        let d = &mut self.deployments[svc as usize];
        let slot = d.available.push(false) as u32;
        d.slots.push(id);
        self.available.push(false);
        self.rt.push(PodRt {
            alive: true,
            in_new: true,
            host: None,
            slot,
            listed: false,
        });
        self.nodes[node as usize].pods.push(id);
        let d = &mut self.deployments[svc as usize];
        d.new.push(id);
        d.zone_counts[zone] += 1;
        self.record(t, id, false);
        if t > 0 {
            let delay = sample(
                &self.sc.file.pods.scheduling_to_running.value,
                &mut self.rng,
            );
            self.q.at(t + delay, Ev::Running(id));
        }
        Some(id)
    }

    fn set_running(&mut self, t: Nanos, id: u32) {
        let p = &self.pods[id as usize];
        if p.phase != Phase::Pending || p.terminating {
            return;
        }
        let node = p.node as usize;
        let svc = &self.services[p.service as usize];
        let (want_v4, want_v6) = (
            svc.families.contains(&IpFamily::IPv4),
            svc.families.contains(&IpFamily::IPv6),
        );
        // host-local IPAM: the next free address of the node's /24, the same host part in its /64.
        let rt = &mut self.nodes[node];
        let mut host = rt.cursor;
        for _ in 0..256 {
            if rt.used_v4[(host / 64) as usize] & (1 << (host % 64)) == 0 {
                break;
            }
            host = (host + 1) % 256;
        }
        rt.used_v4[(host / 64) as usize] |= 1 << (host % 64);
        rt.cursor = (host + 1) % 256;
        self.rt[id as usize].host = Some(host);
        let (v4, _) = self.sc.pod_cidr_v4;
        let (v6, _) = self.sc.pod_cidr_v6;
        let ipv4 = Ipv4Addr::from(u32::from(v4) + (node as u32) * 256 + host);
        let ipv6 = Ipv6Addr::from(u128::from(v6) + ((node as u128) << 64) + u128::from(host));
        let p = &mut self.pods[id as usize];
        p.phase = Phase::Running;
        p.ipv4 = want_v4.then(|| ipv4.into());
        p.ipv6 = want_v6.then(|| ipv6.into());
        self.record(t, id, false);
        if t > 0 {
            let delay = sample(&self.sc.file.pods.running_to_ready.value, &mut self.rng);
            self.q.at(t + delay, Ev::Ready(id));
        }
    }

    fn set_ready(&mut self, t: Nanos, id: u32, ready: bool) {
        let p = &mut self.pods[id as usize];
        if p.phase != Phase::Running || p.ready == ready {
            return;
        }
        p.ready = ready;
        p.ready_changed = t;
        let (svc, terminating) = (p.service, p.terminating);
        let rt = self.rt[id as usize];
        if rt.alive && !terminating {
            let d = &mut self.deployments[svc as usize];
            let counter = if rt.in_new {
                &mut d.avail_new
            } else {
                &mut d.avail_old
            };
            if ready {
                *counter += 1;
            } else {
                *counter -= 1;
            }
        }
        self.record(t, id, false);
    }

    fn release_ip(&mut self, id: u32) {
        if let Some(host) = self.rt[id as usize].host.take() {
            let rt = &mut self.nodes[self.pods[id as usize].node as usize];
            rt.used_v4[(host / 64) as usize] &= !(1 << (host % 64));
        }
    }

    /// Takes a pod out of its Deployment's alive set (it is terminating or failed).
    fn retire(&mut self, id: u32) {
        let rt = &mut self.rt[id as usize];
        if !rt.alive {
            return;
        }
        rt.alive = false;
        let in_new = rt.in_new;
        let available = self.is_available(id);
        let p = &self.pods[id as usize];
        let zone = self.node_zone[p.node as usize];
        let d = &mut self.deployments[p.service as usize];
        if in_new {
            if let Some(i) = d.new.iter().position(|&x| x == id) {
                d.new.remove(i);
            }
            d.avail_new -= u32::from(available);
        } else {
            if let Some(i) = d.old.iter().position(|&x| x == id) {
                d.old.remove(i);
            }
            d.avail_old -= u32::from(available);
        }
        d.zone_counts[zone] = d.zone_counts[zone].saturating_sub(1);
    }

    /// Starts graceful deletion: deletionTimestamp set, gone after the grace period.
    fn delete_pod(&mut self, t: Nanos, id: u32, until_gone: Option<Nanos>) {
        if self.pods[id as usize].terminating {
            return;
        }
        self.retire(id);
        self.pods[id as usize].terminating = true;
        self.record(t, id, false);
        match until_gone {
            Some(gone) => self.q.at(gone, Ev::Gone(id)),
            None => {
                let grace = sample(&self.sc.file.pods.termination_grace.value, &mut self.rng);
                self.q.at(t + grace, Ev::Gone(id));
            }
        }
    }

    fn gone(&mut self, t: Nanos, id: u32) {
        self.names.remove(&*self.pods[id as usize].name);
        let node = self.pods[id as usize].node as usize;
        if let Some(i) = self.nodes[node].pods.iter().position(|&x| x == id) {
            self.nodes[node].pods.swap_remove(i);
        }
        self.release_ip(id);
        self.record(t, id, true);
    }

    fn is_available(&self, id: u32) -> bool {
        let p = &self.pods[id as usize];
        p.ready && !p.terminating && p.phase == Phase::Running
    }

    /// The Deployment controller's reconcile for one Service.
    /// A pod of `svc` became ready: the Deployment controller sees the new available replica
    /// through its informers and the ReplicaSet status, and acts (scales the old ReplicaSet
    /// down, which deletes a pod) `reaction_delay` later. Without the delay, the new pod's
    /// readiness and the old pod's termination would reach the endpoint controllers at the
    /// same instant and merge into one write, which real clusters do not do.
    fn react(&mut self, t: Nanos, svc: u32) {
        let delay = self.sc.file.controllers.deployment.reaction_delay.0;
        self.q.at(t + delay, Ev::Reconcile(svc));
    }

    fn reconcile(&mut self, t: Nanos, svc: u32) {
        let s = svc as usize;
        let r = self.deployments[s].replicas;
        let Some((surge, unavail)) = self.deployments[s].rollout else {
            // Steady state: scale the current ReplicaSet to `replicas`.
            while (self.deployments[s].new.len() as u32) < r {
                if self.create_pod(t, svc).is_none() {
                    break;
                }
            }
            while self.deployments[s].new.len() as u32 > r {
                // ReplicaSet scale-down prefers not-ready pods, then the newest.
                let d = &self.deployments[s];
                let victim = (d.new.len() as u32 > d.avail_new)
                    .then(|| d.new.iter().rev().copied().find(|&p| !self.is_available(p)))
                    .flatten()
                    .or_else(|| d.new.last().copied());
                let Some(v) = victim else { break };
                self.delete_pod(t, v, None);
            }
            return;
        };
        let surge = surge.resolve(r, true);
        let unavail = unavail.resolve(r, false);
        let (surge, unavail) = if surge == 0 && unavail == 0 {
            (1, 0)
        } else {
            (surge, unavail)
        };
        // The Deployment controller syncs again whenever its ReplicaSets change, so scaling up
        // and down alternate until neither can move.
        let min_available = r.saturating_sub(unavail);
        loop {
            let mut moved = false;
            // Scale up the new ReplicaSet within replicas + maxSurge pods.
            loop {
                let d = &self.deployments[s];
                let total = (d.new.len() + d.old.len()) as u32;
                if d.new.len() as u32 >= r || total >= r + surge {
                    break;
                }
                if self.create_pod(t, svc).is_none() {
                    break;
                }
                moved = true;
            }
            // Scale down old pods: unavailable ones freely, available ones while enough remain.
            loop {
                let d = &self.deployments[s];
                let available = d.avail_new + d.avail_old;
                let victim = (d.old.len() as u32 > d.avail_old)
                    .then(|| d.old.iter().copied().find(|&p| !self.is_available(p)))
                    .flatten()
                    .or_else(|| {
                        (available > min_available)
                            .then(|| d.old.front().copied())
                            .flatten()
                    });
                match victim {
                    Some(v) => {
                        self.delete_pod(t, v, None);
                        moved = true;
                    }
                    None => break,
                }
            }
            if !moved {
                break;
            }
        }
        let d = &mut self.deployments[s];
        if d.old.is_empty() && d.new.len() as u32 >= r {
            d.rollout = None;
        }
    }

    fn handle(&mut self, t: Nanos, ev: Ev) {
        match ev {
            Ev::Action(i) => self.action(t, i),
            Ev::Running(id) => {
                self.set_running(t, id);
            }
            Ev::Ready(id) => {
                if self.rt[id as usize].alive && !self.pods[id as usize].terminating {
                    self.set_ready(t, id, true);
                    self.react(t, self.pods[id as usize].service);
                }
            }
            Ev::Reconcile(svc) => self.reconcile(t, svc),
            Ev::Resize(i, svc) => self.resize(t, i, svc),
            Ev::Gone(id) => self.gone(t, id),
            Ev::PodGc(node) => {
                let mut services = Vec::new();
                for p in self.nodes[node as usize].pods.clone() {
                    services.push(self.pods[p as usize].service);
                    // Force deletion: the object goes at once, no graceful termination.
                    self.retire(p);
                    self.gone(t, p);
                }
                services.sort_unstable();
                services.dedup();
                for s in services {
                    self.reconcile(t, s);
                }
            }
            Ev::NodeJoined(node, zone_label) => {
                self.nodes[node as usize].schedulable = true;
                self.node_event(t, node, NodeEvent::Joined { zone_label });
                // The pods the cluster had no room for are scheduled on it.
                for s in 0..self.services.len() as u32 {
                    self.reconcile(t, s);
                }
            }
            Ev::NodeLabelled(node) => self.node_event(t, node, NodeEvent::ZoneLabelled),
            Ev::ServiceGone(s) => {
                let spec = &mut self.services[s as usize];
                spec.gone = true;
                let spec = spec.clone();
                self.events.push(
                    t,
                    Change::Service {
                        index: s,
                        spec: Box::new(spec),
                    },
                );
            }
            Ev::FailureTick(i) => self.failure_tick(t, i),
            Ev::FlapTick(i) => self.flap_tick(t, i),
            Ev::FlapUp(id) => {
                if self.rt[id as usize].alive && !self.pods[id as usize].terminating {
                    self.set_ready(t, id, true);
                    self.react(t, self.pods[id as usize].service);
                }
            }
            Ev::DrainNode(node) => {
                self.nodes[node as usize].schedulable = false;
                let pods: Vec<u32> = self.nodes[node as usize].pods.clone();
                let mut services = Vec::new();
                for p in pods {
                    if self.rt[p as usize].alive {
                        services.push(self.pods[p as usize].service);
                        self.delete_pod(t, p, None);
                    }
                }
                services.sort_unstable();
                services.dedup();
                for s in services {
                    self.reconcile(t, s);
                }
            }
            Ev::OutageNotReady(i) => {
                self.outage_nodes_ready(t, i, false);
                self.outage_pods(t, i, |sim, t, p| sim.set_ready(t, p, false));
            }
            Ev::OutageEvict(i) => {
                if self.outages_active[i] {
                    let end = self.outage(i).map_or(t, |z| z.at.0 + z.duration.0);
                    self.outage_pods(t, i, |sim, t, p| {
                        if sim.rt[p as usize].alive {
                            // An unreachable kubelet cannot finish the deletion: the pod stays
                            // terminating until the zone is back.
                            sim.delete_pod(t, p, Some(end.max(t)));
                        }
                    });
                }
            }
            Ev::OutageEnd(i) => {
                self.outages_active[i] = false;
                let zone = self.outage_zone(i);
                for &n in &self.zone_nodes[zone].clone() {
                    self.nodes[n as usize].schedulable = true;
                }
                // Marked NotReady only when the outage outlasted the grace period.
                if self
                    .outage(i)
                    .is_some_and(|z| NODE_MONITOR_GRACE < z.duration.0)
                {
                    self.outage_nodes_ready(t, i, true);
                }
                self.outage_pods(t, i, |sim, t, p| {
                    if sim.rt[p as usize].alive {
                        sim.set_ready(t, p, true);
                    }
                });
            }
        }
    }

    fn node_event(&mut self, t: Nanos, index: u32, event: NodeEvent) {
        self.events.push(t, Change::Node { index, event });
    }

    /// The Nodes of outage `i`'s zone turn NotReady or Ready.
    fn outage_nodes_ready(&mut self, t: Nanos, i: usize, ready: bool) {
        let zone = self.outage_zone(i);
        for index in self.zone_nodes[zone].clone() {
            self.node_event(t, index, NodeEvent::Ready(ready));
        }
    }

    fn outage(&self, i: usize) -> Option<&scenario::ZoneOutage> {
        match &self.sc.file.churn {
            scenario::Churn::Actions(a) => match a.get(i).map(|a| &a.value) {
                Some(Action::ZoneOutage(z)) => Some(z),
                _ => None,
            },
            _ => None,
        }
    }

    fn outage_zone(&self, i: usize) -> usize {
        let name = self
            .outage(i)
            .map(|z| z.zone.value.clone())
            .unwrap_or_default();
        self.sc
            .file
            .cluster
            .zones
            .value
            .iter()
            .position(|z| z.name.value == name)
            .unwrap_or(0)
    }

    /// Applies `f` to every pod on the outage zone's nodes, then reconciles their Services.
    fn outage_pods(&mut self, t: Nanos, i: usize, f: impl Fn(&mut Self, Nanos, u32)) {
        let zone = self.outage_zone(i);
        let mut services = Vec::new();
        for n in self.zone_nodes[zone].clone() {
            for p in self.nodes[n as usize].pods.clone() {
                services.push(self.pods[p as usize].service);
                f(self, t, p);
            }
        }
        services.sort_unstable();
        services.dedup();
        for s in services {
            self.reconcile(t, s);
        }
    }

    /// Starts a rolling update of a Deployment: a new pod template (ReplicaSet hash), its
    /// pods so far moved to the old ReplicaSets.
    fn start_rollout(
        &mut self,
        s: u32,
        limits: (scenario::IntOrPercent, scenario::IntOrPercent),
        container_ports: &Option<BTreeMap<String, i32>>,
    ) {
        let d = &mut self.deployments[s as usize];
        let old: Vec<u32> = d.new.drain(..).collect();
        for &p in &old {
            self.rt[p as usize].in_new = false;
        }
        d.avail_old += std::mem::take(&mut d.avail_new);
        d.old.extend(old);
        d.hash = random_suffix(&mut self.rng, 10);
        if let Some(ports) = container_ports {
            d.container_ports = Arc::new(ports.clone());
        }
        d.rollout = Some(limits);
    }

    /// One Deployment's turn in a `resize` (action `i`): a new size drawn from its written
    /// size, and a rollout if asked.
    fn resize(&mut self, t: Nanos, i: usize, s: u32) {
        let scenario::Churn::Actions(actions) = &self.sc.file.churn else {
            return;
        };
        let Some(Action::Resize(r)) = actions.get(i).map(|a| &a.value) else {
            return;
        };
        // A Service deleted before its turn stays deleted: its Deployment went with it.
        let spec = &self.services[s as usize];
        if spec.deleting || spec.gone {
            return;
        }
        // clusterloader2's MultiplyInt truncates; RandIntRange includes both ends.
        let x = f64::from(self.deployments[s as usize].written);
        let lo = (x * r.min_factor.value).floor() as u32;
        let hi = ((x * r.max_factor.value).floor() as u32).max(lo);
        let rollout = r.rollout;
        let size = self.rng.random_range(lo..=hi);
        self.deployments[s as usize].replicas = size;
        if rollout {
            let quarter = scenario::IntOrPercent::Percent(25);
            self.start_rollout(s, (quarter, quarter), &None);
        }
        self.reconcile(t, s);
    }

    fn action(&mut self, t: Nanos, i: usize) {
        let scenario::Churn::Actions(actions) = &self.sc.file.churn else {
            return;
        };
        let Some(a) = actions.get(i).map(|a| a.value.clone()) else {
            return;
        };
        match a {
            Action::Rollout(r) => {
                for s in self.service_of(&r.service.value) {
                    self.start_rollout(s, (r.max_surge, r.max_unavailable), &r.container_ports);
                    self.reconcile(t, s);
                }
            }
            Action::Resize(r) => {
                let targets: Vec<u32> = match &r.service {
                    Some(name) => self.service_of(&name.value),
                    None => (0..self.services.len() as u32).collect(),
                };
                for s in targets {
                    let at = t + self.rng.random_range(0..r.over.0.max(1));
                    self.q.at(at, Ev::Resize(i, s));
                }
            }
            Action::Scale(sc) => {
                for s in self.service_of(&sc.service.value) {
                    self.deployments[s as usize].replicas = sc.replicas;
                    self.reconcile(t, s);
                }
            }
            Action::NodeDelete(del) => {
                let targets = self.choose_nodes(del.count, &del.nodes);
                for node in targets {
                    self.nodes[node as usize].schedulable = false;
                    self.node_event(t, node, NodeEvent::Gone);
                    self.q.at(t + del.pod_gc_after.0, Ev::PodGc(node));
                    if let Some(after) = del.replace_after {
                        let zone_label = del.zone_label_after.0 == 0;
                        self.q.at(t + after.0, Ev::NodeJoined(node, zone_label));
                        if !zone_label {
                            let labelled = t + after.0 + del.zone_label_after.0;
                            self.q.at(labelled, Ev::NodeLabelled(node));
                        }
                    }
                }
            }
            // The API servers' business: no pod changes.
            Action::ApiserverRestart(_) => {}
            Action::ServiceDelete(del) => {
                // The application goes with its Service: the Deployment scales to zero.
                for s in self.service_of(&del.service.value) {
                    let d = &mut self.deployments[s as usize];
                    d.replicas = 0;
                    d.rollout = None;
                    let old: Vec<u32> = d.old.drain(..).collect();
                    d.avail_new += std::mem::take(&mut d.avail_old);
                    for &p in &old {
                        self.rt[p as usize].in_new = true;
                    }
                    self.deployments[s as usize].new.extend(old);
                    self.reconcile(t, s);
                    let spec = &mut self.services[s as usize];
                    spec.deleting = true;
                    let spec = spec.clone();
                    self.events.push(
                        t,
                        Change::Service {
                            index: s,
                            spec: Box::new(spec),
                        },
                    );
                    self.q.at(t + del.finalizer_for.0, Ev::ServiceGone(s));
                }
            }
            Action::ServiceUpdate(u) => {
                for s in self.service_of(&u.service.value) {
                    let spec = &mut self.services[s as usize];
                    if let Some(l) = &u.labels {
                        spec.labels = l.clone();
                    }
                    if let Some(p) = &u.ports {
                        spec.ports = p.clone();
                    }
                    let spec = spec.clone();
                    self.events.push(
                        t,
                        Change::Service {
                            index: s,
                            spec: Box::new(spec),
                        },
                    );
                }
            }
            Action::PodFailures(f) => self.schedule_tick(t, f.per_hour.value, i, Ev::FailureTick),
            Action::ReadinessFlaps(f) => self.schedule_tick(t, f.per_hour.value, i, Ev::FlapTick),
            Action::NodeDrain(d) => {
                let mut targets = self.choose_nodes(d.count, &d.nodes);
                targets.dedup();
                for (k, node) in targets.into_iter().enumerate() {
                    self.q.at(t + d.interval.0 * k as u64, Ev::DrainNode(node));
                }
            }
            Action::ZoneOutage(z) => {
                let zone = self.outage_zone(i);
                for &n in &self.zone_nodes[zone].clone() {
                    self.nodes[n as usize].schedulable = false;
                }
                self.outages_active[i] = true;
                let end = t + z.duration.0;
                if NODE_MONITOR_GRACE < z.duration.0 {
                    self.q.at(t + NODE_MONITOR_GRACE, Ev::OutageNotReady(i));
                }
                if z.eviction_after.0 < z.duration.0 {
                    self.q.at(t + z.eviction_after.0, Ev::OutageEvict(i));
                }
                self.q.at(end, Ev::OutageEnd(i));
            }
        }
    }

    /// `count` random nodes (in index order), or the named ones.
    fn choose_nodes(
        &mut self,
        count: Option<u32>,
        names: &[serde_saphyr::Spanned<String>],
    ) -> Vec<u32> {
        if names.is_empty() {
            let all: Vec<u32> = (0..self.nodes.len() as u32).collect();
            let n = count.unwrap_or(0) as usize;
            let mut chosen: Vec<u32> = all.choose_multiple(&mut self.rng, n).copied().collect();
            chosen.sort_unstable();
            chosen
        } else {
            names
                .iter()
                .filter_map(|n| self.node_index(&n.value))
                .collect()
        }
    }

    fn node_index(&self, name: &str) -> Option<u32> {
        self.node_names
            .iter()
            .position(|n| &**n == name)
            .map(|i| i as u32)
    }

    fn schedule_tick(&mut self, t: Nanos, per_hour: f64, i: usize, ev: fn(usize) -> Ev) {
        if per_hour <= 0.0 {
            return;
        }
        let mean = 3600e9 / per_hour;
        let dt = rand_distr::Exp::new(1.0 / mean)
            .map(|e| e.sample(&mut self.rng))
            .unwrap_or(mean);
        self.q.at(t + dt as Nanos, ev(i));
    }

    fn window(&self, i: usize) -> Option<(Option<String>, f64, Nanos, Nanos)> {
        let scenario::Churn::Actions(actions) = &self.sc.file.churn else {
            return None;
        };
        let end = self.sc.file.duration.value.0;
        match &actions.get(i)?.value {
            Action::PodFailures(f) => Some((
                f.service.as_ref().map(|s| s.value.clone()),
                f.per_hour.value,
                0,
                f.until.map_or(end, |u| u.0),
            )),
            Action::ReadinessFlaps(f) => Some((
                f.service.as_ref().map(|s| s.value.clone()),
                f.per_hour.value,
                f.down.0,
                f.until.map_or(end, |u| u.0),
            )),
            _ => None,
        }
    }

    /// A uniformly random available pod of the named Service (or of any Service): of the
    /// available pods in id order (any Service), or of each Service of that name in turn its
    /// current ReplicaSet's then its older ones' (creation order within each), one index
    /// drawn over all of them. O(log pods) per draw, through the rank sets.
    fn random_available_pod(&mut self, service: &Option<String>) -> Option<u32> {
        let Some(name) = service else {
            let n = self.available.count() as usize;
            if n == 0 {
                return None;
            }
            let k = self.rng.random_range(..n) as u32;
            let pick = self.available.select(k).map(|p| p as u32);
            #[cfg(test)]
            assert_eq!(pick, self.scan_available(service).get(k as usize).copied());
            return pick;
        };
        let services = self.by_name.get(name.as_str())?;
        let n: u32 = services
            .iter()
            .map(|&s| self.deployments[s as usize].available.count())
            .sum();
        if n == 0 {
            return None;
        }
        let mut k = self.rng.random_range(..n as usize) as u32;
        for &s in services {
            let d = &self.deployments[s as usize];
            debug_assert_eq!(d.available.count(), d.avail_new + d.avail_old);
            if k >= d.available.count() {
                k -= d.available.count();
                continue;
            }
            // `new` holds the newest slots: its k-th comes after all of `old`'s.
            let rank = if k < d.avail_new {
                d.avail_old + k
            } else {
                k - d.avail_new
            };
            let pick = d.available.select(rank).map(|slot| d.slots[slot]);
            #[cfg(test)]
            {
                let before: u32 = services
                    .iter()
                    .take_while(|&&x| x != s)
                    .map(|&x| self.deployments[x as usize].available.count())
                    .sum();
                let scan = self.scan_available(service);
                assert_eq!(pick, scan.get((before + k) as usize).copied());
            }
            return pick;
        }
        None
    }

    /// Tests: the candidates of [`Self::random_available_pod`] in their order, by a scan.
    #[cfg(test)]
    fn scan_available(&self, service: &Option<String>) -> Vec<u32> {
        let candidates: Vec<u32> = match service {
            // By a scan of the Services, independent of `by_name`.
            Some(name) => (0..self.services.len() as u32)
                .filter(|&i| &*self.services[i as usize].name == name.as_str())
                .flat_map(|s| {
                    let d = &self.deployments[s as usize];
                    d.new
                        .iter()
                        .chain(d.old.iter())
                        .copied()
                        .collect::<Vec<_>>()
                })
                .collect(),
            None => (0..self.pods.len() as u32)
                .filter(|&p| self.rt[p as usize].alive)
                .collect(),
        };
        candidates
            .into_iter()
            .filter(|&p| self.is_available(p))
            .collect()
    }

    fn failure_tick(&mut self, t: Nanos, i: usize) {
        let Some((service, rate, _, until)) = self.window(i) else {
            return;
        };
        if t > until {
            return;
        }
        if let Some(p) = self.random_available_pod(&service) {
            // The container fails for good: the pod is Failed (terminal, out of the
            // endpoints), its IP is released, and the ReplicaSet replaces it.
            self.retire(p);
            let pod = &mut self.pods[p as usize];
            pod.phase = Phase::Failed;
            pod.ready = false;
            pod.ready_changed = t;
            self.record(t, p, false);
            self.release_ip(p);
            let svc = self.pods[p as usize].service;
            self.reconcile(t, svc);
            self.q.at(t + SECOND, Ev::Gone(p));
        }
        self.schedule_tick(t, rate, i, Ev::FailureTick);
    }

    fn flap_tick(&mut self, t: Nanos, i: usize) {
        let Some((service, rate, down, until)) = self.window(i) else {
            return;
        };
        if t > until {
            return;
        }
        if let Some(p) = self.random_available_pod(&service) {
            self.set_ready(t, p, false);
            self.q.at(t + down, Ev::FlapUp(p));
        }
        self.schedule_tick(t, rate, i, Ev::FlapTick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_only_from_cloud_style_zone_names() {
        for (zone, region) in [
            ("us-east-1a", "us-east-1"),
            ("eu-west-3c", "eu-west-3"),
            ("us-central1-a", "us-central1"),
            ("europe-west4-b", "europe-west4"),
            ("zone-a", "zone-a"),
            ("a", "a"),
            ("rack1", "rack1"),
            ("", ""),
        ] {
            assert_eq!(region_of(zone), region, "{zone}");
        }
    }

    /// A UID is the standard text of a version-4 UUID made of the same 16 random bytes.
    #[test]
    fn uids_are_version_4_uuids_of_the_drawn_bytes() {
        for seed in 0..200 {
            let mut rng = crate::engine::rng(seed, 0);
            let mut same = rng.clone();
            let uid = random_uid(&mut rng);
            let b: [u8; 16] = same.random();
            let n = u128::from_be_bytes(b);
            let v4 = (n & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
            let hex = format!("{v4:032x}");
            let want = format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            );
            assert_eq!(uid, want);
            assert_eq!(&uid[14..15], "4");
            assert!(matches!(&uid[19..20], "8" | "9" | "a" | "b"));
        }
    }

    /// During a rollout the old pod is deleted `reaction_delay` after the new one is ready
    /// (100 ms by default), so the two reach the endpoint controllers as separate changes.
    #[test]
    fn old_pods_go_a_reaction_delay_after_new_ones_are_ready() {
        for (setting, delay) in [
            ("", 100_000_000),
            ("  deployment: {reaction_delay: 2s}\n", 2 * SECOND),
        ] {
            let text = format!(
                "duration: 5m\ncluster:\n  zones:\n    - {{name: a, nodes: 3}}\nservices:\n  - name: web\n    replicas: 1\nchurn:\n  - rollout: {{service: web, at: 30s, max_surge: 1, max_unavailable: 0}}\ncontrollers:\n{setting}  endpoints: {{}}\n"
            );
            let sc = Scenario::parse("t.yaml", "t", &text).unwrap();
            let h = generate(&sc);
            let pod_events = || {
                h.events.iter().filter_map(|(t, c)| match c {
                    Change::Pod { pod, .. } => Some((*t, pod)),
                    _ => None,
                })
            };
            let ready = pod_events()
                .find(|(t, p)| *t > 30 * SECOND && p.ready)
                .map(|(t, _)| t)
                .unwrap();
            let terminating = pod_events()
                .find(|(_, p)| p.terminating)
                .map(|(t, _)| t)
                .unwrap();
            assert_eq!(terminating - ready, delay);
        }
    }

    /// The controllers read a generated history while it is generated, so it must come in
    /// time order: every kind of churn at once, with delays of every kind in flight.
    #[test]
    fn generated_events_come_in_time_order() {
        let text = "duration: 20m\ncluster:\n  zones:\n    - {name: a, nodes: 20}\n    - {name: b, nodes: 10}\nservices:\n  - {name: web, replicas: 60}\n  - {name: api, replicas: 20}\n  - {name: pub, replicas: 40}\nchurn:\n  - readiness_flaps: {per_hour: 3000, down: 30s}\n  - pod_failures: {per_hour: 600}\n  - rollout: {service: web, at: 1m}\n  - scale: {service: web, at: 4m, replicas: 30}\n  - node_drain: {at: 2m, count: 3, interval: 20s}\n  - node_delete: {at: 6m, count: 2}\n  - zone_outage: {zone: b, at: 7m, duration: 3m, eviction_after: 1m}\n  - service_update: {service: api, at: 3m, labels: {app: api, v: \"2\"}}\n  - service_update: {service: web, at: 8m, ports: [{name: http, protocol: TCP, port: 80, target_port: 8081}]}\n  - service_delete: {service: pub, at: 9m}\n";
        let sc = Scenario::parse("t.yaml", "t", text).unwrap();
        let h = generate(&sc);
        assert!(h.events.len() > 1000, "{} events", h.events.len());
        let kinds = |f: fn(&Change) -> bool| h.events.iter().filter(|(_, c)| f(c)).count();
        assert!(
            kinds(|c| matches!(
                c,
                Change::Node {
                    event: NodeEvent::Gone,
                    ..
                }
            )) == 2
        );
        assert!(kinds(|c| matches!(c, Change::Service { .. })) >= 3);
        assert!(h.events.is_sorted_by_key(|(t, _)| *t));
    }

    /// Failures and flaps draw their pod through the rank sets; every draw is checked against
    /// a scan of the candidates (inside `random_available_pod` in tests), through rollouts
    /// (pods moving from the current ReplicaSet to the old ones), scaling, two Services of one
    /// name, a Service deletion and draws over the whole cluster.
    #[test]
    fn random_pods_are_drawn_as_a_scan_would() {
        let text = "duration: 12m\ncluster:\n  zones:\n    - {name: a, nodes: 20}\n    - {name: b, nodes: 10}\nservices:\n  - {name: web, replicas: 60}\n  - {name: web, namespace: other, replicas: 20}\n  - {name: pub, replicas: 40}\nchurn:\n  - readiness_flaps: {service: web, per_hour: 3000, down: 30s}\n  - pod_failures: {service: web, per_hour: 600}\n  - pod_failures: {per_hour: 600}\n  - readiness_flaps: {per_hour: 1200, down: 10s}\n  - rollout: {service: web, at: 1m}\n  - scale: {service: web, at: 4m, replicas: 30}\n  - rollout: {service: web, at: 5m, max_surge: 2, max_unavailable: 0}\n  - rollout: {service: web, at: 5m30s}\n  - rollout: {service: pub, at: 6m}\n  - service_delete: {service: pub, at: 9m}\n";
        let sc = Scenario::parse("t.yaml", "t", text).unwrap();
        let h = generate(&sc);
        let failed = h
            .events
            .iter()
            .filter(|(_, c)| matches!(c, Change::Pod { pod, .. } if pod.phase == Phase::Failed))
            .count();
        assert!(failed > 100, "{failed} failures drawn");
    }

    /// A rollout replaces every pod, and never has fewer than `replicas - maxUnavailable`
    /// available pods (here 3 - 0) nor more than `replicas + maxSurge` pods (3 + 1).
    #[test]
    fn a_rollout_completes_within_its_bounds() {
        let text = "duration: 5m\ncluster:\n  zones:\n    - {name: a, nodes: 3}\nservices:\n  - name: web\n    replicas: 3\nchurn:\n  - rollout: {service: web, at: 30s, max_surge: 1, max_unavailable: 0}\n";
        let sc = Scenario::parse("t.yaml", "t", text).unwrap();
        let h = generate(&sc);
        let mut pods: BTreeMap<Arc<str>, Pod> = BTreeMap::new();
        let (mut max_total, mut min_available) = (0, usize::MAX);
        for (t, c) in &h.events {
            if let Change::Pod { pod, deleted } = c {
                if *deleted {
                    pods.remove(&pod.name);
                } else {
                    pods.insert(pod.name.clone(), pod.clone());
                }
                if *t >= 30 * SECOND {
                    let alive = pods.values().filter(|p| !p.terminating).count();
                    let available = pods.values().filter(|p| p.ready && !p.terminating).count();
                    max_total = max_total.max(alive);
                    min_available = min_available.min(available);
                }
            }
        }
        let old_hash = h.events[0].1.clone();
        let Change::Pod { pod: first, .. } = old_hash else {
            panic!()
        };
        assert_eq!(pods.len(), 3);
        assert!(
            pods.values()
                .all(|p| p.ready && p.name[..15] != first.name[..15])
        );
        assert_eq!(max_total, 4);
        assert_eq!(min_available, 3);
    }

    /// A `resize` gives each Deployment, at its own moment of the window, a size drawn from
    /// [⌊X/2⌋, ⌊3X/2⌋] of its written size X (clusterloader2's RandIntRange of MultiplyInt),
    /// and with `rollout` replaces its pods.
    #[test]
    fn a_resize_draws_each_size_and_moment_within_its_bounds() {
        let text = "duration: 30m\ncluster:\n  zones:\n    - {name: a, nodes: 40}\nservices:\n  - {name: s, replicas: 5, copies: 40}\n  - {name: b, replicas: 250}\nchurn:\n  - resize: {from: 1m, over: 10m, rollout: true}\n";
        let sc = Scenario::parse("t.yaml", "t", text).unwrap_or_else(|e| panic!("{e}"));
        let h = generate(&sc);
        // The pods alive at the end, per Service, and when each Service's first pod was made
        // after t = 0 (its rollout began).
        let mut alive: BTreeMap<u32, std::collections::BTreeSet<u32>> = BTreeMap::new();
        let mut first_change: BTreeMap<u32, Nanos> = BTreeMap::new();
        for (t, c) in &h.events {
            if let Change::Pod { pod, deleted } = c {
                let set = alive.entry(pod.service).or_default();
                if *deleted || pod.terminating {
                    set.remove(&pod.id);
                } else {
                    set.insert(pod.id);
                }
                if *t > 0 {
                    first_change.entry(pod.service).or_insert(*t);
                }
            }
        }
        let sizes: Vec<usize> = (0..41).map(|s| alive[&s].len()).collect();
        for &n in &sizes[..40] {
            assert!((2..=7).contains(&n), "{sizes:?}");
        }
        assert!((125..=375).contains(&sizes[40]), "{sizes:?}");
        // Sizes differ: they are drawn, not all the same.
        assert!(sizes[..40].iter().any(|&n| n != sizes[0]), "{sizes:?}");
        // Every Deployment changed (rolled), each first within the window.
        assert_eq!(first_change.len(), 41);
        for t in first_change.values() {
            assert!((60 * SECOND..660 * SECOND).contains(t), "{t}");
        }
    }

    /// A Service deleted before a `resize` reaches it keeps no pods.
    #[test]
    fn a_resize_leaves_a_deleted_service_alone() {
        let text = "duration: 10m\ncluster:\n  zones:\n    - {name: a, nodes: 10}\nservices:\n  - {name: web, replicas: 6}\n  - {name: gone, replicas: 6}\nchurn:\n  - service_delete: {service: gone, at: 1m}\n  - resize: {from: 2m, over: 1m, min_factor: 1, max_factor: 1.5}\n";
        let sc = Scenario::parse("t.yaml", "t", text).unwrap_or_else(|e| panic!("{e}"));
        let h = generate(&sc);
        let made_after_resize = h
            .events
            .iter()
            .filter(|(t, c)| {
                *t >= 120 * SECOND
                    && matches!(c, Change::Pod { pod, deleted: false } if pod.service == 1 && !pod.terminating)
            })
            .count();
        assert_eq!(made_after_resize, 0);
    }
}
