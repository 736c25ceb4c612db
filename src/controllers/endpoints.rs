//! The legacy Endpoints controller (`pkg/controller/endpoint/endpoints_controller.go`,
//! `syncService`; `pkg/api/v1/endpoints/util.go`, `RepackSubsets`; `truncateEndpoints`).
//!
//! Per Service, one Endpoints object named like the Service:
//! * one address per pod, of the Service's **primary** IP family only; terminating pods are
//!   dropped unless `publishNotReadyAddresses`; ready pods (or all, with
//!   `publishNotReadyAddresses`) go to `addresses`, the others to `notReadyAddresses`;
//! * addresses sorted by IP string (bytewise), then by pod UID;
//! * one subset per port set (all pods of a Service here resolve the same ports);
//! * no write when subsets, labels and the capacity annotation are unchanged; the trigger-time
//!   annotation is not compared;
//! * over 1,000 addresses with truncation on (1.22+): keep all ready addresses (or the first
//!   1,000 of them) and fill with not-ready ones, annotate `endpoints.kubernetes.io/over-capacity:
//!   truncated`, and PUT on every sync (the API server stores nothing when the bytes are equal).
//!
//! The desired addresses are kept in a sorted map updated per pod change, and a write applies
//! only the changed addresses to the stored object, whose sizes follow in O(1) per address
//! ([`crate::wire::fast::SizedEndpoints`]). The stored lists are kept in arbitrary order while
//! running (an address is appended, or swapped out, in O(1)) and sorted at the end: the order
//! of a list does not change its size. A truncated object is edited the same way, towards the
//! set of addresses truncation keeps. That set is the first addresses of the ready and of the
//! not-ready list in sorted order, so it is kept as one bound per list ([`Kept`]), moved per
//! sync across only the addresses that enter or leave it: a sync over capacity costs
//! O(changed addresses × log Service size), like one under it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use serde_json::json;

use super::{
    Controller, Desired, FieldsMemo, Key, LabelsMemo, MetaContext, Observer, Op, PodStore,
    PortSets, StableMeta, TriggerTracker, Write, fields_of_keys, fill_pod_ref, set_str,
};
use crate::cluster::{Phase, Pod, ServiceSpec, random_uid};
use crate::engine::{Nanos, Rng};
use crate::scenario::{ServicePort, TargetPort};
use crate::wire::ObjectSizes;
use crate::wire::fast::{Annotation, Omit, SizedEndpoints};
use crate::wire::model::*;

/// `maxCapacity` in `endpoints_controller.go`.
pub const MAX_CAPACITY: usize = 1000;
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
pub const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
pub const HEADLESS: &str = "service.kubernetes.io/headless";
/// Stamped on Endpoints since 1.33 (`LabelManagedBy`).
pub const MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";

/// A port set, shared by the addresses that have it.
type Ports = Arc<Vec<CoreEndpointPort>>;

/// What the controller wants for one pod: ready?, the pod (its address is built from it only
/// when the address enters the object), its port set.
type Wanted<'a> = (bool, &'a Pod, Ports);

struct Stored {
    sized: SizedEndpoints,
    uid: Arc<str>,
    created: Time,
    /// The [`LabelsMemo`] revision its stable metadata was last written at (0: never).
    applied: u64,
}

impl Stored {
    /// Whether the stored labels are `labels`, derived at `revision`.
    fn has_labels(&self, labels: &BTreeMap<String, String>, revision: u64) -> bool {
        self.applied == revision || self.sized.endpoints().metadata.labels == *labels
    }
}

/// Which desired addresses truncation keeps, maintained per change (only with truncation on).
///
/// `truncateEndpoints` after `RepackSubsets` keeps, of a one-subset object, the first `kr`
/// ready and the first `kn` not-ready addresses in sorted order ([`truncate_counts`]). Each
/// list's kept part is "every key up to a bound": the bound moves only across the keys that
/// enter or leave the kept part, so keeping it current costs O(changes), not O(Service size).
#[derive(Default)]
struct Kept {
    enabled: bool,
    /// Every desired key, by readiness: `[not ready, ready]`.
    lists: [BTreeSet<Key>; 2],
    /// Per list, the last kept key (`None`: none kept) ...
    bound: [Option<Key>; 2],
    /// ... and how many keys of the list are at or below it now (as of the last change).
    at_or_below: [usize; 2],
}

impl<'a> Observer<Key, Wanted<'a>> for Kept {
    fn inserted(&mut self, key: &Key, (ready, _, _): &Wanted<'a>) {
        if self.enabled {
            self.tally(key, *ready, true);
        }
    }

    fn removed(&mut self, key: &Key, (ready, _, _): &Wanted<'a>) {
        if self.enabled {
            self.tally(key, *ready, false);
        }
    }
}

impl Kept {
    fn tally(&mut self, key: &Key, ready: bool, add: bool) {
        let r = usize::from(ready);
        let below = usize::from(self.bound[r].as_ref().is_some_and(|b| key <= b));
        if add {
            self.lists[r].insert(key.clone());
            self.at_or_below[r] += below;
        } else {
            self.lists[r].remove(key);
            self.at_or_below[r] -= below;
        }
    }

    /// How many of each list truncation keeps: `[not ready, ready]`.
    fn budget(&self) -> [usize; 2] {
        let (kr, kn) = truncate_counts(&[self.lists[1].len()], &[self.lists[0].len()]);
        [kn[0], kr[0]]
    }

    /// Sets the bounds from scratch (after a rebuild): O(kept addresses).
    fn reset(&mut self) {
        for (r, keep) in self.budget().into_iter().enumerate() {
            let list = &self.lists[r];
            self.bound[r] = if keep == list.len() {
                list.last().cloned()
            } else {
                keep.checked_sub(1)
                    .and_then(|i| list.iter().nth(i))
                    .cloned()
            };
            self.at_or_below[r] = keep;
        }
    }

    /// Moves the bounds to the current budget, pushing every key that entered or left a kept
    /// part onto `moved`.
    fn advance(&mut self, moved: &mut Vec<Key>) {
        for (r, keep) in self.budget().into_iter().enumerate() {
            let list = &self.lists[r];
            let have = self.at_or_below[r];
            if have < keep {
                let above = match &self.bound[r] {
                    Some(b) => list.range((Bound::Excluded(b), Bound::Unbounded)),
                    None => list.range::<Key, _>(..),
                };
                for k in above.take(keep - have) {
                    moved.push(k.clone());
                    self.bound[r] = Some(k.clone());
                }
            } else if have > keep {
                // `have > 0`, so there is a bound.
                let Some(b) = &self.bound[r] else { continue };
                let mut below = list.range(..=b).rev();
                moved.extend(below.by_ref().take(have - keep).cloned());
                self.bound[r] = below.next().cloned();
            }
            self.at_or_below[r] = keep;
        }
    }

    /// Whether the truncated object keeps `key` (a desired key with readiness `ready`).
    fn keeps(&self, key: &Key, ready: bool) -> bool {
        !self.enabled
            || self.bound[usize::from(ready)]
                .as_ref()
                .is_some_and(|b| key <= b)
    }
}

#[derive(Default)]
struct State<'a> {
    stored: Option<Stored>,
    trigger: TriggerTracker,
    /// Desired addresses with their readiness and their pod's port set, and what truncation
    /// keeps of them.
    desired: Desired<Key, Wanted<'a>, Kept>,
    /// The stored object is not one subset holding exactly `desired` (it was truncated, has
    /// several port sets, or the Service changed): rebuild it instead of editing it.
    rebuild: bool,
    /// The Service ports of the last sync.
    seen: Option<Vec<ServicePort>>,
    /// The pods' port sets under those Service ports.
    port_sets: PortSets<CoreEndpointPort>,
    /// Where each stored address is: (in `addresses`?, index) in subset 0. Looked up, never
    /// iterated.
    index: HashMap<Key, (bool, usize)>,
    /// The `fieldsV1` texts of its writes, per key set.
    fields: FieldsMemo,
    /// The object's labels for the Service as it is now.
    labels: LabelsMemo,
    /// etcd refused the last write of `stored`, which etcd therefore does not hold: `Create`,
    /// it holds none; `Update`, an older one. The next sync writes whatever it compares.
    unstored: Option<Op>,
}

impl State<'_> {
    fn new(truncate: bool) -> Self {
        let mut st = State::default();
        st.desired.observer.enabled = truncate;
        st
    }
}

fn key_owned(a: &EndpointAddress) -> Key {
    let uid = a.target_ref.as_ref().map_or("", |r| r.uid.as_str());
    Key::new(Arc::from(a.ip.as_str()), Arc::from(uid))
}

/// Sorts a subset's address lists as `RepackSubsets` does.
fn sort_subset(s: &mut EndpointSubset) {
    s.addresses.sort_by(|a, b| key_of(a).cmp(&key_of(b)));
    s.not_ready_addresses
        .sort_by(|a, b| key_of(a).cmp(&key_of(b)));
}

fn index_of(subsets: &[EndpointSubset]) -> HashMap<Key, (bool, usize)> {
    let mut index = HashMap::default();
    if let Some(s) = subsets.first() {
        for (ready, list) in [(true, &s.addresses), (false, &s.not_ready_addresses)] {
            for (i, a) in list.iter().enumerate() {
                index.insert(key_owned(a), (ready, i));
            }
        }
    }
    index
}

/// The Endpoints controller.
pub struct EndpointsController<'a> {
    ctx: MetaContext,
    truncate: bool,
    states: Vec<State<'a>>,
    resource_version: u64,
    rng: Rng,
    /// Addresses that left the object, to be filled in place for the next ones that enter it
    /// (their strings keep their buffers).
    spare: Vec<EndpointAddress>,
    /// The changed keys of the previous sync, emptied: [`Desired::take_changed`] reuses it.
    changed: Vec<Key>,
    /// Tests: rebuild the object from all desired addresses on every sync (the reference
    /// that the in-place edits must equal).
    #[cfg(test)]
    always_rebuild: bool,
}

impl EndpointsController<'_> {
    pub fn new(ctx: MetaContext, truncate: bool, services: usize, rng: Rng) -> Self {
        EndpointsController {
            ctx,
            truncate,
            states: (0..services).map(|_| State::new(truncate)).collect(),
            resource_version: 1_000_000,
            rng,
            spare: Vec::new(),
            changed: Vec::new(),
            #[cfg(test)]
            always_rebuild: false,
        }
    }
}

/// `podutil.FindPort` for the model: a number is itself, a name is looked up in the pod's
/// named container ports of its template; unresolvable ports are skipped for that pod.
pub fn resolve_ports(
    spec: &ServiceSpec,
    container_ports: &BTreeMap<String, i32>,
) -> Vec<(String, i32, String, Option<String>)> {
    spec.ports
        .iter()
        .filter_map(|p| {
            let port = match &p.target_port {
                TargetPort::Number(n) => Some(*n),
                TargetPort::Name(name) => container_ports.get(name).copied(),
            }?;
            Some((
                p.name.clone(),
                port,
                p.protocol.clone(),
                p.app_protocol.clone(),
            ))
        })
        .collect()
}

/// The Endpoints ports of a pod.
fn core_ports(
    spec: &ServiceSpec,
    container_ports: &BTreeMap<String, i32>,
) -> Vec<CoreEndpointPort> {
    resolve_ports(spec, container_ports)
        .into_iter()
        .map(|(name, port, protocol, app_protocol)| CoreEndpointPort {
            name,
            port,
            protocol,
            app_protocol,
        })
        .collect()
}

fn address(pod: &Pod, ip: &str, ns: &str) -> EndpointAddress {
    let mut a = EndpointAddress::default();
    fill_address(&mut a, pod, ip, ns);
    a
}

/// Makes `a` the address of `pod` (`podToEndpointAddressForService`), in place: whatever `a`
/// held, every field is set, and its strings keep their buffers (an address taken from the
/// spares allocates nothing).
fn fill_address(a: &mut EndpointAddress, pod: &Pod, ip: &str, ns: &str) {
    // Every field named, so that a new one cannot be left out.
    let EndpointAddress {
        ip: a_ip,
        hostname,
        node_name,
        target_ref,
    } = a;
    set_str(a_ip, ip);
    hostname.clear();
    // `spec.nodeName`, always set, even to "" (endpoints_controller.go,
    // podToEndpointAddressForService); whether the Node exists does not matter here.
    set_str(node_name.get_or_insert_default(), &pod.node_name);
    fill_pod_ref(target_ref, pod, ns);
}

/// `RepackSubsets` then, if over capacity, `truncateEndpoints`: one subset per port set (in
/// port-set order), addresses sorted; over 1,000 addresses the budget is shared as
/// [`truncate_counts`] says and the first addresses of each list are kept.
fn subsets_of<'a, 'p: 'a>(
    desired: impl Iterator<Item = (&'a Key, &'a Wanted<'p>)>,
    truncate: bool,
    namespace: &Arc<str>,
) -> Vec<EndpointSubset> {
    type Listed<'k> = Vec<(&'k Key, &'k Pod)>;
    let mut groups: BTreeMap<&Ports, (Listed, Listed)> = BTreeMap::new();
    for (key, (ready, pod, ports)) in desired {
        let g = groups.entry(ports).or_default();
        if *ready {
            g.0.push((key, pod))
        } else {
            g.1.push((key, pod))
        }
    }
    let ready: Vec<usize> = groups.values().map(|g| g.0.len()).collect();
    let not_ready: Vec<usize> = groups.values().map(|g| g.1.len()).collect();
    let (keep_ready, keep_not_ready) = if truncate {
        truncate_counts(&ready, &not_ready)
    } else {
        (ready, not_ready)
    };
    groups
        .into_iter()
        .zip(keep_ready.into_iter().zip(keep_not_ready))
        .map(|((ports, (r, n)), (kr, kn))| {
            let built = |list: Listed, keep: usize| -> Vec<EndpointAddress> {
                list.into_iter()
                    .take(keep)
                    .map(|(key, pod)| address(pod, key.first(), namespace))
                    .collect()
            };
            EndpointSubset {
                addresses: built(r, kr),
                not_ready_addresses: built(n, kn),
                ports: ports.to_vec(),
            }
        })
        .collect()
}

/// `truncateEndpoints`' budget per subset: given the ready and not-ready counts of each subset
/// (in their sorted order), how many of each are kept.
pub fn truncate_counts(ready: &[usize], not_ready: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let total_ready: usize = ready.iter().sum();
    let total_not_ready: usize = not_ready.iter().sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return (ready.to_vec(), not_ready.to_vec());
    }
    let share = |counts: &[usize], total: usize, budget: usize| {
        let mut left = budget;
        counts
            .iter()
            .map(|&c| {
                let want = (c * budget).div_ceil(total.max(1));
                let keep = want.min(left).min(c);
                left -= keep;
                keep
            })
            .collect::<Vec<_>>()
    };
    if total_ready <= MAX_CAPACITY {
        let budget = MAX_CAPACITY - total_ready;
        (ready.to_vec(), share(not_ready, total_not_ready, budget))
    } else {
        (
            share(ready, total_ready, MAX_CAPACITY),
            vec![0; not_ready.len()],
        )
    }
}

fn key_of(a: &EndpointAddress) -> (&str, &str) {
    (&a.ip, a.target_ref.as_ref().map_or("", |r| r.uid.as_str()))
}

impl<'a> Controller<'a> for EndpointsController<'a> {
    fn sync(
        &mut self,
        t: Nanos,
        service: u32,
        spec: &ServiceSpec,
        store: &mut PodStore<'a>,
        log: &mut Vec<Write>,
    ) {
        let st = &mut self.states[service as usize];
        let family = spec.families[0];
        // The Service is gone: delete its Endpoints (`syncService`, "Service missing").
        if spec.gone {
            // A never-stored object has nothing to delete (the DELETE is a tolerated NotFound).
            if let Some(stored) = st.stored.take().filter(|_| st.unstored != Some(Op::Create)) {
                log.push(Write {
                    time: t,
                    trigger: None,
                    op: Op::Delete,
                    service,
                    namespace: spec.namespace.clone(),
                    name: spec.name.clone(),
                    headless: spec.headless,
                    sizes: stored.sized.sizes(),
                    request_bytes: 0,
                    endpoints: 0,
                    noop: false,
                    failed: false,
                });
            }
            *st = State::new(self.truncate);
            return;
        }
        // 1. Desired addresses of the changed pods (of all pods when the Service changed).
        let spec_changed = st.seen.as_ref() != Some(&spec.ports);
        if spec_changed {
            st.port_sets.clear();
        }
        let port_sets = &mut st.port_sets;
        let entry = |pod: &'a Pod| {
            let include = pod.phase != Phase::Failed
                && (!pod.terminating || spec.publish_not_ready_addresses);
            let ip = pod.ip(family).filter(|_| include)?;
            let ports = port_sets.of(pod, |named| core_ports(spec, named));
            // No resolvable port and not headless: the pod contributes no address.
            if ports.is_empty() && !spec.headless {
                return None;
            }
            let ready = spec.publish_not_ready_addresses || pod.ready;
            // An address's sort key (`RepackSubsets`: IP string, then targetRef UID).
            Some((Key::new(ip, pod.uid.clone()), (ready, pod, ports)))
        };
        if spec_changed {
            st.desired.update_all(store, entry);
            st.rebuild = true;
        } else {
            st.desired.update(store, entry);
        }
        if spec_changed {
            st.seen = Some(spec.ports.clone());
        }
        let trigger = st.trigger.compute(store.changed_pods());

        // 2. Labels.
        let (labels, revision) = st.labels.get(spec, |spec| {
            let mut labels = spec.labels.clone();
            labels.remove(HEADLESS);
            if spec.headless {
                labels.insert(HEADLESS.into(), String::new());
            }
            labels.insert(MANAGED_BY.into(), "endpoint-controller".into());
            labels
        });
        let over = self.truncate && st.desired.len() > MAX_CAPACITY;

        // 3. Skip check (endpoints_controller.go: subsets equal, labels equal, capacity
        // annotation correctly absent), against what etcd holds: after a refused write it
        // differs from what this controller keeps, so it writes again.
        let retry = st.unstored.take();
        if let Some(stored) = st.stored.as_ref().filter(|_| retry.is_none()) {
            let same_content = !st.desired.has_changes() && !st.rebuild;
            if same_content
                && stored.has_labels(labels, revision)
                && !over
                && stored.sized.annotation_is(OVER_CAPACITY, None)
            {
                return;
            }
        }

        // 4. The new subsets. `content_changed`: the stored subsets really differ.
        let creating = st.stored.is_none();
        // Edit the stored object in place only while it is one subset and every changed
        // address keeps that subset's port set; anything else is rebuilt from `desired`.
        let keys = st.desired.take_changed(std::mem::take(&mut self.changed));
        let stored_ports =
            st.stored
                .as_ref()
                .and_then(|s| match s.sized.endpoints().subsets.as_slice() {
                    [one] => Some(&one.ports),
                    _ => None,
                });
        let editable = stored_ports.is_some_and(|p| {
            keys.iter()
                .all(|k| st.desired.get(k).is_none_or(|w| *w.2 == *p))
        });
        // Over capacity (or just back under it) the stored object holds only the addresses
        // truncation keeps, and it is edited towards the new kept set like any other: the
        // kept set's bounds move across only the addresses that enter or leave it, so this
        // costs O(changes), not a rebuild that clones and re-measures every address. (A
        // one-subset object not marked for rebuild holds addresses of one port set only: a
        // rebuild makes one subset per port set, an edit adds only that subset's.)
        let rebuild = creating || st.rebuild || !editable;
        #[cfg(test)]
        let rebuild = rebuild || self.always_rebuild;
        let content_changed;
        if rebuild {
            let subsets = subsets_of(
                st.desired.sorted_entries().into_iter(),
                over,
                &spec.namespace,
            );
            st.index = index_of(&subsets);
            let several = subsets.len() > 1;
            match st.stored.as_mut() {
                Some(stored) => {
                    let mut old = stored.sized.set_subsets(subsets);
                    old.iter_mut().for_each(sort_subset);
                    content_changed = old != stored.sized.endpoints().subsets;
                }
                None => {
                    content_changed = true;
                    st.stored = Some(Stored {
                        sized: SizedEndpoints::new(Endpoints {
                            metadata: ObjectMeta::default(),
                            subsets,
                        }),
                        uid: random_uid(&mut self.rng).into(),
                        created: self.ctx.time(t),
                        applied: 0,
                    });
                }
            }
            st.rebuild = several;
            if self.truncate {
                st.desired.observer.reset();
            }
        } else if let Some(stored) = st.stored.as_mut() {
            let sized = &mut stored.sized;
            let mut changed_any = false;
            let mut keys = keys;
            let kept = &mut st.desired.observer;
            if self.truncate {
                // Besides the changed addresses: those leaving or entering the kept set.
                kept.advance(&mut keys);
                keys.sort();
                keys.dedup();
            }
            for key in keys.drain(..) {
                let want = st
                    .desired
                    .get(&key)
                    .filter(|w| st.desired.observer.keeps(&key, w.0))
                    .map(|(ready, pod, _)| {
                        let mut a = self.spare.pop().unwrap_or_default();
                        fill_address(&mut a, pod, key.first(), &spec.namespace);
                        (*ready, a)
                    });
                // Where the stored object has this key, if anywhere.
                let found = st.index.get(&key).copied().and_then(|(ready, i)| {
                    let sub = sized.endpoints().subsets.first()?;
                    let list = if ready {
                        &sub.addresses
                    } else {
                        &sub.not_ready_addresses
                    };
                    Some((ready, i, list.get(i)?))
                });
                let unchanged = match (found, &want) {
                    // Neither stored nor wanted (truncated away, or came and went).
                    (None, None) => true,
                    (Some((r, _, a)), Some((wr, wa))) => r == *wr && a == wa,
                    _ => false,
                };
                if unchanged {
                    self.spare.extend(want.map(|(_, a)| a));
                    continue;
                }
                changed_any = true;
                if let Some((ready, i, _)) = found {
                    self.spare.push(sized.swap_remove_address(0, ready, i));
                    st.index.remove(&key);
                    // The address moved into slot i (if any) changes its index.
                    let sub = &sized.endpoints().subsets[0];
                    let list = if ready {
                        &sub.addresses
                    } else {
                        &sub.not_ready_addresses
                    };
                    if let Some(moved) = list.get(i) {
                        st.index.insert(key_owned(moved), (ready, i));
                    }
                }
                if let Some((ready, a)) = want {
                    sized.push_address(0, ready, a);
                    let sub = &sized.endpoints().subsets[0];
                    let len = if ready {
                        sub.addresses.len()
                    } else {
                        sub.not_ready_addresses.len()
                    };
                    st.index.insert(key.clone(), (ready, len - 1));
                }
            }
            self.changed = keys;
            if sized
                .endpoints()
                .subsets
                .first()
                .is_some_and(|s| s.addresses.is_empty() && s.not_ready_addresses.is_empty())
            {
                sized.remove_subset(0);
            }
            content_changed = changed_any;
        } else {
            return;
        }

        // 5. Metadata, then the write. The stored object's metadata (the previous write's, or
        // empty for a create) is edited in place to what the controller writes.
        let Some(stored) = st.stored.as_mut() else {
            return;
        };
        let want_trigger = trigger.map(|tt| self.ctx.trigger_annotation(tt));
        let want_over = over.then_some(Annotation::Text("truncated"));
        let same_labels = stored.has_labels(labels, revision);
        if !creating
            && retry.is_none()
            && !content_changed
            && !over
            && same_labels
            && stored.sized.annotation_is(OVER_CAPACITY, None)
        {
            // Nothing the controller compares changed (e.g. a pod went and came back between
            // two syncs): upstream skips the write.
            return;
        }
        // An over-capacity PUT of identical content stores nothing (same bytes, same
        // resourceVersion, no watch event): the metadata stays as it is.
        let noop = !creating
            && retry.is_none()
            && !content_changed
            && same_labels
            && stored.sized.annotation_is(TRIGGER_TIME, want_trigger)
            && stored.sized.annotation_is(OVER_CAPACITY, want_over);
        // The request body: no managedFields; a create none of the fields the API server sets.
        let create = creating || retry == Some(Op::Create);
        let omit = Omit {
            managed_fields: true,
            server_set: create,
            name: false,
        };
        let request = if noop {
            stored.sized.sizes_omitting(omit)
        } else {
            self.resource_version += 1;
            let (ctx, rv, memo) = (&self.ctx, self.resource_version, &mut st.fields);
            let stable = StableMeta {
                name: &spec.name,
                uid: &stored.uid,
                created: stored.created,
                generate_prefix: None,
                namespace: &spec.namespace,
                labels,
                owner: None,
            };
            // Written at this revision already: the stable fields are as `stable` has them.
            let fresh = stored.applied == revision;
            stored.applied = revision;
            stored.sized.edit_metadata(omit, |m, stamp| {
                if !fresh {
                    stable.apply(m);
                }
                stamp.resource_version = rv;
                stamp.generation = 0;
                stamp.annotations.clear();
                for (key, want) in [(TRIGGER_TIME, want_trigger), (OVER_CAPACITY, want_over)] {
                    if let Some(v) = want {
                        stamp.annotations.push((key, v));
                    }
                }
                let fields = memo.get(&m.labels, revision, &stamp.annotations, "", || {
                    json!({
                        "f:metadata": {
                            "f:annotations": fields_of_keys(stamp.annotations.iter().map(|(k, _)| *k)),
                            "f:labels": fields_of_keys(m.labels.keys().map(String::as_str)),
                        },
                        "f:subsets": {},
                    })
                });
                stamp.managed = ctx.managed(t, "v1", fields);
            })
        };
        let e = stored.sized.endpoints();
        let count: usize = e
            .subsets
            .iter()
            .map(|s| s.addresses.len() + s.not_ready_addresses.len())
            .sum();
        log.push(Write {
            time: t,
            trigger,
            op: if create { Op::Create } else { Op::Update },
            service,
            namespace: spec.namespace.clone(),
            name: spec.name.clone(),
            headless: spec.headless,
            sizes: stored.sized.sizes(),
            request_bytes: request.proto,
            endpoints: count as u32,
            noop,
            failed: false,
        });
    }

    fn rejected(&mut self, service: u32, write: &Write) {
        self.states[service as usize].unstored = Some(write.op);
    }

    /// The objects at the end, but those whose last write etcd refused: etcd holds an older
    /// version of those (or none), which this controller no longer keeps.
    fn finish(self) -> Vec<(Object, ObjectSizes)> {
        let mut out: Vec<(Object, ObjectSizes)> = self
            .states
            .into_iter()
            .filter(|s| s.unstored.is_none())
            .filter_map(|s| {
                s.stored.map(|s| {
                    let sizes = s.sized.sizes();
                    let mut e = s.sized.into_endpoints();
                    // The order of addresses changes no size.
                    e.subsets.iter_mut().for_each(sort_subset);
                    (Object::Endpoints(e), sizes)
                })
            })
            .collect();
        out.sort_by(|(a, _), (b, _)| {
            let (ma, mb) = (a.metadata(), b.metadata());
            (&ma.namespace, &ma.name).cmp(&(&mb.namespace, &mb.name))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// V27 (`endpoints_controller_test.go`, truncateEndpoints): ready {90,110,50,10,20},
    /// not ready {101,200,200,201,298} → ready kept, not ready {73,144,144,145,214}.
    #[test]
    fn v27_truncation_proportions() {
        let (r, n) = truncate_counts(&[90, 110, 50, 10, 20], &[101, 200, 200, 201, 298]);
        assert_eq!(r, vec![90, 110, 50, 10, 20]);
        assert_eq!(n, vec![73, 144, 144, 145, 214]);
        // At or under capacity: unchanged.
        let (r, n) = truncate_counts(&[100; 5], &[100; 5]);
        assert_eq!((r, n), (vec![100; 5], vec![100; 5]));
    }

    /// V28 (`TestSyncServiceOverCapacity`) on one subset: 997 ready + 4 not ready → 997 + 3;
    /// 1000 ready + 10 not ready → 1000 + 0.
    /// An address filled in place is the one built afresh, whatever it held before (every
    /// field set, longer values), with and without a node name.
    #[test]
    fn an_address_filled_in_place_equals_a_fresh_one() {
        use crate::controllers::testutil::{dirty_pod_ref, long};
        let dirty = EndpointAddress {
            ip: long("ip"),
            hostname: long("host"),
            node_name: Some(long("node")),
            target_ref: dirty_pod_ref(),
        };
        for node_name in ["node-1", ""] {
            let mut p = crate::controllers::testutil::pod(4, true);
            p.node_name = node_name.into();
            let fresh = address(&p, "10.0.0.4", "test");
            for mut a in [dirty.clone(), EndpointAddress::default(), fresh.clone()] {
                fill_address(&mut a, &p, "10.0.0.4", "test");
                assert_eq!(a, fresh);
            }
        }
    }

    #[test]
    fn v28_over_capacity_counts() {
        assert_eq!(truncate_counts(&[997], &[4]), (vec![997], vec![3]));
        assert_eq!(truncate_counts(&[1000], &[10]), (vec![1000], vec![0]));
        assert_eq!(truncate_counts(&[1001], &[0]), (vec![1000], vec![0]));
    }
}

/// The upstream Endpoints controller vectors (`endpoints_controller_test.go`).
#[cfg(test)]
mod vectors {
    use super::*;
    use crate::cluster::{Change, History};
    use crate::controllers::drive;
    use crate::controllers::testutil::*;
    use crate::scenario::SECOND;

    fn run(h: &History, batch: Nanos) -> (Vec<Write>, Vec<Object>) {
        let c = EndpointsController::new(ctx(), true, h.services.len(), crate::engine::rng(1, 2));
        let r = drive(c, h, batch, 3600 * SECOND);
        (r.writes, r.final_objects)
    }

    fn endpoints(objects: &[Object]) -> &Endpoints {
        match &objects[0] {
            Object::Endpoints(e) => e,
            other => panic!("{other:?}"),
        }
    }

    /// The in-place edits (truncated or not) write exactly what rebuilding the object from
    /// all desired addresses on every sync writes: same writes, sizes and final objects,
    /// through flaps, failures, rollouts (one changing the named port: two subsets while over
    /// capacity) and scaling across the 1,000-address line.
    #[test]
    fn edits_equal_rebuilds_across_truncation() {
        let text = "duration: 8m\ncluster:\n  zones:\n    - {name: a, nodes: 30}\nservices:\n  - name: web\n    replicas: 1010\n  - name: pub\n    replicas: 1005\n    publish_not_ready_addresses: true\n  - name: named\n    replicas: 1002\n    ports: [{name: http, port: 80, target_port: http}]\n    container_ports: {http: 8080}\nchurn:\n  - readiness_flaps: {per_hour: 1500, down: 20s}\n  - pod_failures: {per_hour: 600}\n  - scale: {service: web, at: 3m, replicas: 990}\n  - scale: {service: web, at: 5m, replicas: 1020}\n  - rollout: {service: pub, at: 6m, max_surge: 3, max_unavailable: 0}\n  - rollout: {service: named, at: 2m, max_surge: 5, max_unavailable: 0, container_ports: {http: 9090}}\n";
        let sc = crate::scenario::Scenario::parse("t.yaml", "t", text).unwrap();
        let h = crate::cluster::generate(&sc);
        let go = |always_rebuild| {
            let mut c =
                EndpointsController::new(ctx(), true, h.services.len(), crate::engine::rng(1, 2));
            c.always_rebuild = always_rebuild;
            drive(c, &h, 0, 3600 * SECOND)
        };
        let (edited, rebuilt) = (go(false), go(true));
        let summary = |w: &Write| (w.time, w.op, w.sizes, w.endpoints, w.noop, w.request_bytes);
        assert!(edited.writes.len() > 500, "{}", edited.writes.len());
        assert!(edited.writes.iter().any(|w| w.endpoints == 1000));
        assert_eq!(
            edited.writes.iter().map(summary).collect::<Vec<_>>(),
            rebuilt.writes.iter().map(summary).collect::<Vec<_>>()
        );
        assert_eq!(edited.final_objects, rebuilt.final_objects);
    }

    /// V29 (`TestPodUpdatesBatching`): 10 pods, then pod events at 200, 300 and 400 ms.
    /// Batch period 0 → 3 PUTs; 1 s → 1 PUT; 1 s with the third event 1 s after the second
    /// → 2 PUTs.
    #[test]
    fn v29_batching() {
        let ms = SECOND / 1000;
        let with_events = |times: [Nanos; 3]| {
            let mut h = history(10, false, service());
            for (k, t) in times.into_iter().enumerate() {
                let mut p = pod(k as u32, true);
                p.ipv4 = Some(std::net::Ipv4Addr::new(10, 0, 0, k as u8 + 1).into());
                h.events.push(pod_change(t, p, false));
            }
            h
        };
        let puts = |h: &History, batch| {
            run(h, batch)
                .0
                .iter()
                .filter(|w| w.op == Op::Update)
                .count()
        };
        let h = with_events([200 * ms, 300 * ms, 400 * ms]);
        assert_eq!(puts(&h, 0), 3);
        assert_eq!(puts(&h, SECOND), 1);
        let h = with_events([200 * ms, 300 * ms, 1300 * ms]);
        assert_eq!(puts(&h, SECOND), 2);
    }

    /// V30: a new Service with no pods → one create with empty subsets; a resync with nothing
    /// changed → no request.
    #[test]
    fn v30_no_pods_and_no_op_resync() {
        let mut h = history(0, false, service());
        h.events.push(service_change(SECOND, service()));
        let (writes, objects) = run(&h, 0);
        assert_eq!(ops(&writes), (1, 0, 0));
        assert!(endpoints(&objects).subsets.is_empty());
    }

    /// V28 (`TestSyncServiceOverCapacity`): 997 ready + 4 not ready → 997 + 3 kept and the
    /// annotation `truncated`; back under 1,000 the annotation goes.
    #[test]
    fn v28_over_capacity() {
        let mut h = history(1001, false, service());
        for i in 997..1001 {
            if let Change::Pod { pod, .. } = &mut h.events[i as usize].1 {
                pod.ready = false;
            }
        }
        let (_, objects) = run(&h, 0);
        let e = endpoints(&objects);
        assert_eq!(e.subsets[0].addresses.len(), 997);
        assert_eq!(e.subsets[0].not_ready_addresses.len(), 3);
        assert_eq!(e.metadata.annotations[OVER_CAPACITY], "truncated");

        h.events.push(pod_change(SECOND, pod(0, true), true));
        h.events.push(pod_change(SECOND, pod(1, true), true));
        let (_, objects) = run(&h, 0);
        let e = endpoints(&objects);
        assert_eq!(
            e.subsets[0].addresses.len() + e.subsets[0].not_ready_addresses.len(),
            999
        );
        assert!(!e.metadata.annotations.contains_key(OVER_CAPACITY));
    }

    /// Over capacity, every sync PUTs, but an unchanged truncated object is not stored again
    /// (no new resourceVersion, no watch event). The first resync is a real change: with no
    /// pod changed the trigger time is zero, so the annotation is removed.
    #[test]
    fn over_capacity_puts_are_no_ops_when_nothing_changed() {
        let mut h = history(1200, false, service());
        h.events.push(service_change(SECOND, service()));
        h.events.push(service_change(2 * SECOND, service()));
        let (writes, _) = run(&h, 0);
        assert_eq!(ops(&writes), (1, 2, 0));
        assert!(!writes[1].noop);
        assert!(
            writes[1].sizes.proto < writes[0].sizes.proto,
            "the trigger annotation is gone"
        );
        assert!(writes[2].noop);
        assert_eq!(writes[2].sizes, writes[1].sizes);
    }

    /// V30 (`TestSyncEndpointsServiceNotFound`): the Service is gone → exactly one DELETE.
    #[test]
    fn v30_service_not_found_deletes_the_endpoints() {
        let mut gone = service();
        gone.gone = true;
        let mut h = history(5, false, service());
        h.events.push(service_change(SECOND, gone));
        let (writes, objects) = run(&h, 0);
        assert_eq!(ops(&writes), (1, 0, 1));
        assert!(objects.is_empty());
    }

    /// Pods whose named port resolves differently land in different subsets (`RepackSubsets`
    /// groups addresses by port set); when they converge, one subset again.
    #[test]
    fn named_ports_make_one_subset_per_port_set() {
        let mut spec = service();
        spec.ports[0].target_port = crate::scenario::TargetPort::Name("http".into());
        let mut h = history(10, false, spec);
        let ports = |p: i32| Arc::new(BTreeMap::from([("http".to_string(), p)]));
        for (i, (_, c)) in h.events.iter_mut().enumerate() {
            if let Change::Pod { pod, .. } = c {
                pod.container_ports = ports(if i < 4 { 8080 } else { 9090 });
            }
        }
        let (_, objects) = run(&h, 0);
        let e = endpoints(&objects);
        let counts: Vec<(i32, usize)> = e
            .subsets
            .iter()
            .map(|s| (s.ports[0].port, s.addresses.len()))
            .collect();
        assert_eq!(counts, vec![(8080, 4), (9090, 6)]);

        for i in 0..4 {
            let mut p = pod(i, true);
            p.container_ports = ports(9090);
            h.events.push(pod_change(SECOND, p, false));
        }
        let (writes, objects) = run(&h, 0);
        assert_eq!(ops(&writes), (1, 1, 0));
        let e = endpoints(&objects);
        assert_eq!(e.subsets.len(), 1);
        assert_eq!(e.subsets[0].addresses.len(), 10);
    }

    /// Addresses are sorted by IP string, bytewise ("1.2.3.10" < "1.2.3.4"); terminating pods
    /// are dropped; not-ready pods are in notReadyAddresses.
    #[test]
    fn subsets_are_sorted_and_filtered() {
        let mut h = history(10, true, service());
        let mut p = pod(5, true);
        p.terminating = true;
        h.events.push(pod_change(SECOND, p, false));
        let (_, objects) = run(&h, 0);
        let s = &endpoints(&objects).subsets[0];
        let ips: Vec<&str> = s.addresses.iter().map(|a| a.ip.as_str()).collect();
        assert_eq!(
            ips,
            ["1.2.3.11", "1.2.3.12", "1.2.3.5", "1.2.3.6", "1.2.3.8"]
        );
        let nr: Vec<&str> = s
            .not_ready_addresses
            .iter()
            .map(|a| a.ip.as_str())
            .collect();
        assert_eq!(nr, ["1.2.3.10", "1.2.3.13", "1.2.3.4", "1.2.3.7"]);
    }
}
