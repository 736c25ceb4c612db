//! The EndpointSlice controller (`staging/src/k8s.io/endpointslice/reconciler.go`:
//! `reconcileByAddressType`, `reconcileByPortMapping`, `finalize`; `utils.go`: `podToEndpoint`,
//! `getSliceToFill`; `util/controller_utils.go`: `ShouldPodBeInEndpoints`).
//!
//! Per Service and address type (`ipFamilies`): every pod with an IP of that family and not in a
//! terminal phase is an endpoint, **terminating ones included**, with `ready = publishNotReady ||
//! (serving && !terminating)`, `serving` = the Ready condition, `terminating` = deletionTimestamp
//! set. Endpoints are grouped by port set and packed:
//! 1. each existing slice loses removed endpoints and takes the new version of changed ones
//!    (changed = nodeName, zone, ready, serving, terminating or targetRef differ): such a slice
//!    is updated, or deleted when empty;
//! 2. new endpoints fill the slices already being updated, fullest first, up to the maximum;
//! 3. the rest goes into new full slices, except that a remainder smaller than the maximum goes
//!    into the one unchanged slice that it leaves closest to full, if one can take all of it;
//! 4. no slice left and none to create: the placeholder (no endpoints, no ports);
//! 5. a create and a delete are recycled into an update that reuses the deleted slice's name.
//!
//! Slices are never rebalanced. Where upstream iterates a Go map (random order), this model
//! uses sorted order, so runs are reproducible.
//!
//! The work per sync is the number of changed endpoints (and of slices touched), not the size
//! of the Service: the controller remembers which slice holds each endpoint.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use serde_json::json;

use super::endpoints::{HEADLESS, TRIGGER_TIME, resolve_ports};
use super::topology::{
    self, Disabled, Hint, HintEvent, NO_ZONE, NodeCounts, NodeHist, NodeInfo, RoutingSample, Seen,
    ZoneMix,
};
use super::{
    Controller, Desired, FieldsMemo, Key, LabelsMemo, MetaContext, Op, PerSync, PodStore, PortSets,
    StableMeta, TriggerTracker, Write, fields_of_keys, fill_pod_ref, set_str,
};
use crate::cluster::{Hints, Node, NodeEvent, Phase, Pod, ServiceSpec, random_suffix, random_uid};
use crate::engine::{Nanos, Rng};
use crate::scenario::IpFamily;
use crate::wire::ObjectSizes;
use crate::wire::fast::{Omit, SizedSlice};
use crate::wire::model::*;

pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";

/// A port set, shared by the endpoints that have it.
type Ports = Arc<Vec<EndpointPort>>;

struct SliceRt {
    name: Arc<str>,
    uid: Arc<str>,
    created: Time,
    generation: i64,
    /// The [`LabelsMemo`] revision its stable metadata was last written at (0: never).
    applied: u64,
    sized: SizedSlice,
    keys: Vec<Key>,
    /// Where the slice sits in [`Family::fill_index`] (port set, endpoint count).
    indexed: Option<(Ports, usize)>,
    /// Its ready endpoints by zone and zone hint, as last written.
    mix: ZoneMix,
}

/// A pod's endpoint as [`endpoint_for`] derives it, held as references to the pod and its
/// Node: the model [`Endpoint`] is built only when the endpoint enters a slice (once per
/// change, never cloned).
#[derive(Clone, Copy)]
struct Want<'a> {
    pod: &'a Pod,
    /// The zone label of the pod's Node, if the informer has the Node and it has the label.
    zone: Option<&'a str>,
}

impl Want<'_> {
    /// The endpoint, in one of `spare` if there is one.
    fn endpoint(&self, address: &str, spec: &ServiceSpec, spare: &mut Vec<Endpoint>) -> Endpoint {
        let mut e = spare.pop().unwrap_or_default();
        fill_endpoint(&mut e, self.pod, address, spec, self.zone);
        e
    }
}

#[derive(Default)]
struct Family<'a> {
    slices: BTreeMap<u64, SliceRt>,
    loc: HashMap<Key, u64>,
    /// Owned slices by port set, then (endpoint count, id): `getSliceToFill` in O(log n)
    /// instead of a scan of every slice. Refreshed at the end of each sync for the slices the
    /// sync touched; during a sync only those are stale, and they are never fill candidates
    /// (they are being updated or deleted).
    fill_index: BTreeMap<Ports, BTreeSet<(usize, Reverse<u64>)>>,
    /// Each pod's endpoint and its port set (named ports resolve per pod).
    desired: Desired<Key, (Ports, Want<'a>)>,
    /// The pods' port sets under the Service ports of the last sync (`seen`).
    port_sets: PortSets<EndpointPort>,
    /// Adopted slices not owned by the Service, to delete at the next sync.
    foreign: Vec<u64>,
    /// The slice labels and ports of the last sync: every slice was written with them since,
    /// so only a change (or a lone placeholder) needs the per-slice checks.
    seen: Option<(BTreeMap<String, String>, Vec<crate::scenario::ServicePort>)>,
    /// The `fieldsV1` texts of its writes, per key set.
    fields: FieldsMemo,
    /// The hints of the last sync: while it stays the same, a slice the sync does not write
    /// keeps hints that are still right for trafficDistribution.
    hints_mode: Hints,
    /// Some slice may carry hints.
    hinted: bool,
    /// The Auto hints in effect per zone (`EndpointZoneInfo`; empty when off).
    tallies: BTreeMap<String, usize>,
    /// The ready endpoints of all its slices by zone and zone hint (and Node), and as last
    /// sampled.
    mix: Mixes,
    sampled: (ZoneMix, Option<NodeHist>),
    /// The last evaluation of Auto hints: in effect (`Some(None)`) or why not (`None`: never
    /// evaluated, or left).
    auto_last: Option<Option<Disabled>>,
}

impl Family<'_> {
    fn new(spec: &ServiceSpec) -> Self {
        let mix = Mixes {
            zones: ZoneMix::default(),
            nodes: spec.routes_by_node().then(NodeCounts::default),
        };
        Family {
            sampled: mix.state(),
            mix,
            ..Family::default()
        }
    }
}

/// Slice ids in ascending order, each once: the set of slices a sync updates, kept (empty)
/// between syncs so that it does not allocate on each.
#[derive(Default)]
struct IdSet(Vec<u64>);

impl IdSet {
    fn insert(&mut self, id: u64) {
        if let Err(i) = self.0.binary_search(&id) {
            self.0.insert(i, id);
        }
    }

    fn contains(&self, id: &u64) -> bool {
        self.0.binary_search(id).is_ok()
    }

    fn iter(&self) -> std::slice::Iter<'_, u64> {
        self.0.iter()
    }
}

impl Extend<u64> for IdSet {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

#[derive(Default)]
struct State<'a> {
    families: Vec<(IpFamily, Family<'a>)>,
    trigger: TriggerTracker,
    /// The slice labels (§1.7) of the Service as it is now.
    labels: LabelsMemo,
    /// Existing slices of an address type the Service does not have (e.g. the deprecated
    /// `IP`): deleted after the per-type reconciliation, outside `finalize`.
    other_types: Vec<SliceRt>,
}

/// The EndpointSlice controller.
pub struct SliceController<'a> {
    ctx: MetaContext,
    max: usize,
    nodes: &'a [Node],
    /// Nodes deleted from the cluster (no longer in the informer).
    gone_nodes: Vec<bool>,
    states: Vec<State<'a>>,
    next_id: u64,
    resource_version: u64,
    rng: Rng,
    /// Endpoints that left their slice, to be filled in place for the next ones that enter
    /// one (their strings keep their buffers): no endpoint is built and dropped per pod event.
    spare: Vec<Endpoint>,
    /// The endpoint a changed pod would have, compared with the one in its slice.
    scratch: Endpoint,
    /// The changed keys of the previous sync, emptied: [`Desired::take_changed`] reuses it.
    changed: Vec<Key>,
    /// The set of slices the previous sync updated, reused.
    update: IdSet,
    per_sync: PerSync,
    /// Each zone's share of the ready Nodes' CPU (`TopologyCache.SetNodes`).
    cpu_ratios: Option<BTreeMap<String, f64>>,
    /// Nodes NotReady (left out of the CPU ratios).
    not_ready: Vec<bool>,
    /// Nodes without their zone label yet.
    unlabelled: Vec<bool>,
    hint_events: Vec<HintEvent>,
    zone_ids: ZoneIds,
    routing: Vec<RoutingSample>,
}

impl<'a> SliceController<'a> {
    pub fn new(
        ctx: MetaContext,
        max_endpoints_per_slice: usize,
        nodes: &'a [Node],
        services: &[ServiceSpec],
        rng: Rng,
    ) -> Self {
        SliceController {
            ctx,
            max: max_endpoints_per_slice,
            nodes,
            gone_nodes: vec![false; nodes.len()],
            states: services
                .iter()
                .map(|s| State {
                    families: s.families.iter().map(|f| (*f, Family::new(s))).collect(),
                    trigger: TriggerTracker::default(),
                    labels: LabelsMemo::default(),
                    other_types: Vec::new(),
                })
                .collect(),
            next_id: 0,
            resource_version: 1_000_000,
            rng,
            spare: Vec::new(),
            scratch: Endpoint::default(),
            changed: Vec::new(),
            update: IdSet::default(),
            per_sync: PerSync::default(),
            cpu_ratios: node_ratios(nodes, &[], &[], &[]),
            not_ready: vec![false; nodes.len()],
            unlabelled: vec![false; nodes.len()],
            hint_events: Vec::new(),
            zone_ids: ZoneIds::new(nodes),
            routing: Vec::new(),
        }
    }
}

impl SliceController<'_> {
    /// Adds a slice that already exists when the controller starts, as its informer would list
    /// it (labelled for `service`): owned or not (ownerReference to the Service's UID), of one
    /// of the Service's address types or not. The first sync reconciles it like upstream:
    /// foreign slices and slices of another address type are deleted, never recycled.
    pub fn adopt(&mut self, service: u32, spec: &ServiceSpec, slice: EndpointSlice) {
        let m = &slice.metadata;
        let owned = m
            .owner_references
            .iter()
            .any(|o| o.uid == *spec.uid && o.kind == "Service" && o.api_version == "v1");
        let keys: Vec<Key> = slice
            .endpoints
            .iter()
            .map(|e| {
                let pod = e.target_ref.as_ref().map_or("", |r| r.name.as_str());
                Key::new(
                    Arc::from(pod),
                    Arc::from(e.addresses.first().map_or("", String::as_str)),
                )
            })
            .collect();
        self.next_id += 1;
        let id = self.next_id;
        let mut rt = SliceRt {
            name: m.name.as_str().into(),
            uid: m.uid.as_str().into(),
            created: m.creation_timestamp.unwrap_or(Time(0)),
            generation: m.generation,
            keys,
            applied: 0,
            sized: SizedSlice::new(slice.clone()),
            indexed: None,
            mix: ZoneMix::default(),
        };
        let st = &mut self.states[service as usize];
        let family = st
            .families
            .iter_mut()
            .find(|(f, _)| f.address_type() == slice.address_type);
        match family {
            Some((_, fam)) => {
                if owned {
                    for k in &rt.keys {
                        fam.loc.insert(k.clone(), id);
                    }
                    rt.count_all(1, &self.zone_ids, &mut fam.mix);
                } else {
                    fam.foreign.push(id);
                }
                fam.slices.insert(id, rt);
                if owned {
                    fam.reindex(id);
                }
            }
            None => st.other_types.push(rt),
        }
    }
}

/// The write of a slice's deletion: a DELETED event carries its last state.
fn delete_write(t: Nanos, service: u32, spec: &ServiceSpec, s: &SliceRt) -> Write {
    Write {
        time: t,
        trigger: None,
        op: Op::Delete,
        service,
        namespace: spec.namespace.clone(),
        name: s.name.clone(),
        headless: s.sized.metadata().labels.contains_key(HEADLESS),
        sizes: s.sized.sizes(),
        request_bytes: 0,
        endpoints: 0,
        noop: false,
        failed: false,
    }
}

/// `podToEndpoint` (utils.go); `node` is the pod's Node if the informer has it.
pub fn endpoint_for(pod: &Pod, address: &str, spec: &ServiceSpec, node: Option<&Node>) -> Endpoint {
    let mut e = Endpoint::default();
    fill_endpoint(&mut e, pod, address, spec, node.map(|n| &*n.zone));
    e
}

/// Makes `e` [`endpoint_for`] the pod, in place: whatever `e` held, every field is set, and
/// its strings keep their buffers (an endpoint taken from the spares allocates nothing).
fn fill_endpoint(
    e: &mut Endpoint,
    pod: &Pod,
    address: &str,
    spec: &ServiceSpec,
    zone_label: Option<&str>,
) {
    fn set_opt(dst: &mut Option<String>, v: Option<&str>) {
        match v {
            Some(v) => set_str(dst.get_or_insert_default(), v),
            None => *dst = None,
        }
    }
    // Every field named, so that a new one cannot be left out.
    let Endpoint {
        addresses,
        conditions,
        hostname,
        target_ref,
        deprecated_topology,
        node_name,
        zone,
        hints,
    } = e;
    addresses.truncate(1);
    match addresses.first_mut() {
        Some(a) => set_str(a, address),
        None => addresses.push(address.to_string()),
    }
    let serving = pod.ready;
    let terminating = pod.terminating;
    *conditions = EndpointConditions {
        ready: Some(spec.publish_not_ready_addresses || (serving && !terminating)),
        serving: Some(serving),
        terminating: Some(terminating),
    };
    *hostname = None;
    // An instance of a registry (`external::upstream`) has no Pod to refer to.
    if pod.uid.is_empty() {
        *target_ref = None;
    } else {
        fill_pod_ref(target_ref, pod, &spec.namespace);
    }
    deprecated_topology.clear();
    set_opt(node_name, Some(&*pod.node_name).filter(|n| !n.is_empty()));
    // The Node's topology.kubernetes.io/zone label, when present and non-empty.
    set_opt(zone, zone_label.filter(|z| !z.is_empty()));
    *hints = None;
}

/// The fields whose change makes an endpoint "changed" (`endpointsEqualBeyondHash`).
fn endpoint_changed(a: &Endpoint, b: &Endpoint) -> bool {
    a.node_name != b.node_name
        || a.zone != b.zone
        || a.conditions != b.conditions
        || a.target_ref != b.target_ref
}

/// The slice labels (§1.7): Service labels minus the reserved keys, plus service-name,
/// managed-by, and headless when the Service has no cluster IP.
pub fn slice_labels(spec: &ServiceSpec) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = spec
        .labels
        .iter()
        .filter(|(k, _)| ![SERVICE_NAME, MANAGED_BY, HEADLESS].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    l.insert(SERVICE_NAME.into(), spec.name.to_string());
    l.insert(MANAGED_BY.into(), CONTROLLER_NAME.into());
    if spec.headless {
        l.insert(HEADLESS.into(), String::new());
    }
    l
}

/// `getEndpointPorts` for a pod with these named container ports.
pub fn slice_ports(
    spec: &ServiceSpec,
    container_ports: &BTreeMap<String, i32>,
) -> Vec<EndpointPort> {
    resolve_ports(spec, container_ports)
        .into_iter()
        .map(|(name, port, protocol, app_protocol)| EndpointPort {
            name: Some(name),
            protocol: Some(protocol),
            port: Some(port),
            app_protocol,
        })
        .collect()
}

impl Family<'_> {
    /// Puts slice `id` where its port set and endpoint count say in the fill index (or takes
    /// it out, if it is gone).
    fn reindex(&mut self, id: u64) {
        // Most writes change endpoints in place: same count, same port set, same place.
        if let Some(s) = self.slices.get(&id)
            && let Some((ports, count)) = &s.indexed
            && *count == s.keys.len()
            && **ports == *s.sized.ports()
        {
            return;
        }
        let mut previous = None;
        if let Some((ports, count)) = self.slices.get_mut(&id).and_then(|s| s.indexed.take()) {
            if let Some(set) = self.fill_index.get_mut(&ports) {
                set.remove(&(count, Reverse(id)));
                if set.is_empty() {
                    self.fill_index.remove(&ports);
                }
            }
            previous = Some(ports);
        }
        if let Some(s) = self.slices.get_mut(&id) {
            // The port set rarely changes: keep sharing the one it had.
            let ports: Ports = match previous {
                Some(p) if **p == *s.sized.ports() => p,
                _ => Arc::new(s.sized.ports().to_vec()),
            };
            let count = s.keys.len();
            self.fill_index
                .entry(ports.clone())
                .or_default()
                .insert((count, Reverse(id)));
            s.indexed = Some((ports, count));
        }
    }

    /// Takes a deleted slice out of the fill index.
    fn unindex(&mut self, s: &SliceRt, id: u64) {
        if let Some((ports, count)) = &s.indexed
            && let Some(set) = self.fill_index.get_mut(ports)
        {
            set.remove(&(*count, Reverse(id)));
            if set.is_empty() {
                self.fill_index.remove(ports);
            }
        }
    }
}

/// The packing algorithm on counts (steps 2 and 3 of `reconcileByPortMapping`): given the
/// slices already being updated with their endpoint counts after pruning, the number of
/// endpoints to place, and `slice_to_fill(n)` (`getSliceToFill`: the unchanged slice that `n`
/// more endpoints leave closest to full, if any can take them all). Returns the fills of
/// existing slices, the sizes of new slices, and the unchanged slices filled. Pure, so the
/// upstream vectors can test it directly.
pub fn pack(
    updating: &[(u64, usize)],
    to_place: usize,
    max: usize,
    mut slice_to_fill: impl FnMut(usize) -> Option<u64>,
) -> (Vec<(u64, usize)>, Vec<usize>, Vec<u64>) {
    let mut fills: Vec<(u64, usize)> = Vec::new();
    let mut new_slices: Vec<usize> = Vec::new();
    let mut filled_unchanged = Vec::new();
    let mut remaining = to_place;
    // Step 2: slices being updated, fullest first.
    let mut updating = updating.to_vec();
    updating.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (id, count) in updating {
        if remaining == 0 {
            break;
        }
        let take = max.saturating_sub(count).min(remaining);
        if take > 0 {
            fills.push((id, take));
            remaining -= take;
        }
    }
    // Step 3: the remainder. Only the last, partial chunk may go into an unchanged slice.
    while remaining > 0 {
        if remaining < max
            && let Some(id) = slice_to_fill(remaining)
        {
            fills.push((id, remaining));
            filled_unchanged.push(id);
            break;
        }
        let take = remaining.min(max);
        new_slices.push(take);
        remaining -= take;
    }
    (fills, new_slices, filled_unchanged)
}

/// `getSliceToFill` on the fill index of one port set: the fullest slice with room for `n`
/// (ties: the lowest id) that is not `busy` (being updated or deleted).
fn slice_to_fill_indexed(
    index: &BTreeSet<(usize, Reverse<u64>)>,
    n: usize,
    max: usize,
    busy: impl Fn(u64) -> bool,
) -> Option<u64> {
    index
        .range(..=(max.checked_sub(n)?, Reverse(0)))
        .rev()
        .map(|(_, Reverse(id))| *id)
        .find(|id| !busy(*id))
}

#[cfg(test)]
/// `getSliceToFill` over a list of unchanged slices `(id, endpoint count)`: the one with the
/// least room left after taking `n` more, ties to the earliest. The reference for the index.
fn slice_to_fill_in(unchanged: &[(u64, usize)], n: usize, max: usize) -> Option<u64> {
    unchanged
        .iter()
        .filter(|(_, c)| c + n <= max)
        .min_by_key(|(id, c)| (max - c - n, *id))
        .map(|(id, _)| *id)
}

/// Zone and Node names → indices into the cluster's zones (in the order their Nodes come)
/// and Nodes.
struct ZoneIds {
    zones: HashMap<Arc<str>, u16>,
    nodes: HashMap<Arc<str>, u32>,
}

impl ZoneIds {
    fn new(nodes: &[Node]) -> Self {
        ZoneIds {
            zones: crate::cluster::zone_names(nodes)
                .into_iter()
                .enumerate()
                .map(|(i, z)| (z, i as u16))
                .collect(),
            nodes: nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.clone(), i as u32))
                .collect(),
        }
    }

    /// A ready endpoint's (zone, zone hint) in a [`ZoneMix`]; `None` when it is not ready.
    fn key(&self, e: &Endpoint) -> Option<(u16, u16)> {
        let id = |z: Option<&str>| {
            z.and_then(|z| self.zones.get(z))
                .copied()
                .unwrap_or(NO_ZONE)
        };
        let hint = e.hints.as_ref().and_then(|h| h.for_zones.first());
        is_ready(e).then(|| (id(e.zone.as_deref()), id(hint.map(|z| z.name.as_str()))))
    }

    /// Counts `e` into a slice's mix and its family's (`+1`) or out of them (`-1`).
    fn count(&self, e: &Endpoint, by: i32, slice: &mut ZoneMix, total: &mut Mixes) {
        if let Some(k) = self.key(e) {
            slice.count(k, by);
            total.zones.count(k, by);
            if let Some(nodes) = &mut total.nodes {
                self.count_node(e, k.0, by, nodes);
            }
        }
    }

    /// Counts ready endpoint `e` (in `zone`) on its Node.
    fn count_node(&self, e: &Endpoint, zone: u16, by: i32, nodes: &mut NodeCounts) {
        let node = e.node_name.as_deref().and_then(|n| self.nodes.get(n));
        let hinted = e.hints.as_ref().is_some_and(|h| !h.for_nodes.is_empty());
        nodes.count(node.copied().unwrap_or(u32::MAX), zone, hinted, by);
    }
}

/// A family's ready endpoints by zone and zone hint, and (for Services that may route
/// node-locally) by Node.
#[derive(Default)]
struct Mixes {
    zones: ZoneMix,
    nodes: Option<NodeCounts>,
}

impl Mixes {
    /// Takes out a deleted slice's endpoints.
    fn sub(&mut self, s: &SliceRt, ids: &ZoneIds) {
        self.zones.sub(&s.mix);
        if let Some(nodes) = &mut self.nodes {
            for i in 0..s.sized.len() {
                let e = s.sized.endpoint(i);
                if let Some((zone, _)) = ids.key(e) {
                    ids.count_node(e, zone, -1, nodes);
                }
            }
        }
    }

    /// What routing depends on, to sample.
    fn state(&self) -> (ZoneMix, Option<NodeHist>) {
        (
            self.zones.clone(),
            self.nodes.as_ref().map(|n| n.hist.clone()),
        )
    }

    fn differs(&self, sampled: &(ZoneMix, Option<NodeHist>)) -> bool {
        self.zones != sampled.0 || self.nodes.as_ref().map(|n| &n.hist) != sampled.1.as_ref()
    }
}

impl SliceRt {
    /// The edits of a slice's endpoints, each counted in its mix and its family's (`total`).
    fn push(&mut self, e: Endpoint, ids: &ZoneIds, total: &mut Mixes) {
        ids.count(&e, 1, &mut self.mix, total);
        self.sized.push_endpoint(e);
    }

    fn remove(&mut self, i: usize, ids: &ZoneIds, total: &mut Mixes) -> Endpoint {
        let e = self.sized.remove_endpoint(i);
        ids.count(&e, -1, &mut self.mix, total);
        e
    }

    fn replace(&mut self, i: usize, e: Endpoint, ids: &ZoneIds, total: &mut Mixes) -> Endpoint {
        ids.count(&e, 1, &mut self.mix, total);
        let old = self.sized.replace_endpoint(i, e);
        ids.count(&old, -1, &mut self.mix, total);
        old
    }

    /// Gives endpoint `i` these hints, if it has others.
    fn set_hints(
        &mut self,
        i: usize,
        hints: Option<EndpointHints>,
        ids: &ZoneIds,
        total: &mut Mixes,
    ) {
        let e = self.sized.endpoint(i);
        if e.hints != hints {
            let mut e = e.clone();
            e.hints = hints;
            let _ = self.replace(i, e, ids, total);
        }
    }

    /// Counts the whole content in (`+1`, after a create or a new content) or out (`-1`).
    fn count_all(&mut self, by: i32, ids: &ZoneIds, total: &mut Mixes) {
        for i in 0..self.sized.len() {
            ids.count(self.sized.endpoint(i), by, &mut self.mix, total);
        }
    }
}

/// The hint logic's view of the endpoints of some slices.
fn views<'f>(fam: &'f Family<'_>, ids: &[u64]) -> Vec<Vec<Seen<'f>>> {
    ids.iter()
        .map(|id| {
            let s = &fam.slices[id].sized;
            (0..s.len())
                .map(|i| {
                    let e = s.endpoint(i);
                    Seen {
                        ready: is_ready(e),
                        zone: e.zone.as_deref(),
                        hinted: e.hints.as_ref().map_or(&[][..], |h| &h.for_zones),
                    }
                })
                .collect()
        })
        .collect()
}

/// `EndpointReady`: the ready condition is set and true.
fn is_ready(e: &Endpoint) -> bool {
    e.conditions.ready == Some(true)
}

/// The hints trafficDistribution gives a ready endpoint (`trafficdist.go`): its own zone, and
/// with `PreferSameNode` its own node; none without either.
fn close_hints(e: &Endpoint, same_node: bool) -> Option<EndpointHints> {
    let one = |name: &Option<String>| {
        name.iter()
            .filter(|n| !n.is_empty())
            .map(|n| ForName { name: n.clone() })
            .collect::<Vec<_>>()
    };
    let for_zones = one(&e.zone);
    let for_nodes = if same_node {
        one(&e.node_name)
    } else {
        Vec::new()
    };
    (!for_zones.is_empty() || !for_nodes.is_empty()).then_some(EndpointHints {
        for_zones,
        for_nodes,
    })
}

/// The CPU ratios of the Nodes not deleted (`SetNodes`; every Node a worker).
fn node_ratios(
    nodes: &[Node],
    gone: &[bool],
    not_ready: &[bool],
    unlabelled: &[bool],
) -> Option<BTreeMap<String, f64>> {
    let flag = |v: &[bool], i: usize| v.get(i).copied().unwrap_or(false);
    topology::cpu_ratios(
        nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !flag(gone, *i))
            .map(|(i, n)| NodeInfo {
                zone: (!flag(unlabelled, i)).then_some(&*n.zone),
                cpu_milli: n.cpu_milli,
                ready: !flag(not_ready, i),
                control_plane: false,
            }),
    )
}

impl<'a> Controller<'a> for SliceController<'a> {
    fn sync(
        &mut self,
        t: Nanos,
        service: u32,
        spec: &ServiceSpec,
        store: &mut PodStore<'a>,
        log: &mut Vec<Write>,
    ) {
        if spec.gone {
            // No API calls by the controller: the garbage collector deletes the slices through
            // their ownerReference. Those deletes are logged here, as watchers see them.
            let st = &mut self.states[service as usize];
            for (_, fam) in st.families.iter_mut() {
                for s in std::mem::take(&mut fam.slices).into_values() {
                    log.push(delete_write(t, service, spec, &s));
                }
                let sampled = std::mem::take(&mut fam.sampled);
                *fam = Family::default();
                fam.sampled = sampled;
            }
            st.trigger = TriggerTracker::default();
            self.sample(t, service);
            return;
        }
        let trigger = self.states[service as usize]
            .trigger
            .compute(store.changed_pods());
        let mut memo = std::mem::take(&mut self.states[service as usize].labels);
        let (labels, revision) = memo.get(spec, slice_labels);
        let nfam = self.states[service as usize].families.len();
        for fi in 0..nfam {
            let mut fam = std::mem::take(&mut self.states[service as usize].families[fi].1);
            let family = self.states[service as usize].families[fi].0;
            self.sync_family(
                t, service, spec, family, &mut fam, store, labels, revision, trigger, log,
            );
            self.states[service as usize].families[fi].1 = fam;
        }
        // Slices of an address type the Service does not have: deleted last, outside finalize.
        for s in std::mem::take(&mut self.states[service as usize].other_types) {
            log.push(delete_write(t, service, spec, &s));
        }
        self.states[service as usize].labels = memo;
        self.sample(t, service);
    }

    fn per_sync(&mut self) -> PerSync {
        std::mem::take(&mut self.per_sync)
    }

    fn node(&mut self, index: u32, event: NodeEvent) -> Vec<u32> {
        let i = index as usize;
        let set = |v: &mut Vec<bool>, b: bool| {
            if let Some(x) = v.get_mut(i) {
                *x = b;
            }
        };
        match event {
            NodeEvent::Gone => set(&mut self.gone_nodes, true),
            NodeEvent::Ready(ready) => set(&mut self.not_ready, !ready),
            NodeEvent::Joined { zone_label } => {
                set(&mut self.gone_nodes, false);
                set(&mut self.not_ready, false);
                set(&mut self.unlabelled, !zone_label);
            }
            NodeEvent::ZoneLabelled => set(&mut self.unlabelled, false),
        }
        self.set_nodes()
    }

    fn hint_events(&mut self) -> Vec<HintEvent> {
        std::mem::take(&mut self.hint_events)
    }

    fn routing(&mut self) -> Vec<RoutingSample> {
        std::mem::take(&mut self.routing)
    }

    fn finish(self) -> Vec<(Object, ObjectSizes)> {
        let mut out: Vec<(Object, ObjectSizes)> = self
            .states
            .into_iter()
            .flat_map(|s| {
                s.families
                    .into_iter()
                    .flat_map(|(_, f)| f.slices.into_values())
            })
            .map(|s| {
                let sizes = s.sized.sizes();
                (Object::EndpointSlice(s.sized.into_slice()), sizes)
            })
            .collect();
        out.sort_by(|(a, _), (b, _)| {
            let (ma, mb) = (a.metadata(), b.metadata());
            (&ma.namespace, &ma.name).cmp(&(&mb.namespace, &mb.name))
        });
        out
    }
}

impl<'a> SliceController<'a> {
    #[allow(clippy::too_many_arguments)]
    fn sync_family(
        &mut self,
        t: Nanos,
        service: u32,
        spec: &ServiceSpec,
        family: IpFamily,
        fam: &mut Family<'a>,
        store: &PodStore<'a>,
        labels: &BTreeMap<String, String>,
        revision: u64,
        trigger: Option<Nanos>,
        log: &mut Vec<Write>,
    ) {
        // Desired endpoints of the changed pods (of every pod when the Service's ports or
        // labels changed). Port sets are shared per pod template.
        let nodes = self.nodes;
        let spec_changed = !fam
            .seen
            .as_ref()
            .is_some_and(|(l, p)| l == labels && *p == spec.ports);
        if spec_changed {
            fam.port_sets.clear();
        }
        let port_sets = &mut fam.port_sets;
        let (gone_nodes, unlabelled) = (&self.gone_nodes, &self.unlabelled);
        let entry = |pod: &'a Pod| {
            let ip = pod.ip(family).filter(|_| pod.phase != Phase::Failed)?;
            // A pod whose Node the informer lacks is skipped (and the sync fails, to be
            // retried) unless publishNotReadyAddresses; then it has no zone.
            let node = nodes
                .get(pod.node as usize)
                .filter(|_| !gone_nodes.get(pod.node as usize).copied().unwrap_or(true));
            if node.is_none() && !spec.publish_not_ready_addresses {
                return None;
            }
            let ports = port_sets.of(pod, |named| slice_ports(spec, named));
            // An endpoint's identity (`util/endpointset.go`, `hashEndpoint`: addresses,
            // hostname, pod namespace and name); within one Service and address type: pod name
            // and address.
            let labelled = !unlabelled.get(pod.node as usize).copied().unwrap_or(false);
            let zone = node.filter(|_| labelled).map(|n| &*n.zone);
            Some((Key::new(pod.name.clone(), ip), (ports, Want { pod, zone })))
        };
        if spec_changed {
            fam.desired.update_all(store, entry);
        } else {
            fam.desired.update(store, entry);
        }
        let mut changed = fam.desired.take_changed(std::mem::take(&mut self.changed));

        // Step 1: prune and refresh. Slices of a port set no endpoint has any more are
        // obsolete (deleted); label differences make a slice an update; an endpoint whose port
        // set changed leaves its slice and is placed anew.
        let mut update = std::mem::take(&mut self.update);
        update.0.clear();
        let mut delete: Vec<u64> = Vec::new();
        let mut to_place: Vec<Key> = Vec::new();
        // Step A: slices the Service does not own are deleted, first, and never recycled.
        let foreign: Vec<SliceRt> = std::mem::take(&mut fam.foreign)
            .into_iter()
            .filter_map(|id| fam.slices.remove(&id))
            .collect();
        let conforming = !spec_changed && fam.slices.len() > 1;
        let obsolete: Vec<u64> = if conforming {
            Vec::new()
        } else {
            let groups: BTreeSet<&[EndpointPort]> =
                fam.desired.values().map(|(p, _)| p.as_slice()).collect();
            fam.slices
                .iter()
                .filter(|(_, s)| !groups.contains(s.sized.ports()))
                .map(|(id, _)| *id)
                .collect()
        };
        for id in &obsolete {
            delete.push(*id);
            for k in &fam.slices[id].keys {
                fam.loc.remove(k);
                if fam.desired.contains_key(k) {
                    to_place.push(k.clone());
                }
            }
        }
        if !conforming {
            for (id, s) in &fam.slices {
                if !obsolete.contains(id) && s.sized.metadata().labels != *labels {
                    update.insert(*id);
                }
            }
        }
        if spec_changed {
            fam.seen = Some((labels.clone(), spec.ports.clone()));
        }
        // Endpoints leaving a slice of a port set still desired: `numRemoved` (those of
        // obsolete slices are not counted, as upstream).
        let mut removed = 0u32;
        for key in changed.drain(..) {
            let want = fam.desired.get(&key);
            let Some(id) = fam.loc.get(&key).copied() else {
                if want.is_some() {
                    to_place.push(key);
                }
                continue;
            };
            let s = fam.slices.get_mut(&id).expect("loc points at a live slice");
            // Keys are compared by hash, then (sharing the pod's strings) by pointer.
            let i = s
                .keys
                .iter()
                .position(|k| *k == key)
                .expect("slice holds its keys");
            match want {
                Some((ports, _)) if **ports != *s.sized.ports() => {
                    removed += 1;
                    s.keys.remove(i);
                    self.spare.push(s.remove(i, &self.zone_ids, &mut fam.mix));
                    fam.loc.remove(&key);
                    update.insert(id);
                    to_place.push(key);
                }
                Some((_, want)) => {
                    fill_endpoint(&mut self.scratch, want.pod, key.second(), spec, want.zone);
                    if endpoint_changed(s.sized.endpoint(i), &self.scratch) {
                        let new = std::mem::take(&mut self.scratch);
                        self.scratch = s.replace(i, new, &self.zone_ids, &mut fam.mix);
                        update.insert(id);
                    }
                }
                None => {
                    removed += 1;
                    s.keys.remove(i);
                    self.spare.push(s.remove(i, &self.zone_ids, &mut fam.mix));
                    fam.loc.remove(&key);
                    update.insert(id);
                }
            }
        }
        self.changed = changed;
        // Emptied slices are deleted.
        update.0.retain(|id| {
            let emptied = fam.slices[id].keys.is_empty();
            if emptied {
                delete.push(*id);
            }
            !emptied
        });

        // Steps 2 and 3, per port set (`reconcileByPortMapping`).
        let mut by_group: BTreeMap<Ports, Vec<Key>> = BTreeMap::new();
        for key in to_place {
            let ports = fam.desired[&key].0.clone();
            by_group.entry(ports).or_default().push(key);
        }
        let mut creates: Vec<(Ports, Vec<Key>)> = Vec::new();
        let deleting: BTreeSet<u64> = delete.iter().copied().collect();
        // Endpoints in no slice of their port set after step 1: `numAdded`.
        let mut added = 0u32;
        for (ports, mut keys) in by_group {
            keys.sort();
            keys.dedup();
            added = added.saturating_add(keys.len() as u32);
            let updating: Vec<(u64, usize)> = update
                .iter()
                .filter(|id| !deleting.contains(id))
                .filter_map(|id| fam.slices.get(id).map(|s| (*id, s)))
                .filter(|(_, s)| *s.sized.ports() == **ports)
                .map(|(id, s)| (id, s.keys.len()))
                .collect();
            let max = self.max;
            let candidates = fam.fill_index.get(&ports);
            let (fills, new_sizes, filled_unchanged) = pack(&updating, keys.len(), max, |n| {
                slice_to_fill_indexed(candidates?, n, max, |id| {
                    update.contains(&id) || deleting.contains(&id)
                })
            });
            update.extend(filled_unchanged);
            let mut placing = keys.into_iter();
            for (id, n) in fills {
                let s = fam.slices.get_mut(&id).expect("pack fills live slices");
                for key in placing.by_ref().take(n) {
                    let e = fam.desired[&key]
                        .1
                        .endpoint(key.second(), spec, &mut self.spare);
                    s.push(e, &self.zone_ids, &mut fam.mix);
                    fam.loc.insert(key.clone(), id);
                    s.keys.push(key);
                }
            }
            for n in new_sizes {
                creates.push((ports.clone(), placing.by_ref().take(n).collect()));
            }
        }

        self.per_sync.observe(added, removed);

        // Placeholder: nothing left and nothing to create.
        let remaining = fam.slices.len() - delete.len();
        if remaining == 0 && creates.is_empty() {
            let is_placeholder = |s: &SliceRt| {
                s.keys.is_empty()
                    && s.sized.ports().is_empty()
                    && s.sized.metadata().labels == *labels
            };
            if delete.len() == 1 && foreign.is_empty() && is_placeholder(&fam.slices[&delete[0]]) {
                delete.clear();
            } else {
                creates.push((Arc::new(Vec::new()), Vec::new()));
            }
        }

        // finalize: recycle the last create into the first delete.
        let mut recycled: Vec<(u64, (Ports, Vec<Key>))> = Vec::new();
        while !delete.is_empty()
            && let Some(create) = creates.pop()
        {
            recycled.push((delete.remove(0), create));
        }

        // Creates.
        // finalize skips creates while the Service has a deletionTimestamp.
        let creates = if spec.deleting { Vec::new() } else { creates };
        let mut created: Vec<u64> = Vec::with_capacity(creates.len());
        for (ports, keys) in creates {
            self.next_id += 1;
            let id = self.next_id;
            let endpoints: Vec<Endpoint> = keys
                .iter()
                .map(|k| fam.desired[k].1.endpoint(k.second(), spec, &mut self.spare))
                .collect();
            for k in &keys {
                fam.loc.insert(k.clone(), id);
            }
            let name = format!("{}-{}", spec.name, random_suffix(&mut self.rng, 5));
            let mut s = SliceRt {
                name: name.into(),
                uid: random_uid(&mut self.rng).into(),
                created: self.ctx.time(t),
                generation: 1,
                applied: 0,
                sized: SizedSlice::new(EndpointSlice {
                    version: SliceVersion::V1,
                    address_type: family.address_type().into(),
                    endpoints,
                    ports: ports.to_vec(),
                    ..Default::default()
                }),
                keys,
                indexed: None,
                mix: ZoneMix::default(),
            };
            s.count_all(1, &self.zone_ids, &mut fam.mix);
            fam.slices.insert(id, s);
            fam.reindex(id);
            created.push(id);
        }
        // Updates: recycled slices first take their new content.
        let mut updates: Vec<u64> = Vec::new();
        for (id, (ports, keys)) in recycled {
            let s = fam.slices.get_mut(&id).expect("recycled slice exists");
            for k in &s.keys {
                if fam.loc.get(k) == Some(&id) {
                    fam.loc.remove(k);
                }
            }
            let endpoints: Vec<Endpoint> = keys
                .iter()
                .map(|k| fam.desired[k].1.endpoint(k.second(), spec, &mut self.spare))
                .collect();
            for k in &keys {
                fam.loc.insert(k.clone(), id);
            }
            s.count_all(-1, &self.zone_ids, &mut fam.mix);
            let old = s.sized.set_content(endpoints, ports.to_vec());
            s.count_all(1, &self.zone_ids, &mut fam.mix);
            self.spare.extend(old);
            s.keys = keys;
            updates.push(id);
        }
        let extra: Vec<u64> = update
            .iter()
            .copied()
            .filter(|id| !updates.contains(id))
            .collect();
        updates.extend(extra);
        self.update = update;
        // Hints, once the content of every slice written is known; unchanged slices whose
        // hints must change are written too.
        let rewrite = self.hint(t, service, spec, fam, &created, &updates, &delete);
        updates.extend(rewrite);
        for id in created {
            self.write(
                t,
                service,
                spec,
                fam,
                id,
                Op::Create,
                trigger,
                labels,
                revision,
                log,
            );
        }
        for id in updates {
            if let Some(s) = fam.slices.get_mut(&id) {
                s.generation += 1;
            }
            fam.reindex(id);
            self.write(
                t,
                service,
                spec,
                fam,
                id,
                Op::Update,
                trigger,
                labels,
                revision,
                log,
            );
        }
        // Deletes: the foreign ones first, as upstream lists them first.
        for s in &foreign {
            log.push(delete_write(t, service, spec, s));
        }
        for id in delete {
            if let Some(s) = fam.slices.remove(&id) {
                fam.mix.sub(&s, &self.zone_ids);
                fam.unindex(&s, id);
                for k in &s.keys {
                    if fam.loc.get(k) == Some(&id) {
                        fam.loc.remove(k);
                    }
                }
                log.push(delete_write(t, service, spec, &s));
            }
        }
    }

    /// `SetNodes` after a Node change, then `GetOverloadedServices`: the Services whose hints in
    /// effect the new ratios overload, to sync at once.
    fn set_nodes(&mut self) -> Vec<u32> {
        self.cpu_ratios = node_ratios(
            self.nodes,
            &self.gone_nodes,
            &self.not_ready,
            &self.unlabelled,
        );
        let ratios = self.cpu_ratios.as_ref();
        (0..self.states.len() as u32)
            .filter(|s| {
                self.states[*s as usize].families.iter().any(|(_, f)| {
                    topology::overloaded(&f.tallies, ratios, topology::OVERLOAD_THRESHOLD)
                })
            })
            .collect()
    }

    /// Logs the routing state of `service` (its primary address type) if the sync changed it.
    fn sample(&mut self, t: Nanos, service: u32) {
        let Some((_, fam)) = self.states[service as usize].families.first_mut() else {
            return;
        };
        if fam.mix.differs(&fam.sampled) {
            fam.sampled = fam.mix.state();
            let (mix, nodes) = fam.sampled.clone();
            self.routing.push(RoutingSample {
                time: t,
                service,
                mix,
                nodes,
            });
        }
    }

    /// Topology hints (`reconcileByAddressType` after packing, §3 of the spec notes): sets the
    /// hints of the slices this sync creates and updates, and returns the unchanged slices
    /// that must be written for theirs (hints turned off, invalid Auto hints, a new mode).
    #[allow(clippy::too_many_arguments)]
    fn hint(
        &mut self,
        t: Nanos,
        service: u32,
        spec: &ServiceSpec,
        fam: &mut Family<'_>,
        created: &[u64],
        updated: &[u64],
        deleting: &[u64],
    ) -> Vec<u64> {
        let mode = spec.hints;
        let was = std::mem::replace(&mut fam.hints_mode, mode);
        if mode == Hints::Off && !fam.hinted {
            return Vec::new();
        }
        // Leaving Auto while its hints were in effect (`HasPopulatedHints`).
        if mode != Hints::Auto {
            fam.tallies.clear();
            if fam.auto_last.take() == Some(None) {
                self.hint_events.push(HintEvent {
                    time: t,
                    service,
                    disabled: Some(Disabled::AnnotationChanged),
                });
            }
        }
        let written: Vec<u64> = created.iter().chain(updated).copied().collect();
        // The slices this sync leaves alone: read only when their hints may be wrong (a new
        // mode, hints turned off, Auto's validation), so that a sync costs what it writes.
        let unchanged = |fam: &Family<'_>| -> Vec<u64> {
            fam.slices
                .keys()
                .copied()
                .filter(|id| !written.contains(id) && !deleting.contains(id))
                .collect()
        };
        let (rewrite, hints): (Vec<u64>, Vec<Vec<Hint>>) = match mode {
            Hints::Close { same_node } => {
                // Unchanged slices were hinted when last written, unless the mode changed.
                let stale: Vec<u64> = if was == mode {
                    Vec::new()
                } else {
                    unchanged(fam)
                        .into_iter()
                        .filter(|id| {
                            let s = &fam.slices[id].sized;
                            (0..s.len()).any(|i| {
                                let e = s.endpoint(i);
                                is_ready(e) && e.hints != close_hints(e, same_node)
                            })
                        })
                        .collect()
                };
                fam.hinted = true;
                for id in written.iter().chain(&stale) {
                    let s = fam.slices.get_mut(id).expect("a live slice");
                    for i in 0..s.sized.len() {
                        let e = s.sized.endpoint(i);
                        if is_ready(e) {
                            let want = close_hints(e, same_node);
                            s.set_hints(i, want, &self.zone_ids, &mut fam.mix);
                        }
                    }
                }
                return stale;
            }
            Hints::Off => {
                let unchanged = unchanged(fam);
                let d = topology::remove_hints(
                    &views(fam, &written),
                    &views(fam, &unchanged),
                    &[],
                    Disabled::AnnotationChanged,
                );
                fam.hinted = false;
                (d.rewrite.iter().map(|i| unchanged[*i]).collect(), d.hints)
            }
            Hints::Auto => {
                let unchanged = unchanged(fam);
                let d = topology::add_hints(
                    self.cpu_ratios.as_ref(),
                    topology::OVERLOAD_THRESHOLD,
                    &views(fam, &written),
                    &views(fam, &unchanged),
                );
                // A change of state, or of the reason hints are off, is an event.
                let kind = |d: &Option<Disabled>| d.as_ref().map(std::mem::discriminant);
                if fam.auto_last.as_ref().map(kind) != Some(kind(&d.disabled)) {
                    self.hint_events.push(HintEvent {
                        time: t,
                        service,
                        disabled: d.disabled.clone(),
                    });
                }
                fam.hinted = d.disabled.is_none() || fam.hinted;
                fam.auto_last = Some(d.disabled);
                fam.tallies = d.tallies;
                (d.rewrite.iter().map(|i| unchanged[*i]).collect(), d.hints)
            }
        };
        for (id, row) in written.iter().chain(&rewrite).zip(hints) {
            let s = fam.slices.get_mut(id).expect("a live slice");
            for (i, hint) in row.into_iter().enumerate() {
                let want = match hint {
                    Hint::Keep => continue,
                    Hint::None => None,
                    Hint::Zone(z) => Some(EndpointHints {
                        for_zones: vec![ForName { name: z }],
                        for_nodes: Vec::new(),
                    }),
                };
                s.set_hints(i, want, &self.zone_ids, &mut fam.mix);
            }
        }
        rewrite
    }

    /// Logs a create or update of slice `id`. The stored metadata is edited in place to what
    /// the controller writes (`reconciler.go`, `newEndpointSlice` and `finalize`): nothing is
    /// built per write but the fields that change, and the request body's size is the stored
    /// object's without the fields the API server sets.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        t: Nanos,
        service: u32,
        spec: &ServiceSpec,
        fam: &mut Family<'_>,
        id: u64,
        op: Op,
        trigger: Option<Nanos>,
        labels: &BTreeMap<String, String>,
        revision: u64,
        log: &mut Vec<Write>,
    ) {
        self.resource_version += 1;
        let Some(s) = fam.slices.get_mut(&id) else {
            return;
        };
        let (ctx, rv, memo) = (&self.ctx, self.resource_version, &mut fam.fields);
        // The request body: no managedFields; a create by generateName carries no name and
        // none of the fields the API server sets.
        let create = op == Op::Create;
        let omit = Omit {
            managed_fields: true,
            server_set: create,
            name: create,
        };
        let stable = StableMeta {
            name: &s.name,
            uid: &s.uid,
            created: s.created,
            generate_prefix: Some(&spec.name),
            namespace: &spec.namespace,
            labels,
            owner: Some((&spec.name, &spec.uid)),
        };
        let generation = s.generation;
        // Written at this revision already: the stable fields are as `stable` has them.
        let fresh = s.applied == revision;
        s.applied = revision;
        let request = s.sized.edit_metadata(omit, |m, stamp| {
            if !fresh {
                stable.apply(m);
            }
            stamp.resource_version = rv;
            stamp.generation = generation;
            stamp.annotations.clear();
            if let Some(tt) = trigger {
                stamp
                    .annotations
                    .push((TRIGGER_TIME, ctx.trigger_annotation(tt)));
            }
            let fields = memo.get(&m.labels, revision, &stamp.annotations, &spec.uid, || {
                json!({
                    "f:addressType": {},
                    "f:endpoints": {},
                    "f:metadata": {
                        "f:annotations": fields_of_keys(stamp.annotations.iter().map(|(k, _)| *k)),
                        "f:generateName": {},
                        "f:labels": fields_of_keys(m.labels.keys().map(String::as_str)),
                        "f:ownerReferences": {".": {}, format!("k:{{\"uid\":\"{}\"}}", spec.uid): {}},
                    },
                    "f:ports": {},
                })
            });
            stamp.managed = ctx.managed(t, "discovery.k8s.io/v1", fields);
        });
        log.push(Write {
            time: t,
            trigger,
            op,
            service,
            namespace: spec.namespace.clone(),
            name: s.name.clone(),
            headless: spec.headless,
            sizes: s.sized.sizes(),
            request_bytes: request.proto,
            endpoints: s.keys.len() as u32,
            noop: false,
            failed: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(fills: &[(u64, usize)], new: &[usize], slices: &[(u64, usize)]) -> Vec<usize> {
        let mut out: Vec<usize> = slices
            .iter()
            .map(|(id, c)| {
                c + fills
                    .iter()
                    .filter(|f| f.0 == *id)
                    .map(|f| f.1)
                    .sum::<usize>()
            })
            .collect();
        out.extend(new);
        out.sort_unstable();
        out
    }

    /// V3 (`TestReconcileManyPods`): 250 pods, nothing existing → creates {100, 100, 50}.
    #[test]
    fn v3_many_pods() {
        let (fills, new, _) = pack(&[], 250, 100, |_| None);
        assert!(fills.is_empty());
        assert_eq!(new, vec![100, 100, 50]);
    }

    /// V5 (`…SomePreexisting`): slices of 62 and 61, 127 to add → one new slice of 100, the
    /// 27 others into the 62 (room 11 beats 12): final sizes {89, 61, 100}.
    #[test]
    fn v5_fill_closest_to_full_unchanged_slice() {
        let slices = [(1, 62), (2, 61)];
        let (fills, new, filled) = pack(&[], 127, 100, |n| slice_to_fill_in(&slices, n, 100));
        assert_eq!(new, vec![100]);
        assert_eq!(fills, vec![(1, 27)]);
        assert_eq!(filled, vec![1]);
        assert_eq!(sizes(&fills, &new, &slices), vec![61, 89, 100]);
    }

    /// V14 (`TestReconcileMaxEndpointsPerSlice`): 250 pods with various maxima.
    #[test]
    fn v14_varying_max() {
        for (max, want) in [
            (50, vec![50, 50, 50, 50, 50]),
            (80, vec![10, 80, 80, 80]),
            (150, vec![100, 150]),
            (250, vec![250]),
            (500, vec![250]),
        ] {
            let (_, mut new, _) = pack(&[], 250, max, |_| None);
            new.sort_unstable();
            assert_eq!(new, want, "max {max}");
        }
    }

    /// Step 2: slices being updated are filled fullest first before anything new is made.
    #[test]
    fn updated_slices_fill_fullest_first() {
        let (fills, new, _) = pack(&[(1, 40), (2, 90)], 30, 100, |n| {
            slice_to_fill_in(&[(3, 10)], n, 100)
        });
        assert_eq!(fills, vec![(2, 10), (1, 20)]);
        assert!(new.is_empty());
    }

    /// A remainder that no single unchanged slice can take all of makes a new slice, even
    /// when two slices together would have room (no spreading).
    #[test]
    fn no_spreading_across_unchanged_slices() {
        let slices = [(1, 70), (2, 70)];
        let (fills, new, _) = pack(&[], 40, 100, |n| slice_to_fill_in(&slices, n, 100));
        assert!(fills.is_empty());
        assert_eq!(new, vec![40]);
    }

    /// The fill index picks what the upstream scan over all slices picks, whatever the
    /// counts, ties and busy slices.
    #[test]
    fn fill_index_equals_the_scan() {
        use rand::Rng as _;
        let mut rng = crate::engine::rng(7, 0);
        for _ in 0..2_000 {
            let max = rng.random_range(1..=12);
            let slices: Vec<(u64, usize, bool)> = (0..rng.random_range(0..8))
                .map(|id| (id, rng.random_range(0..=max), rng.random_bool(0.3)))
                .collect();
            let index: BTreeSet<(usize, Reverse<u64>)> =
                slices.iter().map(|(id, c, _)| (*c, Reverse(*id))).collect();
            let unchanged: Vec<(u64, usize)> =
                slices.iter().filter(|s| !s.2).map(|s| (s.0, s.1)).collect();
            let busy = |id: u64| slices.iter().any(|s| s.0 == id && s.2);
            for n in 1..=max {
                assert_eq!(
                    slice_to_fill_indexed(&index, n, max, busy),
                    slice_to_fill_in(&unchanged, n, max),
                    "{slices:?} n={n} max={max}"
                );
            }
        }
    }
}

/// The upstream reconciler vectors (`reconciler_test.go`), run through the controller loop.
#[cfg(test)]
mod vectors {
    use super::*;
    use crate::cluster::{Change, History, Node};
    use crate::controllers::drive;
    use crate::controllers::testutil::*;
    use crate::scenario::{SECOND, TargetPort};

    fn run(h: &History, batch: Nanos, max: usize) -> (Vec<Write>, Vec<Object>) {
        let c = SliceController::new(ctx(), max, &h.nodes, &h.services, crate::engine::rng(1, 3));
        let r = drive(c, h, batch, 3600 * SECOND);
        (r.writes, r.final_objects)
    }

    fn slice_sizes(objects: &[Object]) -> Vec<usize> {
        let mut v: Vec<usize> = objects.iter().map(|o| o.endpoint_count()).collect();
        v.sort_unstable();
        v
    }

    fn slices(objects: &[Object]) -> Vec<&EndpointSlice> {
        objects
            .iter()
            .filter_map(|o| match o {
                Object::EndpointSlice(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// V1 (`TestReconcileEmpty`): no pods → one create, the placeholder.
    #[test]
    fn v1_empty_service_gets_a_placeholder() {
        let (writes, objects) = run(&history(0, false, service()), 0, 100);
        assert_eq!(ops(&writes), (1, 0, 0));
        let s = slices(&objects)[0];
        assert!(s.endpoints.is_empty() && s.ports.is_empty());
        assert!(s.metadata.name.starts_with("foo"));
        assert_eq!(s.metadata.labels[SERVICE_NAME], "foo");
    }

    /// V2 (b) and (c): a placeholder equal to the desired one is left alone; one with other
    /// labels is updated (the placeholder recycled into its name), not deleted and recreated.
    #[test]
    fn v2_placeholder_handling() {
        let mut h = history(0, false, service());
        h.events.push(service_change(SECOND, service()));
        let (writes, _) = run(&h, 0, 100);
        assert_eq!(
            ops(&writes),
            (1, 0, 0),
            "resync of an equal placeholder writes nothing"
        );

        let mut relabelled = service();
        relabelled.labels.insert("bar".into(), "baz".into());
        let mut h = history(0, false, service());
        h.events.push(service_change(SECOND, relabelled));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 1, 0));
        assert_eq!(
            writes[0].name, writes[1].name,
            "the placeholder keeps its name"
        );
        assert_eq!(slices(&objects)[0].metadata.labels["bar"], "baz");
    }

    /// V3 (`TestReconcileManyPods`): 250 pods (84 not ready) → 3 creates {100, 100, 50}.
    #[test]
    fn v3_many_pods() {
        let (writes, objects) = run(&history(250, true, service()), 0, 100);
        assert_eq!(ops(&writes), (3, 0, 0));
        assert_eq!(slice_sizes(&objects), vec![50, 100, 100]);
        let not_ready = slices(&objects)
            .iter()
            .flat_map(|s| &s.endpoints)
            .filter(|e| e.conditions.ready == Some(false))
            .count();
        assert_eq!(not_ready, 84);
    }

    /// V4: publishNotReadyAddresses → 50 pods (17 not ready) in one slice, all ready=true.
    #[test]
    fn v4_publish_not_ready_addresses() {
        let mut spec = service();
        spec.publish_not_ready_addresses = true;
        let (writes, objects) = run(&history(50, true, spec), 0, 100);
        assert_eq!(ops(&writes), (1, 0, 0));
        let s = slices(&objects)[0];
        assert_eq!(s.endpoints.len(), 50);
        assert!(s.endpoints.iter().all(|e| e.conditions.ready == Some(true)));
    }

    /// V7: the targetPort changes 80 → 81 with 250 pods: the old group is obsolete, 3 creates
    /// and 3 deletes are recycled into 3 updates.
    #[test]
    fn v7_target_port_change_recycles_into_updates() {
        let mut h = history(250, true, service());
        let mut spec = service();
        spec.ports[0].target_port = TargetPort::Number(81);
        h.events.push(service_change(SECOND, spec));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes[3..]), (0, 3, 0));
        assert_eq!(slice_sizes(&objects), vec![50, 100, 100]);
        assert!(slices(&objects).iter().all(|s| s.ports[0].port == Some(81)));
    }

    /// 30 nodes, 10 per zone (`zone-a`, `-b`, `-c`) of 100 m CPU each, and one ready pod per
    /// entry of `zones` (0, 1, 2: a, b, c) on a node of that zone, behind a Service with
    /// `hints`.
    fn zoned(zones: &[usize], hints: Hints) -> History {
        let nodes: Vec<Node> = (0..30)
            .map(|i| Node {
                name: format!("node-{i}").into(),
                zone: format!("zone-{}", ["a", "b", "c"][i / 10]).into(),
                cpu_milli: 100,
            })
            .collect();
        let mut spec = service();
        spec.hints = hints;
        let events = zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let mut p = pod(i as u32, true);
                p.node = (z * 10 + i % 10) as u32;
                p.node_name = nodes[p.node as usize].name.clone();
                pod_change(0, p, false)
            })
            .collect();
        History {
            nodes,
            services: vec![spec],
            events,
        }
    }

    /// (zone hints, node hints) of the final slices' endpoints, in endpoint order.
    fn hints_of(objects: &[Object]) -> Vec<(Vec<String>, Vec<String>)> {
        slices(objects)
            .iter()
            .flat_map(|s| &s.endpoints)
            .map(|e| {
                let names = |v: &[ForName]| v.iter().map(|n| n.name.clone()).collect();
                e.hints.as_ref().map_or((vec![], vec![]), |h| {
                    (names(&h.for_zones), names(&h.for_nodes))
                })
            })
            .collect()
    }

    /// Endpoints hinted for a zone other than their own.
    fn cross_zone(objects: &[Object]) -> usize {
        slices(objects)
            .iter()
            .flat_map(|s| &s.endpoints)
            .filter(|e| {
                e.hints
                    .as_ref()
                    .is_some_and(|h| h.for_zones.iter().any(|z| Some(&z.name) != e.zone.as_ref()))
            })
            .count()
    }

    /// V19 (`TestReconcileTopology`): 3 equal zones, Auto, 3 endpoints all in zone-c → one
    /// write, hints a 1, b 1, c 1: two endpoints hinted across zones.
    #[test]
    fn v19_auto_hints_across_three_equal_zones() {
        let (writes, objects) = run(&zoned(&[2, 2, 2], Hints::Auto), 0, 100);
        assert_eq!(ops(&writes), (1, 0, 0));
        let mut zones: Vec<String> = hints_of(&objects).into_iter().flat_map(|h| h.0).collect();
        zones.sort();
        assert_eq!(zones, ["zone-a", "zone-b", "zone-c"]);
        assert_eq!(cross_zone(&objects), 2);
    }

    /// V20: 4 endpoints (2 in a, 2 in c) over 3 zones: minimum 2 per zone, 6 > 4 → no hints.
    #[test]
    fn v20_overload_threshold_makes_hints_impossible() {
        let h = zoned(&[0, 0, 2, 2], Hints::Auto);
        let c = SliceController::new(ctx(), 100, &h.nodes, &h.services, crate::engine::rng(1, 3));
        let r = drive(c, &h, 0, 3600 * SECOND);
        assert!(hints_of(&r.final_objects).iter().all(|h| h.0.is_empty()));
        assert_eq!(
            r.hint_events[0].disabled,
            Some(Disabled::MinAllocationExceedsOverloadThreshold {
                endpoints: 4,
                zones: 3
            })
        );
    }

    /// V22 (`TestReconcile_TrafficDistribution`): 6 pods (a 1, b 3, c 2). PreferClose → each
    /// endpoint hinted for its own zone; Auto wins → 2 / 2 / 2 with one endpoint of b hinted
    /// for a; none → no hints; PreferSameNode → zone and node hints.
    #[test]
    fn v22_traffic_distribution() {
        let pods = [0, 1, 1, 1, 2, 2];
        let (_, objects) = run(&zoned(&pods, Hints::Close { same_node: false }), 0, 100);
        let h = hints_of(&objects);
        assert!(h.iter().all(|(z, n)| z.len() == 1 && n.is_empty()));
        assert_eq!(cross_zone(&objects), 0);

        let (_, objects) = run(&zoned(&pods, Hints::Auto), 0, 100);
        let mut tally = BTreeMap::new();
        for (z, _) in hints_of(&objects) {
            *tally.entry(z[0].clone()).or_insert(0) += 1;
        }
        assert_eq!(tally.values().copied().collect::<Vec<_>>(), [2, 2, 2]);
        assert_eq!(cross_zone(&objects), 1);

        let (_, objects) = run(&zoned(&pods, Hints::Off), 0, 100);
        assert!(hints_of(&objects).iter().all(|h| h.0.is_empty()));

        let (_, objects) = run(&zoned(&pods, Hints::Close { same_node: true }), 0, 100);
        assert!(
            hints_of(&objects)
                .iter()
                .all(|(z, n)| z.len() == 1 && n.len() == 1)
        );
    }

    /// Turning hints off rewrites every slice that has them, once; turning trafficDistribution
    /// on rewrites every slice once, and pod churn afterwards no more than without hints.
    #[test]
    fn turning_hints_on_and_off_costs_one_write_per_slice() {
        let mut h = zoned(&[0; 250], Hints::Close { same_node: false });
        let mut off = h.services[0].clone();
        off.hints = Hints::Off;
        h.events.push(service_change(SECOND, off.clone()));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (3, 3, 0));
        assert!(hints_of(&objects).iter().all(|h| h.0.is_empty()));

        let mut h = zoned(&[0; 250], Hints::Off);
        let mut on = h.services[0].clone();
        on.hints = Hints::Close { same_node: false };
        h.events.push(service_change(SECOND, on));
        let mut gone = pod(3, true);
        gone.node = 3;
        gone.node_name = "node-3".into();
        h.events.push(pod_change(2 * SECOND, gone, true));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (3, 4, 0));
        assert!(hints_of(&objects).iter().all(|h| h.0 == ["zone-a"]));
    }

    /// The topology queue: zone c's Nodes turning NotReady (and nothing else) makes the
    /// Service's hints overloaded, so it is synced at once; its slice, hinted for a zone that
    /// has no allocation any more, is rewritten. (Its zone-c endpoints, still ready here, are
    /// hinted for zone c again: step 1 hints every endpoint for its own zone and only zones
    /// with an allocation give or receive — upstream's behaviour. With the pods not ready too,
    /// as in a real outage, they get no hint.)
    #[test]
    fn nodes_turning_not_ready_resync_overloaded_services() {
        let zones: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let mut h = zoned(&zones, Hints::Auto);
        for index in 20..30 {
            h.events.push((
                SECOND,
                Change::Node {
                    index,
                    event: NodeEvent::Ready(false),
                },
            ));
        }
        let (writes, _) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 1, 0));
        // One Node of zone a NotReady leaves every zone above its minimum: no sync.
        let mut quiet = zoned(&zones, Hints::Auto);
        quiet.events.push((
            SECOND,
            Change::Node {
                index: 0,
                event: NodeEvent::Ready(false),
            },
        ));
        let (writes, _) = run(&quiet, 0, 100);
        assert_eq!(ops(&writes), (1, 0, 0));
    }

    /// kubernetes#114215 / #123401: a replacement Node Ready before its zone label leaves
    /// the cluster without usable ratios, so the topology queue re-syncs the hinted Service
    /// and its hints go ("Insufficient Node information"); the label brings the ratios back,
    /// but a Service without hints is not overloaded, so nothing re-syncs it: hints stay off
    /// until the next change of its own.
    #[test]
    fn hints_lost_to_an_unlabelled_node_wait_for_the_next_change() {
        let zones: Vec<usize> = (0..12).map(|i| i % 3).collect();
        let hinted = |objects: &[Object]| hints_of(objects).iter().all(|h| h.0.len() == 1);
        let mut h = zoned(&zones, Hints::Auto);
        let node = |t, event| (t * SECOND, Change::Node { index: 29, event });
        h.events.push(node(1, NodeEvent::Gone));
        h.events
            .push(node(2, NodeEvent::Joined { zone_label: false }));
        h.events.push(node(30, NodeEvent::ZoneLabelled));
        let c = SliceController::new(ctx(), 100, &h.nodes, &h.services, crate::engine::rng(1, 3));
        let r = drive(c, &h, 0, 3600 * SECOND);
        let events: Vec<(Nanos, Option<Disabled>)> = r
            .hint_events
            .iter()
            .map(|e| (e.time, e.disabled.clone()))
            .collect();
        assert_eq!(
            events,
            [
                (0, None),
                (2 * SECOND, Some(Disabled::InsufficientNodeInfo))
            ]
        );
        assert!(!hinted(&r.final_objects));
        // A pod of the Service changing afterwards restores them.
        let mut p = pod(12, true);
        p.node = 29;
        p.node_name = h.nodes[29].name.clone();
        h.events.push(pod_change(40 * SECOND, p, false));
        let (_, objects) = run(&h, 0, 100);
        assert!(hinted(&objects));
        // Labelled at once (zone_label: true), the replacement changes nothing.
        let mut h = zoned(&zones, Hints::Auto);
        h.events.push(node(1, NodeEvent::Gone));
        h.events
            .push(node(2, NodeEvent::Joined { zone_label: true }));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 0, 0));
        assert!(hinted(&objects));
    }

    /// The routing state kept edit by edit equals a recount of the final slices' ready
    /// endpoints by zone and hint, through creates, readiness changes, deletions, hints.
    #[test]
    fn zone_mix_kept_by_edits_equals_a_recount() {
        for hints in [
            Hints::Off,
            Hints::Auto,
            Hints::Close { same_node: false },
            Hints::Close { same_node: true },
        ] {
            let zones: Vec<usize> = (0..240).map(|i| i % 3).collect();
            let mut h = zoned(&zones, hints);
            for i in (0..240).step_by(7) {
                let mut p = pod(i, false);
                p.node = (zones[i as usize] * 10 + i as usize % 10) as u32;
                p.node_name = h.nodes[p.node as usize].name.clone();
                let gone = i % 2 == 0;
                h.events
                    .push(pod_change(SECOND * u64::from(1 + i % 5), p, gone));
            }
            let c =
                SliceController::new(ctx(), 100, &h.nodes, &h.services, crate::engine::rng(1, 3));
            let r = drive(c, &h, 0, 3600 * SECOND);
            let ids = ZoneIds::new(&h.nodes);
            let mut recount = ZoneMix::default();
            let mut per_node: BTreeMap<&str, (u16, u32)> = BTreeMap::new();
            for e in slices(&r.final_objects).iter().flat_map(|s| &s.endpoints) {
                if let Some(k) = ids.key(e) {
                    recount.count(k, 1);
                    per_node
                        .entry(e.node_name.as_deref().unwrap())
                        .or_insert((k.0, 0))
                        .1 += 1;
                }
            }
            let last = r.routing.last().unwrap();
            assert_eq!(last.mix, recount, "{hints:?}");
            // Node by node, for node hints.
            if hints == (Hints::Close { same_node: true }) {
                let mut hist = NodeHist::default();
                for (zone, k) in per_node.values() {
                    *hist.by_zone.entry((*zone, *k)).or_default() += 1;
                }
                assert_eq!(last.nodes, Some(hist));
            } else {
                assert_eq!(last.nodes, None);
            }
        }
    }

    /// The histogram sums of `endpoints_added_per_sync` and `endpoints_removed_per_sync`.
    fn per_sync_sums(h: &History) -> (u64, u64) {
        let c = SliceController::new(ctx(), 100, &h.nodes, &h.services, crate::engine::rng(1, 3));
        let p = drive(c, h, 0, 3600 * SECOND).per_sync;
        let sum = |m: &BTreeMap<u32, u64>| m.iter().map(|(v, n)| u64::from(*v) * n).sum();
        (sum(&p.added), sum(&p.removed))
    }

    /// The per-sync metrics, as upstream's `expectMetrics` sums them over a test's reconciles:
    /// a port change re-adds every endpoint and removes none (`…Recycling`: 300 added, 0
    /// removed after a no-op sync; here 250 at creation, 250 again); a removal counts what
    /// left the slices (20 added, then 10 removed).
    #[test]
    fn per_sync_endpoints_added_and_removed() {
        let mut h = history(250, true, service());
        let mut spec = service();
        spec.ports[0].target_port = TargetPort::Number(81);
        h.events.push(service_change(SECOND, spec));
        assert_eq!(per_sync_sums(&h), (500, 0));

        let mut h = history(20, false, service());
        for i in 10..20 {
            h.events.push(pod_change(SECOND, pod(i, true), true));
        }
        assert_eq!(per_sync_sums(&h), (20, 10));
    }

    /// V8: a new Service label → 3 updates carrying it; only reserved labels → no write.
    #[test]
    fn v8_service_labels() {
        let mut spec = service();
        spec.labels.insert("foo".into(), "bar".into());
        let mut h = history(250, true, service());
        h.events.push(service_change(SECOND, spec));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes[3..]), (0, 3, 0));
        assert!(
            slices(&objects)
                .iter()
                .all(|s| s.metadata.labels["foo"] == "bar")
        );

        let mut reserved = service();
        for k in [SERVICE_NAME, MANAGED_BY, HEADLESS] {
            reserved.labels.insert(k.into(), "x".into());
        }
        let mut h = history(250, true, service());
        h.events.push(service_change(SECOND, reserved));
        let (writes, _) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (3, 0, 0));
    }

    /// V13 (`…NamedPorts`): 300 pods, targetPort `http`, pod i's `http` container port
    /// 8080 + (i % 5) → 5 port groups → 5 creates of 60, one per port, name "", TCP.
    #[test]
    fn v13_named_ports_resolving_per_pod() {
        let mut spec = service();
        spec.ports[0].name = String::new();
        spec.ports[0].target_port = TargetPort::Name("http".into());
        let mut h = history(300, false, spec);
        for (i, (_, c)) in h.events.iter_mut().enumerate() {
            if let Change::Pod { pod, .. } = c {
                let ports = BTreeMap::from([("http".to_string(), 8080 + (i as i32 % 5))]);
                pod.container_ports = Arc::new(ports);
            }
        }
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (5, 0, 0));
        assert_eq!(slice_sizes(&objects), vec![60; 5]);
        let mut ports: Vec<i32> = slices(&objects)
            .iter()
            .map(|s| s.ports[0].port.unwrap())
            .collect();
        ports.sort_unstable();
        assert_eq!(ports, vec![8080, 8081, 8082, 8083, 8084]);
        assert!(
            slices(&objects)
                .iter()
                .all(|s| s.ports[0].name.as_deref() == Some("")
                    && s.ports[0].protocol.as_deref() == Some("TCP"))
        );
    }

    /// V17 (`TestReconcilerFinalizeSvcDeletionTimestamp`, `TestSyncServicePendingDeletion`):
    /// while the Service has a deletionTimestamp creates are skipped, but a create paired with
    /// a delete is still recycled into an update; a Service being deleted with no slices and no
    /// pods gets nothing; once gone, its slices are deleted (by the garbage collector).
    #[test]
    fn v17_service_being_deleted() {
        let mut deleting = service();
        deleting.deleting = true;
        let (writes, _) = run(&history(0, false, deleting.clone()), 0, 100);
        assert_eq!(
            ops(&writes),
            (0, 0, 0),
            "no placeholder for a Service being deleted"
        );

        // 10 pods, then the target port changes while the Service is being deleted: the new
        // slice's create is recycled into the old slice (an update), nothing is created.
        let mut h = history(10, false, service());
        let mut moved = deleting.clone();
        moved.ports[0].target_port = TargetPort::Number(81);
        h.events.push(service_change(SECOND, moved));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 1, 0));
        assert_eq!(slices(&objects)[0].ports[0].port, Some(81));

        let mut gone = deleting;
        gone.gone = true;
        let mut h = history(250, false, service());
        h.events.push(service_change(SECOND, gone));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (3, 0, 3));
        assert!(objects.is_empty());
    }

    /// V16 (`TestReconcilerPodMissingNode`): pods on node-0 and node-1.
    #[test]
    fn v16_missing_node() {
        let nodes = |n: usize| -> Vec<Node> {
            (0..n)
                .map(|i| Node {
                    name: format!("node-{i}").into(),
                    zone: "".into(),
                    cpu_milli: 1000,
                })
                .collect()
        };
        let setup = |pnra: bool, known: usize| {
            let mut spec = service();
            spec.publish_not_ready_addresses = pnra;
            let mut h = history(2, false, spec);
            h.nodes = nodes(known);
            for (i, (_, c)) in h.events.iter_mut().enumerate() {
                if let Change::Pod { pod, .. } = c {
                    pod.node = i as u32;
                    pod.node_name = format!("node-{i}").into();
                }
            }
            h
        };
        // node-1 missing, publishNotReady false: 1 create with 1 endpoint.
        let (writes, objects) = run(&setup(false, 1), 0, 100);
        assert_eq!(ops(&writes), (1, 0, 0));
        assert_eq!(slice_sizes(&objects), vec![1]);
        // publishNotReady true: both, the one on the missing node without a zone.
        let (writes, objects) = run(&setup(true, 1), 0, 100);
        assert_eq!(ops(&writes), (1, 0, 0));
        let s = slices(&objects)[0];
        assert_eq!(s.endpoints.len(), 2);
        let e = s
            .endpoints
            .iter()
            .find(|e| e.node_name.as_deref() == Some("node-1"))
            .unwrap();
        assert_eq!(e.zone, None);
        // An existing slice holds both; node-1 goes: 1 update (2 → 1).
        let mut h = setup(false, 2);
        h.events.push((
            SECOND,
            Change::Node {
                index: 1,
                event: NodeEvent::Gone,
            },
        ));
        h.events
            .push(service_change(2 * SECOND, h.services[0].clone()));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 1, 0));
        assert_eq!(slice_sizes(&objects), vec![1]);
        // No nodes at all: 1 update turning the slice into the placeholder.
        let mut h = setup(false, 2);
        h.events.push((
            SECOND,
            Change::Node {
                index: 0,
                event: NodeEvent::Gone,
            },
        ));
        h.events.push((
            SECOND,
            Change::Node {
                index: 1,
                event: NodeEvent::Gone,
            },
        ));
        h.events
            .push(service_change(2 * SECOND, h.services[0].clone()));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 1, 0));
        let s = slices(&objects)[0];
        assert!(s.endpoints.is_empty() && s.ports.is_empty());
    }

    /// A slice as the controller writes it for `pods` of the test Service, owned by `owner`.
    fn existing_slice(
        pods: std::ops::Range<u32>,
        address_type: &str,
        owner: &str,
    ) -> EndpointSlice {
        let spec = service();
        let nodes = nodes();
        EndpointSlice {
            metadata: ObjectMeta {
                name: format!("foo-{address_type}-{}", pods.start).to_lowercase(),
                namespace: "test".into(),
                labels: slice_labels(&spec),
                owner_references: vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Service".into(),
                    name: "foo".into(),
                    uid: owner.into(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }],
                ..Default::default()
            },
            address_type: address_type.into(),
            endpoints: pods
                .map(|i| {
                    let p = pod(i, true);
                    endpoint_for(
                        &p,
                        &p.ip(crate::scenario::IpFamily::IPv4).unwrap(),
                        &spec,
                        nodes.first(),
                    )
                })
                .collect(),
            ports: slice_ports(&spec, &BTreeMap::new()),
            ..Default::default()
        }
    }

    fn run_with(h: &History, existing: Vec<EndpointSlice>) -> (Vec<Write>, Vec<Object>) {
        let mut c =
            SliceController::new(ctx(), 100, &h.nodes, &h.services, crate::engine::rng(1, 3));
        for s in existing {
            c.adopt(0, &h.services[0], s);
        }
        let r = drive(c, h, 0, 3600 * SECOND);
        (r.writes, r.final_objects)
    }

    /// V11 (`…ReplaceDeprecated`): 2 existing slices of the deprecated type `IP` (80 and 50
    /// endpoints) → 2 creates (IPv4, {100, 30}), then the 2 deletes last, not recycled.
    #[test]
    fn v11_deprecated_address_type_is_replaced() {
        let h = history(130, false, service());
        let existing = vec![
            existing_slice(0..80, "IP", "svc-uid"),
            existing_slice(80..130, "IP", "svc-uid"),
        ];
        let (writes, objects) = run_with(&h, existing);
        let order: Vec<Op> = writes.iter().map(|w| w.op).collect();
        assert_eq!(order, vec![Op::Create, Op::Create, Op::Delete, Op::Delete]);
        assert_eq!(slice_sizes(&objects), vec![30, 100]);
        assert!(slices(&objects).iter().all(|s| s.address_type == "IPv4"));
    }

    /// V5 (`…SomePreexisting`) through the controller: slice A holds pods 1, 5, 9, … (62),
    /// slice B pods 3, 7, … (61); 250 pods → 1 create of 100, then 27 into A (room 11 beats
    /// 12): API order create, update; sizes {61, 89, 100}.
    #[test]
    fn v5_some_preexisting_through_the_controller() {
        let h = history(250, false, service());
        let mut a = existing_slice(0..0, "IPv4", "svc-uid");
        let mut b = a.clone();
        a.metadata.name = "foo-a".into();
        b.metadata.name = "foo-b".into();
        let full = existing_slice(0..250, "IPv4", "svc-uid");
        for (i, e) in full.endpoints.into_iter().enumerate() {
            match i % 4 {
                1 if i <= 245 => a.endpoints.push(e),
                3 if i <= 243 => b.endpoints.push(e),
                _ => {}
            }
        }
        assert_eq!((a.endpoints.len(), b.endpoints.len()), (62, 61));
        let (writes, objects) = run_with(&h, vec![a, b]);
        let order: Vec<Op> = writes.iter().map(|w| w.op).collect();
        assert_eq!(order, vec![Op::Create, Op::Update]);
        assert_eq!(&*writes[1].name, "foo-a");
        assert_eq!(slice_sizes(&objects), vec![61, 89, 100]);
    }

    /// V12 (`…Recreation`): a slice with our labels but another owner → 1 create, then 1
    /// delete (no recycling across owners); with the right owner and content → nothing.
    #[test]
    fn v12_foreign_owner_is_not_recycled() {
        let h = history(1, false, service());
        let (writes, objects) = run_with(&h, vec![existing_slice(0..1, "IPv4", "other-uid")]);
        let order: Vec<Op> = writes.iter().map(|w| w.op).collect();
        assert_eq!(order, vec![Op::Create, Op::Delete]);
        assert_ne!(writes[0].name, writes[1].name);
        assert_eq!(slice_sizes(&objects), vec![1]);

        let (writes, _) = run_with(&h, vec![existing_slice(0..1, "IPv4", "svc-uid")]);
        assert!(writes.is_empty(), "{writes:?}");
    }

    /// V14 through the controller: 250 pods with max 80 → {80, 80, 80, 10}.
    #[test]
    fn v14_max_endpoints_per_slice() {
        let (_, objects) = run(&history(250, true, service()), 0, 80);
        assert_eq!(slice_sizes(&objects), vec![10, 80, 80, 80]);
    }

    /// V15: 20 ready pods → 1 create; then 10 of them go → 1 update (20 → 10).
    #[test]
    fn v15_removal_is_one_update() {
        let mut h = history(20, false, service());
        for i in 10..20 {
            h.events.push(pod_change(SECOND, pod(i, true), true));
        }
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 1, 0));
        assert_eq!(slice_sizes(&objects), vec![10]);
    }

    /// V18: a headless Service without ports: 1 pod → 1 create; a resync → no write.
    #[test]
    fn v18_headless_without_ports_does_not_churn() {
        let mut spec = service();
        spec.ports.clear();
        let mut h = history(1, false, spec.clone());
        h.events.push(service_change(SECOND, spec));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 0, 0));
        assert_eq!(slice_sizes(&objects), vec![1]);
    }

    /// Terminating pods stay in slices (ready=false, serving, terminating) until they are gone.
    /// An endpoint filled in place is the one built afresh, whatever it held before: every
    /// field of the old one set (and longer than the new values), for pods with and without
    /// node name, zone, readiness.
    #[test]
    fn an_endpoint_filled_in_place_equals_a_fresh_one() {
        use crate::controllers::testutil::{dirty_pod_ref, long};
        let dirty = || Endpoint {
            addresses: vec![long("a"), long("b")],
            conditions: EndpointConditions {
                ready: Some(false),
                serving: None,
                terminating: Some(true),
            },
            hostname: Some(long("host")),
            target_ref: dirty_pod_ref(),
            deprecated_topology: BTreeMap::from([(long("k"), long("v"))]),
            node_name: Some(long("node")),
            zone: Some(long("zone")),
            hints: Some(EndpointHints {
                for_zones: vec![ForName { name: long("z") }],
                ..Default::default()
            }),
        };
        let node = Node {
            name: "n1".into(),
            zone: "zone-a".into(),
            cpu_milli: 1000,
        };
        let bare = Node {
            name: "n2".into(),
            zone: "".into(),
            cpu_milli: 1000,
        };
        for (ready, terminating, node_name, node) in [
            (true, false, "n1", Some(&node)),
            (false, true, "", Some(&bare)),
            (true, true, "n2", None),
        ] {
            let mut p = pod(3, ready);
            p.terminating = terminating;
            p.node_name = node_name.into();
            for publish in [false, true] {
                let mut spec = service();
                spec.publish_not_ready_addresses = publish;
                let fresh = endpoint_for(&p, "10.0.0.3", &spec, node);
                for mut e in [dirty(), Endpoint::default(), fresh.clone()] {
                    fill_endpoint(&mut e, &p, "10.0.0.3", &spec, node.map(|n| &*n.zone));
                    assert_eq!(e, fresh);
                }
            }
        }
    }

    #[test]
    fn terminating_endpoints_are_kept() {
        let mut h = history(3, false, service());
        let mut p = pod(0, true);
        p.terminating = true;
        h.events.push(pod_change(SECOND, p, false));
        let (writes, objects) = run(&h, 0, 100);
        assert_eq!(ops(&writes), (1, 1, 0));
        let s = slices(&objects)[0];
        assert_eq!(s.endpoints.len(), 3);
        let e = s
            .endpoints
            .iter()
            .find(|e| e.addresses[0] == "1.2.3.4")
            .unwrap();
        assert_eq!(
            e.conditions,
            EndpointConditions {
                ready: Some(false),
                serving: Some(true),
                terminating: Some(true)
            }
        );
    }
}
