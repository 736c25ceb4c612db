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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::cluster::{Change, History, Pod, ServiceSpec};
use crate::engine::{Nanos, Queue};
use crate::scenario::SECOND;
use crate::wire::ObjectSizes;
use crate::wire::model::{ManagedFieldsEntry, Object, Time};

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
}

/// What one controller did over a run.
#[derive(Clone, Debug, Default)]
pub struct ControllerRun {
    pub writes: Vec<Write>,
    pub syncs: u64,
    pub pod_events: u64,
    /// The objects at the end, in (namespace, name) order.
    pub final_objects: Vec<Object>,
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

    /// The trigger-time annotation value: RFC 3339 of a whole-second time (the Ready condition's
    /// `lastTransitionTime` has whole seconds), as `RFC3339Nano` prints it.
    pub fn trigger_annotation(&self, t: Nanos) -> String {
        self.time(t).to_string()
    }

    /// kube-controller-manager's `managedFields` entry: the field set of what it wrote.
    pub fn managed_fields(
        &self,
        t: Nanos,
        api_version: &str,
        fields: serde_json::Value,
    ) -> Vec<ManagedFieldsEntry> {
        if !self.managed_fields {
            return Vec::new();
        }
        let raw = crate::wire::gojson::to_vec(&fields).unwrap_or_default();
        vec![ManagedFieldsEntry {
            manager: "kube-controller-manager".into(),
            operation: "Update".into(),
            api_version: api_version.into(),
            time: Some(self.time(t)),
            fields_type: "FieldsV1".into(),
            fields_v1: Some(String::from_utf8_lossy(&raw).into_owned()),
            subresource: String::new(),
        }]
    }
}

/// `{"f:key":{},...}` with a `"."` entry, as structured-merge-diff writes a map's field set.
pub fn fields_of_map(m: &BTreeMap<String, String>) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert(".".into(), serde_json::json!({}));
    for k in m.keys() {
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
    seen: BTreeMap<Arc<str>, Nanos>,
    synced: bool,
}

impl TriggerTracker {
    pub fn compute<'a>(
        &mut self,
        changed: impl Iterator<Item = (&'a Arc<str>, Option<&'a Pod>)>,
    ) -> Option<Nanos> {
        let mut min: Option<Nanos> = None;
        for (name, pod) in changed {
            match pod {
                Some(p) => {
                    let last = self.seen.insert(name.clone(), p.ready_changed);
                    if last.is_none_or(|l| l < p.ready_changed) {
                        min = Some(min.map_or(p.ready_changed, |m| m.min(p.ready_changed)));
                    }
                }
                None => {
                    self.seen.remove(name);
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

/// The pods of one Service as the controller's informer sees them.
#[derive(Default)]
pub struct PodStore {
    pub pods: BTreeMap<Arc<str>, Pod>,
    /// Pods changed since the last sync.
    pub changed: BTreeSet<Arc<str>>,
}

/// A controller: what [`drive`] needs of it.
pub trait Controller {
    /// Syncs one Service at time `t`: computes, writes, logs.
    fn sync(
        &mut self,
        t: Nanos,
        service: u32,
        spec: &ServiceSpec,
        store: &mut PodStore,
        log: &mut Vec<Write>,
    );
    /// The final objects.
    fn finish(self) -> Vec<Object>;
}

enum Ev {
    History(usize),
    Sync(u32),
}

/// Feeds the history to a controller with the workqueue's batching, returning its run.
pub fn drive<C: Controller>(
    mut c: C,
    history: &History,
    batch_period: Nanos,
    end: Nanos,
) -> ControllerRun {
    let mut q = Queue::new();
    for (i, (t, _)) in history.events.iter().enumerate() {
        q.at(*t, Ev::History(i));
    }
    let mut services = history.services.clone();
    let mut stores: Vec<PodStore> = (0..services.len()).map(|_| PodStore::default()).collect();
    let mut due: Vec<Option<Nanos>> = vec![None; services.len()];
    let mut run = ControllerRun::default();
    // The controller starts before the run: every Service gets its first sync at t = 0.
    for s in 0..services.len() as u32 {
        q.at(0, Ev::Sync(s));
    }
    while let Some((t, ev)) = q.pop() {
        if t > end {
            break;
        }
        match ev {
            Ev::History(i) => match &history.events[i].1 {
                Change::Pod { pod, deleted } => {
                    run.pod_events += 1;
                    let s = pod.service as usize;
                    let store = &mut stores[s];
                    if *deleted {
                        store.pods.remove(&pod.name);
                    } else {
                        store.pods.insert(pod.name.clone(), pod.clone());
                    }
                    store.changed.insert(pod.name.clone());
                    // AddAfter(batchPeriod): a key already waiting keeps its earlier time.
                    if due[s].is_none() {
                        due[s] = Some(t + batch_period);
                        q.at(t + batch_period, Ev::Sync(s as u32));
                    }
                }
                Change::Service { index, spec } => {
                    services[*index as usize] = spec.clone();
                    q.at(t, Ev::Sync(*index));
                }
            },
            Ev::Sync(s) => {
                let si = s as usize;
                if due[si].is_some_and(|d| d <= t) {
                    due[si] = None;
                }
                run.syncs += 1;
                c.sync(t, s, &services[si], &mut stores[si], &mut run.writes);
                stores[si].changed.clear();
            }
        }
    }
    run.final_objects = c.finish();
    run
}
