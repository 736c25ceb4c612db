//! The two controllers, fed the same pod history, and the write log they produce.
//!
//! * [`endpoints`]: the legacy Endpoints controller (`pkg/controller/endpoint/endpoints_controller.go`).
//! * [`endpointslice`]: the EndpointSlice controller (`staging/src/k8s.io/endpointslice/reconciler.go`).
//!
//! Both run the same loop ([`drive`]): pod changes enqueue the Service with
//! `AddAfter(batchPeriod)` — the first event of a window schedules the sync, later events in the
//! window are absorbed (client-go `delaying_queue.go`: a waiting key only ever moves earlier) —
//! and Service changes enqueue it at once. A sync runs instantly (workers and the API server are
//! not a bottleneck in this model) and appends its writes to the [`WriteLog`].

pub mod endpoints;
pub mod endpointslice;
pub mod topology;

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use crate::cluster::{Change, History, NodeEvent, Pod, ServiceSpec};
use crate::engine::{Nanos, Queue};
use crate::scenario::{RetryPolicy, SECOND};
use crate::stream::{Events, Recorded};
use crate::wire::ObjectSizes;
use crate::wire::fast::{Annotation, Managed, MetaEdit};
use crate::wire::model::{Object, ObjectReference, OwnerReference, Time};

/// An endpoint's identity within one Service and address type: two shared strings (pod name
/// and address for slices, address and pod UID for Endpoints), ordered as the pair, hashed
/// once when the key is made. Keys made from the same pod share its strings, so they are
/// compared by pointer before by value.
#[derive(Clone, Debug)]
pub struct Key {
    first: Arc<str>,
    second: Arc<str>,
    hash: u64,
}

impl Key {
    pub fn new(first: Arc<str>, second: Arc<str>) -> Self {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = rustc_hash::FxBuildHasher.build_hasher();
        first.hash(&mut h);
        second.hash(&mut h);
        Key {
            first,
            second,
            hash: h.finish(),
        }
    }

    pub fn first(&self) -> &Arc<str> {
        &self.first
    }

    pub fn second(&self) -> &Arc<str> {
        &self.second
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
        self.hash == other.hash
            && same(&self.first, &other.first)
            && same(&self.second, &other.second)
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&*self.first, &*self.second).cmp(&(&*other.first, &*other.second))
    }
}

/// Which API a write belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Api {
    Endpoints,
    EndpointSlices,
}

impl Api {
    pub const BOTH: [Api; 2] = [Api::Endpoints, Api::EndpointSlices];

    pub fn as_str(self) -> &'static str {
        match self {
            Api::Endpoints => "endpoints",
            Api::EndpointSlices => "endpointslices",
        }
    }
}

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// One API write by a controller. Every field the next steps need (API-server bandwidth,
/// propagation delay) is here: when, why (trigger time), to what, and how big.
#[derive(Clone, Debug)]
pub struct Write {
    pub time: Nanos,
    /// The last-change trigger time this write carries, if any.
    pub trigger: Option<Nanos>,
    pub op: Op,
    pub service: u32,
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    /// The object carries `service.kubernetes.io/headless` (kube-proxy does not watch it).
    pub headless: bool,
    /// Sizes of the object a watch event carries (for a delete, its last state).
    pub sizes: ObjectSizes,
    /// Protobuf request body sent by kube-controller-manager (0 for a delete).
    pub request_bytes: u64,
    /// Endpoints (addresses) in the object after the write; 0 after a delete.
    pub endpoints: u32,
    /// The API server stored nothing new (an identical PUT): no watch event.
    pub noop: bool,
    /// etcd refused it (the request passed `--max-request-bytes`): nothing stored, no watch
    /// event; the controller retries the sync.
    pub failed: bool,
}

impl Write {
    /// The write stored something new: watchers receive it.
    pub fn stored(&self) -> bool {
        !self.noop && !self.failed
    }
}

/// What one controller did over a run.
#[derive(Clone, Debug, Default)]
pub struct ControllerRun {
    pub writes: Vec<Write>,
    pub syncs: u64,
    pub pod_events: u64,
    /// The objects at the end, in (namespace, name) order.
    pub final_objects: Vec<Object>,
    /// The sizes of `final_objects`, index for index, as the controller kept them (no object
    /// is measured again).
    pub final_sizes: Vec<ObjectSizes>,
    /// What the EndpointSlice controller observed per sync (empty for Endpoints).
    pub per_sync: PerSync,
    /// When Services' topology hints went on or off, and why (empty for Endpoints).
    pub hint_events: Vec<topology::HintEvent>,
    /// Each Service's ready endpoints by zone and hint after every sync that changed them
    /// (empty for Endpoints).
    pub routing: Vec<topology::RoutingSample>,
}

/// The endpoints one reconcile of an address type added and removed, as the EndpointSlice
/// reconciler observes them in `endpoints_added_per_sync` and `endpoints_removed_per_sync`
/// (`reconciler.go`, `reconcileByAddressType` and `reconcileByPortMapping`): value → how
/// many reconciles observed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerSync {
    pub added: BTreeMap<u32, u64>,
    pub removed: BTreeMap<u32, u64>,
}

impl PerSync {
    pub fn observe(&mut self, added: u32, removed: u32) {
        *self.added.entry(added).or_default() += 1;
        *self.removed.entry(removed).or_default() += 1;
    }
}

/// Object metadata shared by both controllers.
pub struct MetaContext {
    pub start_unix: i64,
    pub managed_fields: bool,
}

impl MetaContext {
    pub fn time(&self, t: Nanos) -> Time {
        Time(self.start_unix + (t / SECOND) as i64)
    }

    /// The trigger-time annotation's value for `t`: the time at whole seconds (the Ready
    /// condition's `lastTransitionTime` has whole seconds), as `RFC3339Nano` prints it.
    pub fn trigger_annotation(&self, t: Nanos) -> Annotation {
        Annotation::Time(self.time(t))
    }

    /// kube-controller-manager's one `managedFields` entry of a write at `t` (none when the
    /// scenario leaves managed fields out).
    pub fn managed(
        &self,
        t: Nanos,
        api_version: &'static str,
        fields_v1: Arc<str>,
    ) -> Option<Managed> {
        self.managed_fields.then(|| Managed {
            manager: "kube-controller-manager",
            operation: "Update",
            api_version,
            time: self.time(t),
            fields_type: "FieldsV1",
            fields_v1,
        })
    }
}

/// What a controller writes in the text metadata of its objects (see
/// [`StablePart`](crate::wire::fast::StablePart)): the name, UID and creation time,
/// `generateName` (`prefix-`, or none), the namespace, the labels and a controlling
/// ownerReference to the Service (`name`, `uid`), or none; no selfLink, deletion fields or
/// finalizers.
pub struct StableMeta<'a> {
    pub name: &'a str,
    pub uid: &'a str,
    pub created: Time,
    pub generate_prefix: Option<&'a str>,
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub owner: Option<(&'a str, &'a str)>,
}

impl StableMeta<'_> {
    /// Sets the text fields of `m` to these, touching them (so that they are measured again)
    /// only when one differs: they rarely do between two writes of an object.
    pub fn apply(&self, m: &mut MetaEdit<'_>) {
        if m.name != self.name {
            set_str(&mut m.stable().name, self.name);
        }
        if m.uid != self.uid {
            set_str(&mut m.stable().uid, self.uid);
        }
        if m.creation_timestamp != Some(self.created) {
            m.stable().creation_timestamp = Some(self.created);
        }
        let generate_name_ok = match self.generate_prefix {
            Some(prefix) => m.generate_name.strip_suffix('-') == Some(prefix),
            None => m.generate_name.is_empty(),
        };
        if !generate_name_ok {
            m.stable().generate_name = self
                .generate_prefix
                .map(|p| format!("{p}-"))
                .unwrap_or_default();
        }
        if m.namespace != self.namespace {
            set_str(&mut m.stable().namespace, self.namespace);
        }
        if !m.self_link.is_empty()
            || m.deletion_timestamp.is_some()
            || m.deletion_grace_period_seconds.is_some()
            || !m.finalizers.is_empty()
        {
            let m = m.stable();
            m.self_link.clear();
            m.deletion_timestamp = None;
            m.deletion_grace_period_seconds = None;
            m.finalizers.clear();
        }
        if m.labels != *self.labels {
            m.stable().labels = self.labels.clone();
        }
        let owner_ok = match self.owner {
            Some((name, uid)) => matches!(m.owner_references.as_slice(), [o]
                if o.api_version == "v1"
                    && o.kind == "Service"
                    && o.name == name
                    && o.uid == uid
                    && o.controller == Some(true)
                    && o.block_owner_deletion == Some(true)),
            None => m.owner_references.is_empty(),
        };
        if !owner_ok {
            m.stable().owner_references = self
                .owner
                .map(|(name, uid)| OwnerReference {
                    api_version: "v1".into(),
                    kind: "Service".into(),
                    name: name.to_string(),
                    uid: uid.to_string(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                })
                .into_iter()
                .collect();
        }
    }
}

/// Makes `r` the reference to `pod` (in `namespace`) that both controllers write into an
/// endpoint or address (`targetRef`: kind Pod, namespace, name, uid), in place: its strings
/// keep their buffers.
pub fn fill_pod_ref(r: &mut Option<Box<ObjectReference>>, pod: &Pod, namespace: &str) {
    // Every field named, so that a new one cannot be left out.
    let ObjectReference {
        kind,
        namespace: ns,
        name,
        uid,
        api_version,
        resource_version,
        field_path,
    } = &mut **r.get_or_insert_default();
    set_str(kind, "Pod");
    set_str(ns, namespace);
    set_str(name, &pod.name);
    set_str(uid, &pod.uid);
    api_version.clear();
    resource_version.clear();
    field_path.clear();
}

/// Sets `dst` to `v`, keeping its buffer.
pub fn set_str(dst: &mut String, v: &str) {
    if dst != v {
        dst.clear();
        dst.push_str(v);
    }
}

/// The `fieldsV1` texts of a controller's writes, each built once: a text depends only on the
/// label and annotation keys (never their values) and the owner's UID, and an object cycles
/// through a few such key sets (with or without the trigger-time annotation, say).
#[derive(Default)]
pub struct FieldsMemo {
    entries: Vec<FieldsEntry>,
}

struct FieldsEntry {
    label_keys: Vec<String>,
    annotation_keys: Vec<&'static str>,
    owner: String,
    text: Arc<str>,
    /// The [`LabelsMemo`] revision the labels and owner last matched at.
    revision: u64,
}

impl FieldsMemo {
    /// Key sets remembered; beyond this the oldest is forgotten.
    const CAPACITY: usize = 4;

    /// The text for these labels, annotation keys and owner (the labels and owner derived at
    /// `revision`, see [`LabelsMemo`]); `build` gives the field set.
    pub fn get(
        &mut self,
        labels: &BTreeMap<String, String>,
        revision: u64,
        annotations: &[(&'static str, Annotation)],
        owner: &str,
        build: impl FnOnce() -> serde_json::Value,
    ) -> Arc<str> {
        let annotation_keys = annotations.iter().map(|(k, _)| *k);
        let same_annotations = |e: &FieldsEntry| {
            annotation_keys
                .clone()
                .eq(e.annotation_keys.iter().copied())
        };
        let found = self
            .entries
            .iter()
            .position(|e| revision != 0 && e.revision == revision && same_annotations(e))
            .or_else(|| {
                self.entries.iter().position(|e| {
                    labels.keys().eq(e.label_keys.iter()) && same_annotations(e) && e.owner == owner
                })
            });
        let i = match found {
            Some(i) => {
                self.entries[i].revision = revision;
                i
            }
            None => {
                if self.entries.len() == Self::CAPACITY {
                    self.entries.remove(0);
                }
                let raw = crate::wire::gojson::to_vec(&build()).unwrap_or_default();
                self.entries.push(FieldsEntry {
                    label_keys: labels.keys().cloned().collect(),
                    annotation_keys: annotation_keys.collect(),
                    owner: owner.to_string(),
                    text: String::from_utf8_lossy(&raw).into(),
                    revision,
                });
                self.entries.len() - 1
            }
        };
        self.entries[i].text.clone()
    }
}

/// A Service's object labels as a controller derives them, derived again only when the
/// Service's labels, name or headlessness change (not on every sync), with a revision (1 and
/// up) that counts the derivations and changes with the Service's namespace and UID too: an object
/// whose stable metadata was written at the current revision needs no comparing
/// ([`StableMeta::apply`] and the label checks skip it).
#[derive(Default)]
pub struct LabelsMemo {
    from: Option<LabelsSource>,
    labels: BTreeMap<String, String>,
    revision: u64,
}

/// What a Service's object labels, namespace and owner derive from.
struct LabelsSource {
    labels: BTreeMap<String, String>,
    namespace: Arc<str>,
    name: Arc<str>,
    uid: Arc<str>,
    headless: bool,
}

impl LabelsSource {
    fn is(&self, spec: &ServiceSpec) -> bool {
        self.labels == spec.labels
            && self.namespace == spec.namespace
            && self.name == spec.name
            && self.uid == spec.uid
            && self.headless == spec.headless
    }
}

impl LabelsMemo {
    pub fn get(
        &mut self,
        spec: &ServiceSpec,
        derive: impl FnOnce(&ServiceSpec) -> BTreeMap<String, String>,
    ) -> (&BTreeMap<String, String>, u64) {
        if !self.from.as_ref().is_some_and(|from| from.is(spec)) {
            self.from = Some(LabelsSource {
                labels: spec.labels.clone(),
                namespace: spec.namespace.clone(),
                name: spec.name.clone(),
                uid: spec.uid.clone(),
                headless: spec.headless,
            });
            self.labels = derive(spec);
            self.revision += 1;
        }
        (&self.labels, self.revision)
    }
}

/// `{"f:key":{},...}` with a `"."` entry, as structured-merge-diff writes a map's field set.
pub fn fields_of_keys<'k>(keys: impl IntoIterator<Item = &'k str>) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert(".".into(), serde_json::json!({}));
    for k in keys {
        o.insert(format!("f:{k}"), serde_json::json!({}));
    }
    serde_json::Value::Object(o)
}

/// The trigger-time tracker (`util/trigger_time_tracker.go`): per Service, the minimum of the
/// pod trigger times that increased since the previous sync; on the first sync the Service's
/// creation time. Only pods changed since the last sync can have increased, so the work per
/// sync is the number of changed pods, not of pods.
#[derive(Default)]
pub struct TriggerTracker {
    seen: HashMap<u32, Nanos>,
    synced: bool,
}

impl TriggerTracker {
    pub fn compute<'a>(
        &mut self,
        changed: impl Iterator<Item = (u32, Option<&'a Pod>)>,
    ) -> Option<Nanos> {
        let mut min: Option<Nanos> = None;
        for (id, pod) in changed {
            match pod {
                Some(p) => {
                    let last = self.seen.insert(id, p.ready_changed);
                    if last.is_none_or(|l| l < p.ready_changed) {
                        min = Some(min.map_or(p.ready_changed, |m| m.min(p.ready_changed)));
                    }
                }
                None => {
                    self.seen.remove(&id);
                }
            }
        }
        if !self.synced {
            self.synced = true;
            // The Service was created at t = 0, before the run.
            return Some(0);
        }
        min
    }
}

/// The pods of one Service as the controller's informer sees them, by [`Pod::id`]: each the
/// history's record of its latest state (borrowed, so that neither controller touches the
/// pods' shared reference counts).
#[derive(Default)]
pub struct PodStore<'h> {
    pub pods: HashMap<u32, &'h Pod>,
    /// Pods changed since the last sync: sorted and without repeats when a sync sees them
    /// ([`PodStore::settle`]).
    pub changed: Vec<u32>,
}

impl PodStore<'_> {
    /// Sorts the changed pods and drops repeats, before a sync.
    pub fn settle(&mut self) {
        self.changed.sort_unstable();
        self.changed.dedup();
    }

    /// The changed pods, each with its state (`None`: deleted), for [`TriggerTracker::compute`].
    pub fn changed_pods(&self) -> impl Iterator<Item = (u32, Option<&Pod>)> {
        self.changed
            .iter()
            .map(|id| (*id, self.pods.get(id).copied()))
    }
}

/// Told of every entry a [`Desired`] gains or loses, so that a controller can keep tallies over
/// its desired state (counts, ordered subsets) in O(1) per change instead of scanning it.
pub trait Observer<K, V> {
    fn inserted(&mut self, _key: &K, _value: &V) {}
    fn removed(&mut self, _key: &K, _value: &V) {}
}

/// No tallies.
impl<K, V> Observer<K, V> for () {}

/// What a controller wants for each pod (an Endpoints address, a slice endpoint), kept up to
/// date from the pods changed since the last sync, with the keys whose entry changed.
pub struct Desired<K, V, O = ()> {
    /// Hashed, not sorted: a lookup costs the same at 100 pods as at 100,000 (where a sorted
    /// map compares a dozen pod names). Values are small (references to the pod and its port
    /// set), so they sit in the table itself.
    map: HashMap<K, V>,
    by_pod: HashMap<u32, K>,
    changed: Vec<K>,
    /// Sees every insertion and removal of `map`.
    pub observer: O,
}

impl<K, V, O: Default> Default for Desired<K, V, O> {
    fn default() -> Self {
        Desired {
            map: HashMap::default(),
            by_pod: HashMap::default(),
            changed: Vec::new(),
            observer: O::default(),
        }
    }
}

impl<K: Eq + std::hash::Hash, V, O> std::ops::Index<&K> for Desired<K, V, O> {
    type Output = V;

    fn index(&self, key: &K) -> &V {
        &self.map[key]
    }
}

impl<K: Ord + std::hash::Hash + Clone, V, O: Observer<K, V>> Desired<K, V, O> {
    /// Re-derives the entries of the changed pods: `entry` gives a pod's key and value, or
    /// `None` when the pod is not wanted.
    pub fn update<'h>(
        &mut self,
        store: &PodStore<'h>,
        entry: impl FnMut(&'h Pod) -> Option<(K, V)>,
    ) {
        self.update_pods(store, store.changed.iter(), entry);
    }

    /// Re-derives the entries of every pod (after a Service change that affects them all).
    pub fn update_all<'h>(
        &mut self,
        store: &PodStore<'h>,
        entry: impl FnMut(&'h Pod) -> Option<(K, V)>,
    ) {
        let mut ids: Vec<u32> = self
            .by_pod
            .keys()
            .chain(store.pods.keys())
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        // At most one entry per pod: room for all at once rather than doubling into it.
        self.map.reserve(ids.len().saturating_sub(self.map.len()));
        self.by_pod
            .reserve(ids.len().saturating_sub(self.by_pod.len()));
        self.update_pods(store, ids.iter(), entry);
    }

    fn update_pods<'a, 'h>(
        &mut self,
        store: &PodStore<'h>,
        ids: impl Iterator<Item = &'a u32>,
        mut entry: impl FnMut(&'h Pod) -> Option<(K, V)>,
    ) {
        for id in ids {
            let want = store.pods.get(id).copied().and_then(&mut entry);
            // The same key as before (a pod changing state, not address): the value is
            // replaced in place.
            if let Some((key, value)) = &want
                && self.by_pod.get(id) == Some(key)
                && let Some(slot) = self.map.get_mut(key)
            {
                self.observer.removed(key, slot);
                self.observer.inserted(key, value);
                let (key, value) = want.expect("matched above");
                *slot = value;
                self.changed.push(key);
                continue;
            }
            if let Some(old) = self.by_pod.remove(id) {
                if let Some(v) = self.map.remove(&old) {
                    self.observer.removed(&old, &v);
                }
                self.changed.push(old);
            }
            if let Some((key, value)) = want {
                self.observer.inserted(&key, &value);
                self.map.insert(key.clone(), value);
                self.by_pod.insert(*id, key.clone());
                self.changed.push(key);
            }
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The values, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    /// The entries in key order: O(n log n), for a rebuild.
    pub fn sorted_entries(&self) -> Vec<(&K, &V)> {
        let mut entries: Vec<(&K, &V)> = self.map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }

    /// The keys changed since the last call, sorted, each once. `spare` (emptied) collects
    /// the next ones: callers hand back the vector of the previous call, so that neither
    /// grows anew on every sync.
    pub fn take_changed(&mut self, mut spare: Vec<K>) -> Vec<K> {
        spare.clear();
        let mut keys = std::mem::replace(&mut self.changed, spare);
        keys.sort();
        keys.dedup();
        keys
    }

    pub fn has_changes(&self) -> bool {
        !self.changed.is_empty()
    }
}

/// The port sets of a Service's pods, shared per pod template: every pod of a template
/// resolves the same named ports, so each set is resolved once and shared (`Arc`) by its
/// endpoints, across syncs until the Service's ports change ([`PortSets::clear`]).
pub struct PortSets<T>(HashMap<usize, (Template, Arc<Vec<T>>)>);

/// A pod template's named container ports.
type Template = Arc<BTreeMap<String, i32>>;

impl<T> Default for PortSets<T> {
    fn default() -> Self {
        PortSets(HashMap::default())
    }
}

impl<T> PortSets<T> {
    /// The port set of `pod`, resolved by `resolve` from its template's named ports.
    pub fn of(
        &mut self,
        pod: &Pod,
        resolve: impl FnOnce(&BTreeMap<String, i32>) -> Vec<T>,
    ) -> Arc<Vec<T>> {
        // Keyed by the template's address, looked up, never iterated; the entry holds the
        // template, so that the address cannot be reused by another while it is here.
        self.0
            .entry(Arc::as_ptr(&pod.container_ports) as usize)
            .or_insert_with(|| {
                let set = Arc::new(resolve(&pod.container_ports));
                (pod.container_ports.clone(), set)
            })
            .1
            .clone()
    }

    /// Forgets every set: the Service's ports changed, so each resolves anew.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// A controller: what [`drive`] needs of it.
/// `'h`: the history's lifetime; a controller may keep references to the pods it was shown.
pub trait Controller<'h> {
    /// Syncs one Service at time `t`: computes, writes, logs.
    fn sync(
        &mut self,
        t: Nanos,
        service: u32,
        spec: &ServiceSpec,
        store: &mut PodStore<'h>,
        log: &mut Vec<Write>,
    );
    /// A Node changed (deleted, Ready or not, joined, labelled); returns the Services to
    /// sync now (the EndpointSlice controller's topology queue: those whose hints the change
    /// overloads). The pods of a deleted or newly labelled Node are re-derived at their
    /// Services' next syncs.
    fn node(&mut self, _index: u32, _event: NodeEvent) -> Vec<u32> {
        Vec::new()
    }
    /// etcd refused `write` of the last sync of `service`: what the controller keeps is not
    /// what is stored, and its next sync must write again even if nothing changed. (Upstream
    /// the first error also aborts the rest of the sync's writes; only the Endpoints
    /// controller, one write per sync, can pass the limit in practice: a slice holds at most
    /// 1,000 endpoints, far below 1.5 MiB.)
    fn rejected(&mut self, _service: u32, _write: &Write) {}
    /// What the controller observed per sync, taken at the end of the run.
    fn per_sync(&mut self) -> PerSync {
        PerSync::default()
    }
    /// The changes of the Services' topology hints, taken at the end of the run.
    fn hint_events(&mut self) -> Vec<topology::HintEvent> {
        Vec::new()
    }
    /// The Services' routing states over time, taken at the end of the run.
    fn routing(&mut self) -> Vec<topology::RoutingSample> {
        Vec::new()
    }
    /// The final objects, in (namespace, name) order, with their sizes.
    fn finish(self) -> Vec<(Object, ObjectSizes)>;
}

enum Ev {
    /// A delayed `AddAfter` comes due: the key moves to the ready queue.
    Due(u32),
    /// A worker takes the key off the ready queue and syncs it.
    Sync(u32),
}

/// The next event: from the history, or from the queue.
enum Next<'h> {
    History(&'h Change),
    Queued(Ev),
}

/// The workqueue of one controller (client-go `workqueue` + `delaying_queue.go`): a key is
/// never in the ready queue twice, and a key waiting in the delay heap keeps its earlier time.
struct WorkQueue {
    ready: Vec<bool>,
    due: Vec<Option<Nanos>>,
}

impl WorkQueue {
    fn add(&mut self, q: &mut Queue<Ev>, t: Nanos, s: u32) {
        if !std::mem::replace(&mut self.ready[s as usize], true) {
            q.at(t, Ev::Sync(s));
        }
    }

    fn add_after(&mut self, q: &mut Queue<Ev>, t: Nanos, delay: Nanos, s: u32) {
        if delay == 0 {
            return self.add(q, t, s);
        }
        let due = &mut self.due[s as usize];
        if due.is_none_or(|d| t + delay < d) {
            *due = Some(t + delay);
            q.at(t + delay, Ev::Due(s));
        }
    }
}

/// Feeds a recorded history to a controller with the workqueue's batching, returning its run.
pub fn drive<'h, C: Controller<'h>>(
    c: C,
    history: &'h History,
    batch_period: Nanos,
    end: Nanos,
) -> ControllerRun {
    drive_events(
        c,
        &history.services,
        Recorded::new(&history.events),
        history.events.len(),
        batch_period,
        end,
    )
}

/// Feeds the events of a history of these `services` (as they are at t = 0) to a controller
/// with the workqueue's batching, returning its run. `expected_writes` reserves room in the
/// write log (address space only: pages are touched as writes fill them), so that it is not
/// copied while it grows; a forced run too large for the room starts without it.
pub fn drive_events<'h, C: Controller<'h>>(
    c: C,
    services: &[ServiceSpec],
    events: impl Events<'h>,
    expected_writes: usize,
    batch_period: Nanos,
    end: Nanos,
) -> ControllerRun {
    drive_admitted(
        c,
        services,
        events,
        Storage {
            expected_writes,
            refuses: &|_| false,
            retry: RetryPolicy::ENDPOINTS,
        },
        batch_period,
        end,
    )
}

/// Where a controller's writes go: room for them, which ones etcd refuses, and how the
/// controller retries a sync that failed.
pub struct Storage<'a> {
    pub expected_writes: usize,
    pub refuses: &'a (dyn Fn(&Write) -> bool + Sync),
    pub retry: RetryPolicy,
}

/// The workqueue's rate limiter of failed syncs (client-go `default_rate_limiters.go`):
/// `MaxOfRateLimiter(ItemExponentialFailureRateLimiter, BucketRateLimiter)`.
struct RateLimiter {
    policy: RetryPolicy,
    /// Failures per Service since it was last forgotten (`NumRequeues`).
    failures: Vec<u32>,
    /// The bucket's tokens, in billionths (`rate.Limiter`: refilled at `qps` per second up to
    /// `burst`, may go negative as reservations wait), at `last`.
    tokens: i128,
    last: Nanos,
}

impl RateLimiter {
    fn new(policy: RetryPolicy, services: usize) -> Self {
        RateLimiter {
            policy,
            failures: vec![0; services],
            tokens: i128::from(policy.burst) * i128::from(SECOND),
            last: 0,
        }
    }

    /// `handleErr` after a failed sync of `s` at `t`: the delay of its retry
    /// (`AddRateLimited`), or `None` when it has been retried `max_retries` times (then it is
    /// forgotten, and dropped until its next event).
    fn failed(&mut self, s: u32, t: Nanos) -> Option<Nanos> {
        let p = self.policy;
        let n = &mut self.failures[s as usize];
        if *n >= p.max_retries {
            *n = 0;
            return None;
        }
        // `ItemExponentialFailureRateLimiter.When`: base × 2^failures, at most the maximum.
        let exp = p
            .backoff
            .0
            .saturating_mul(1u64.checked_shl(*n).unwrap_or(u64::MAX))
            .min(p.max_backoff.0);
        *n += 1;
        // `BucketRateLimiter.When`: a reservation's delay.
        let per_second = i128::from(SECOND);
        let cap = i128::from(p.burst) * per_second;
        let qps = i128::from(p.qps);
        self.tokens = (self.tokens + i128::from(t - self.last) * qps).min(cap);
        self.last = t;
        self.tokens -= per_second;
        let bucket = if self.tokens >= 0 {
            0
        } else if qps == 0 {
            u64::MAX
        } else {
            u64::try_from((-self.tokens + qps - 1) / qps).unwrap_or(u64::MAX)
        };
        Some(exp.max(bucket))
    }

    /// A successful sync forgets the Service's failures (`queue.Forget`).
    fn succeeded(&mut self, s: u32) {
        self.failures[s as usize] = 0;
    }
}

/// [`drive_events`] against storage that may refuse writes: a refused write is marked
/// `failed`, the controller told, and the Service's sync retried with the rate limiter.
pub fn drive_admitted<'h, C: Controller<'h>>(
    mut c: C,
    services: &[ServiceSpec],
    events: impl Events<'h>,
    storage: Storage<'_>,
    batch_period: Nanos,
    end: Nanos,
) -> ControllerRun {
    let expected_writes = storage.expected_writes;
    // The history is read in time order beside the queue, which holds only the workqueue's
    // own events: a history event goes first at equal times, as if it had been queued before
    // them all (a queue holding the whole history costs a cache miss per level per event).
    let mut next = 0;
    let mut q = Queue::new();
    let mut services = services.to_vec();
    let n = services.len();
    let mut stores: Vec<PodStore> = (0..n).map(|_| PodStore::default()).collect();
    let mut wq = WorkQueue {
        ready: vec![false; n],
        due: vec![None; n],
    };
    let mut run = ControllerRun::default();
    let _ = run.writes.try_reserve(expected_writes);
    let mut limiter = RateLimiter::new(storage.retry, n);
    // The controller starts before the run: the Service add events enqueue every Service.
    for s in 0..n as u32 {
        wq.add(&mut q, 0, s);
    }
    loop {
        let from_history = events
            .event(next)
            .filter(|(t, _)| q.peek_time().is_none_or(|tq| *t <= tq));
        let (t, ev) = match from_history {
            Some((t, change)) => {
                next += 1;
                q.advance(*t);
                (*t, Next::History(change))
            }
            _ => match q.pop() {
                Some((t, ev)) => (t, Next::Queued(ev)),
                None => break,
            },
        };
        if t > end {
            break;
        }
        match ev {
            Next::History(change) => match change {
                Change::Pod { pod, deleted } => {
                    run.pod_events += 1;
                    let store = &mut stores[pod.service as usize];
                    if *deleted {
                        store.pods.remove(&pod.id);
                    } else {
                        store.pods.insert(pod.id, pod);
                    }
                    store.changed.push(pod.id);
                    wq.add_after(&mut q, t, batch_period, pod.service);
                }
                Change::Service { index, spec } => {
                    services[*index as usize] = (**spec).clone();
                    wq.add(&mut q, t, *index);
                }
                Change::Node { index, event } => {
                    for s in c.node(*index, *event) {
                        wq.add(&mut q, t, s);
                    }
                    // Their endpoints change (no Node, or a zone now) at the next sync.
                    if matches!(event, NodeEvent::Gone | NodeEvent::ZoneLabelled) {
                        for store in &mut stores {
                            let on_node: Vec<u32> = store
                                .pods
                                .values()
                                .filter(|p| p.node == *index)
                                .map(|p| p.id)
                                .collect();
                            store.changed.extend(on_node);
                        }
                    }
                }
            },
            Next::Queued(Ev::Due(s)) => {
                if wq.due[s as usize] == Some(t) {
                    wq.due[s as usize] = None;
                    wq.add(&mut q, t, s);
                }
            }
            Next::Queued(Ev::Sync(s)) => {
                let si = s as usize;
                wq.ready[si] = false;
                run.syncs += 1;
                stores[si].settle();
                let before = run.writes.len();
                c.sync(t, s, &services[si], &mut stores[si], &mut run.writes);
                stores[si].changed.clear();
                let refused = run.writes[before..]
                    .iter()
                    .position(|w| (storage.refuses)(w));
                match refused {
                    Some(i) => {
                        let w = &mut run.writes[before + i];
                        w.failed = true;
                        c.rejected(s, w);
                        if let Some(delay) = limiter.failed(s, t) {
                            wq.add_after(&mut q, t, delay.min(end), s);
                        }
                    }
                    None => limiter.succeeded(s),
                }
            }
        }
    }
    run.per_sync = c.per_sync();
    run.hint_events = c.hint_events();
    run.routing = c.routing();
    (run.final_objects, run.final_sizes) = c.finish().into_iter().unzip();
    run
}

/// Helpers for the upstream test vectors (`reconciler_test.go`, `endpoints_controller_test.go`):
/// Service `foo` in namespace `test` with one port `foo` TCP 80, no cluster IP; pod N has IP
/// 1.2.3.(4+N) on `node-1`.
#[cfg(test)]
pub(crate) mod testutil {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::cluster::{Node, Phase};
    use crate::scenario::{IpFamily, ServicePort, TargetPort};

    /// `s` made longer than any value a fill writes, so that a fill in place must shorten it.
    pub fn long(s: &str) -> String {
        format!("{s}-{}", "x".repeat(40))
    }

    /// A pod reference with every field set and longer than a fill writes.
    pub fn dirty_pod_ref() -> Option<Box<ObjectReference>> {
        Some(Box::new(ObjectReference {
            kind: long("Kind"),
            namespace: long("ns"),
            name: long("name"),
            uid: long("uid"),
            api_version: long("v"),
            resource_version: long("rv"),
            field_path: long("fp"),
        }))
    }

    pub fn service() -> ServiceSpec {
        ServiceSpec {
            namespace: "test".into(),
            name: "foo".into(),
            uid: "svc-uid".into(),
            labels: BTreeMap::new(),
            ports: vec![ServicePort {
                name: "foo".into(),
                protocol: "TCP".into(),
                port: 80,
                target_port: TargetPort::Number(80),
                app_protocol: None,
            }],
            container_ports: BTreeMap::new(),
            families: vec![IpFamily::IPv4],
            headless: true,
            publish_not_ready_addresses: false,
            hints: Default::default(),
            local_traffic: false,
            deleting: false,
            gone: false,
        }
    }

    pub fn nodes() -> Vec<Node> {
        vec![Node {
            name: "node-1".into(),
            zone: "".into(),
            cpu_milli: 1000,
        }]
    }

    pub fn pod(i: u32, ready: bool) -> Pod {
        Pod {
            id: i,
            service: 0,
            name: format!("pod{i}").into(),
            uid: format!("uid-{i}").into(),
            node: 0,
            node_name: "node-1".into(),
            ipv4: Some(
                Ipv4Addr::new(1, 2, 3 + ((4 + i) / 256) as u8, ((4 + i) % 256) as u8).into(),
            ),
            ipv6: None,
            phase: Phase::Running,
            ready,
            terminating: false,
            ready_changed: 0,
            container_ports: Arc::new(BTreeMap::new()),
        }
    }

    /// Pods `0..n`, pod i not ready when `i % 3 == 0` if `some_not_ready`, all present at t = 0.
    pub fn history(n: u32, some_not_ready: bool, spec: ServiceSpec) -> History {
        History {
            nodes: nodes(),
            services: vec![spec],
            events: (0..n)
                .map(|i| {
                    (
                        0,
                        Change::Pod {
                            pod: pod(i, !(some_not_ready && i % 3 == 0)),
                            deleted: false,
                        },
                    )
                })
                .collect(),
        }
    }

    /// A Service change at `t` (index 0).
    pub fn service_change(t: Nanos, spec: ServiceSpec) -> (Nanos, Change) {
        (
            t,
            Change::Service {
                index: 0,
                spec: Box::new(spec),
            },
        )
    }

    /// A pod change at `t`.
    pub fn pod_change(t: Nanos, pod: Pod, deleted: bool) -> (Nanos, Change) {
        (t, Change::Pod { pod, deleted })
    }

    pub fn ctx() -> MetaContext {
        MetaContext {
            start_unix: 1_767_225_600,
            managed_fields: true,
        }
    }

    pub fn ops(writes: &[Write]) -> (usize, usize, usize) {
        let n = |op| writes.iter().filter(|w| w.op == op).count();
        (n(Op::Create), n(Op::Update), n(Op::Delete))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: &[&str]) -> BTreeMap<String, String> {
        keys.iter()
            .map(|k| (k.to_string(), "v".to_string()))
            .collect()
    }

    /// Keys are equal, and hash equally, by value whether or not they share their strings;
    /// they order as the pair of strings.
    #[test]
    fn keys_compare_by_value_and_order_as_pairs() {
        use std::hash::BuildHasher;
        let k = |a: &str, b: &str| Key::new(a.into(), b.into());
        let hash = |k: &Key| rustc_hash::FxBuildHasher.hash_one(k);
        let a = k("pod-a", "10.0.0.1");
        assert_eq!(a, k("pod-a", "10.0.0.1"));
        assert_eq!(hash(&a), hash(&k("pod-a", "10.0.0.1")));
        assert_eq!(a, a.clone());
        assert_ne!(a, k("pod-a", "10.0.0.2"));
        assert_ne!(a, k("pod-b", "10.0.0.1"));
        // Not a concatenation: the boundary between the strings counts.
        assert_ne!(k("ab", "c"), k("a", "bc"));
        let mut keys = [k("b", "1"), k("a", "2"), k("a", "10"), k("", "z")];
        keys.sort();
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (&**k.first(), &**k.second())).collect();
        assert_eq!(pairs, [("", "z"), ("a", "10"), ("a", "2"), ("b", "1")]);
    }

    /// A template's port set is resolved once and shared until `clear`; another template
    /// gets its own.
    #[test]
    fn port_sets_resolve_once_per_template_until_cleared() {
        let mut sets: PortSets<String> = PortSets::default();
        let resolved = std::cell::Cell::new(0);
        let resolve = |named: &BTreeMap<String, i32>| {
            resolved.set(resolved.get() + 1);
            named.keys().cloned().collect::<Vec<String>>()
        };
        let a = testutil::pod(0, true);
        let mut same_template = testutil::pod(2, true);
        same_template.container_ports = a.container_ports.clone();
        let mut b = testutil::pod(1, true);
        b.container_ports = Arc::new(BTreeMap::from([("http".to_string(), 8080)]));
        let first = sets.of(&a, resolve);
        let again = sets.of(&same_template, resolve);
        assert!(Arc::ptr_eq(&first, &again), "same template, same set");
        let other = sets.of(&b, resolve);
        assert_eq!(*other, vec!["http".to_string()]);
        assert_eq!(resolved.get(), 2);
        sets.clear();
        let fresh = sets.of(&a, resolve);
        assert!(!Arc::ptr_eq(&first, &fresh), "resolved anew after clear");
        assert_eq!(resolved.get(), 3);
    }

    /// The memo gives, for every key set, the text built from that key set, also after more
    /// key sets than it remembers have come by; values never matter.
    #[test]
    fn fields_memo_text_follows_the_key_sets() {
        let mut memo = FieldsMemo::default();
        let t = |round: i64| Annotation::Time(Time(round));
        let sets: [(_, &[&'static str], _); 6] = [
            (map(&["a"]), &[], ""),
            (map(&["a"]), &["t"], ""),
            (map(&["a", "b"]), &["t"], ""),
            (map(&["a"]), &["t"], "uid-1"),
            (map(&["b"]), &["t", "u"], ""),
            (map(&["a"]), &[], ""),
        ];
        for round in 0..3 {
            for (labels, keys, owner) in &sets {
                let want = format!("{:?}|{keys:?}|{owner}", labels.keys().collect::<Vec<_>>());
                let mut relabelled = labels.clone();
                relabelled
                    .values_mut()
                    .for_each(|v| *v = format!("round {round}"));
                let annotations: Vec<_> = keys.iter().map(|k| (*k, t(round))).collect();
                let got = memo.get(&relabelled, 0, &annotations, owner, || {
                    serde_json::Value::String(want.clone())
                });
                assert_eq!(*got, format!("{want:?}"));
                // A revision stands for its labels and owner: the same text through it.
                let revision = 1 + sets
                    .iter()
                    .position(|s| s.0 == *labels && s.2 == *owner)
                    .unwrap() as u64;
                let got = memo.get(&relabelled, revision, &annotations, owner, || {
                    serde_json::Value::String(want.clone())
                });
                assert_eq!(*got, format!("{want:?}"));
            }
        }
    }

    #[test]
    fn labels_memo_derives_again_only_when_the_service_changes() {
        let mut spec = testutil::service();
        let mut memo = LabelsMemo::default();
        let mut derived = 0;
        let mut get = |memo: &mut LabelsMemo, spec: &ServiceSpec| {
            let (labels, revision) = memo.get(spec, |s| {
                derived += 1;
                let mut l = s.labels.clone();
                l.insert("name".into(), s.name.to_string());
                l
            });
            (labels.clone(), revision)
        };
        let (first, revision) = get(&mut memo, &spec);
        assert_eq!(
            first,
            BTreeMap::from([("name".to_string(), "foo".to_string())])
        );
        assert_eq!(revision, 1);
        assert_eq!(
            get(&mut memo, &spec).1,
            1,
            "unchanged Service, same revision"
        );
        spec.labels.insert("app".into(), "x".into());
        let (l, revision) = get(&mut memo, &spec);
        assert_eq!(l.get("app").map(String::as_str), Some("x"));
        assert_eq!(revision, 2);
        spec.headless = !spec.headless;
        assert_eq!(get(&mut memo, &spec).1, 3);
        // The UID and namespace do not change the labels, but the owner and namespace the
        // objects are written with: a new revision.
        spec.uid = "another-uid".into();
        assert_eq!(get(&mut memo, &spec).1, 4);
        spec.namespace = "elsewhere".into();
        assert_eq!(get(&mut memo, &spec).1, 5);
        assert_eq!(derived, 5);
    }

    /// client-go's controller rate limiter by hand: the Endpoints controller's per-item delays
    /// are 5 ms × 2^n (5, 10, 20, ... ms; 1000 s from the 19th failure on); after 15 retries
    /// the Service is dropped and its count forgotten, so the 16th failure starts over.
    #[test]
    fn retries_back_off_exponentially_then_drop() {
        let mut l = RateLimiter::new(RetryPolicy::ENDPOINTS, 2);
        let ms = SECOND / 1000;
        let delays: Vec<_> = (0..16).map(|_| l.failed(0, 0)).collect();
        assert_eq!(delays[0], Some(5 * ms));
        assert_eq!(delays[1], Some(10 * ms));
        assert_eq!(delays[14], Some((5 * ms) << 14)); // 81.92 s
        assert_eq!(delays[15], None, "dropped after 15 retries");
        assert_eq!(l.failed(0, 0), Some(5 * ms), "forgotten: starts over");
        // The maximum: the slice controller's 1 s base reaches 1000 s at the 11th failure
        // (2^10 s = 1024 s).
        let mut l = RateLimiter::new(RetryPolicy::ENDPOINTSLICES, 1);
        let d: Vec<_> = (0..11).map(|_| l.failed(0, 0)).collect();
        assert_eq!(d[9], Some(512 * SECOND));
        assert_eq!(d[10], Some(1000 * SECOND));
        // Success forgets.
        l.succeeded(0);
        assert_eq!(l.failed(0, 0), Some(SECOND));
    }

    /// The overall bucket (10 per second, burst 100): at one instant the first 100 retries
    /// of distinct Services pass at once, the 101st waits 0.1 s, the 102nd 0.2 s; a second
    /// later 10 more tokens are back.
    #[test]
    fn the_bucket_limits_retries_of_many_services() {
        let policy = RetryPolicy {
            backoff: crate::scenario::Duration(1),
            ..RetryPolicy::ENDPOINTS
        };
        let mut l = RateLimiter::new(policy, 200);
        for s in 0..100 {
            assert_eq!(l.failed(s, 0), Some(1));
        }
        assert_eq!(l.failed(100, 0), Some(SECOND / 10));
        assert_eq!(l.failed(101, 0), Some(2 * SECOND / 10));
        // At 1 s: -2 + 10 = 8 tokens.
        for s in 102..110 {
            assert_eq!(l.failed(s, SECOND), Some(1));
        }
        assert_eq!(l.failed(110, SECOND), Some(SECOND / 10));
    }
}
