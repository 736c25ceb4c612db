//! What the API server does with a hand-written controller's requests, one object kind at a
//! time: a Create of a name that exists fails (`AlreadyExists`) after its body was sent; an
//! Update without a resourceVersion is allowed for EndpointSlices and Endpoints
//! (`AllowUnconditionalUpdate` is true in `pkg/registry/discovery/endpointslice/strategy.go`
//! and `pkg/registry/core/endpoint/strategy.go`); an Update that leaves the object as stored is
//! a no-op: the field manager moves a manager's timestamp only when the operation took fields
//! (`managedfieldsupdater.go`, `Update`), so the encoded object is byte-equal to the stored one
//! and `GuaranteedUpdate` (`apiserver/pkg/storage/etcd3/store.go`) neither writes etcd nor
//! emits a watch event. An EndpointSlice's generation moves when anything but its metadata,
//! or its labels, change (`PrepareForUpdate`).
//!
//! The stored object is what the request carried plus the fields the server sets: uid,
//! resourceVersion, generation (slices), creationTimestamp and one managedFields entry of the
//! writer.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::observe::Delta;
use crate::cluster::random_uid;
use crate::controllers::{MetaContext, Op, Write, fields_of_keys};
use crate::engine::{Nanos, Rng};
use crate::wire::model::{ManagedFieldsEntry, ObjectMeta};
use crate::wire::{Object, ObjectSizes, fast};

/// One stored object.
struct Stored {
    /// The object as the writer last sent it (server-set fields empty).
    sent: Object,
    uid: String,
    created: Nanos,
    generation: i64,
    resource_version: u64,
    /// When its content last changed (the managedFields entry's time).
    changed: Nanos,
    sizes: ObjectSizes,
}

/// The objects of one writer, by name, and its request log.
pub struct Store<'c> {
    ctx: &'c MetaContext,
    /// The `manager` of the writer's managedFields entry.
    manager: &'static str,
    service: u32,
    headless: bool,
    objects: BTreeMap<String, Stored>,
    resource_version: u64,
    rng: Rng,
    pub writes: Vec<Write>,
    /// What each stored EndpointSlice write changed in the published addresses.
    pub deltas: Vec<(Nanos, Delta)>,
}

impl<'c> Store<'c> {
    pub fn new(
        ctx: &'c MetaContext,
        manager: &'static str,
        service: u32,
        headless: bool,
        rng: Rng,
    ) -> Self {
        Store {
            ctx,
            manager,
            service,
            headless,
            objects: BTreeMap::new(),
            resource_version: 0,
            rng,
            writes: Vec::new(),
            deltas: Vec::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Object> {
        self.objects.get(name).map(|s| &s.sent)
    }

    pub fn uid_of(&self, name: &str) -> Option<&str> {
        self.objects.get(name).map(|s| s.uid.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.objects.keys()
    }

    /// A new UID (for an owner the writer refers to).
    pub fn uid(&mut self) -> String {
        random_uid(&mut self.rng)
    }

    /// Logs a request: its body's size (none for a delete) and the object's sizes.
    #[allow(clippy::too_many_arguments)]
    fn log(
        &mut self,
        t: Nanos,
        op: Op,
        name: &str,
        namespace: &str,
        sizes: ObjectSizes,
        request_bytes: u64,
        endpoints: usize,
    ) -> usize {
        self.writes.push(Write {
            time: t,
            trigger: None,
            op,
            service: self.service,
            namespace: namespace.into(),
            name: Arc::from(name),
            headless: self.headless,
            sizes,
            request_bytes,
            endpoints: endpoints as u32,
            noop: false,
            failed: false,
        });
        self.writes.len() - 1
    }

    /// Logs a request with `body` that stored nothing: `failed`, or a no-op.
    fn log_unstored(&mut self, t: Nanos, op: Op, sizes: ObjectSizes, body: &Object, failed: bool) {
        let m = body.metadata();
        let (name, namespace) = (m.name.clone(), m.namespace.clone());
        let i = self.log(
            t,
            op,
            &name,
            &namespace,
            sizes,
            fast::sizes(body).proto,
            body.endpoint_count(),
        );
        self.writes[i].failed = failed;
        self.writes[i].noop = !failed;
    }

    /// Gives `s.sent` the fields the server sets: the stored object.
    fn fill(&self, s: &mut Stored) {
        let managed = self.ctx.managed_fields.then(|| ManagedFieldsEntry {
            manager: self.manager.into(),
            operation: "Update".into(),
            api_version: s.sent.api_version().into(),
            time: Some(self.ctx.time(s.changed)),
            fields_type: "FieldsV1".into(),
            fields_v1: Some(managed_fields_of(&s.sent)),
            subresource: String::new(),
        });
        let slice = matches!(s.sent, Object::EndpointSlice(_));
        let m = meta_mut(&mut s.sent);
        m.uid.clone_from(&s.uid);
        m.resource_version = s.resource_version.to_string();
        if slice {
            m.generation = s.generation;
        }
        m.creation_timestamp = Some(self.ctx.time(s.created));
        m.managed_fields = managed.into_iter().collect();
    }

    /// Stores `s` (just sent, as `s.sent`): logs the request and keeps the stored sizes,
    /// measuring the object in place (no copy of it).
    fn store(&mut self, t: Nanos, op: Op, name: &str, mut s: Stored) {
        let request = fast::sizes(&s.sent).proto;
        self.fill(&mut s);
        s.sizes = fast::sizes(&s.sent);
        let m = meta_mut(&mut s.sent);
        m.uid.clear();
        m.resource_version.clear();
        m.generation = 0;
        m.creation_timestamp = None;
        m.managed_fields.clear();
        let namespace = m.namespace.clone();
        let (sizes, endpoints) = (s.sizes, s.sent.endpoint_count());
        self.objects.insert(name.to_string(), s);
        self.log(t, op, name, &namespace, sizes, request, endpoints);
    }

    /// Records what a stored write from `old` to `new` changed in the published addresses.
    fn published(&mut self, t: Nanos, old: Option<&Object>, new: Option<&Object>) {
        let mut count: BTreeMap<Ipv4Addr, i64> = BTreeMap::new();
        for (o, d) in [(old, -1), (new, 1)] {
            for a in o.into_iter().flat_map(ready_addresses) {
                *count.entry(a).or_default() += d;
            }
        }
        let mut delta = Delta::default();
        for (a, n) in count {
            let list = if n < 0 {
                &mut delta.removed
            } else {
                &mut delta.added
            };
            list.extend(std::iter::repeat_n(a, n.unsigned_abs() as usize));
        }
        if !delta.removed.is_empty() || !delta.added.is_empty() {
            self.deltas.push((t, delta));
        }
    }

    /// POST. With `generateName` (the body has no name), the server picks a free name: the
    /// prefix and five random characters (`names.SimpleNameGenerator`). Returns the name, or
    /// `None` when it exists (`AlreadyExists`: the request was sent and failed).
    pub fn create(&mut self, t: Nanos, body: Object) -> Option<String> {
        let m = body.metadata();
        let name = if m.name.is_empty() {
            let mut n;
            loop {
                n = format!("{}{}", m.generate_name, suffix(&mut self.rng));
                if !self.objects.contains_key(&n) {
                    break;
                }
            }
            n
        } else {
            m.name.clone()
        };
        if self.objects.contains_key(&name) {
            self.log_unstored(t, Op::Create, ObjectSizes::default(), &body, true);
            return None;
        }
        self.published(t, None, Some(&body));
        self.resource_version += 1;
        // The request carries no name (generateName); the stored object has the one given.
        let request = fast::sizes(&body).proto;
        let mut sent = body;
        meta_mut(&mut sent).name.clone_from(&name);
        let s = Stored {
            uid: random_uid(&mut self.rng),
            created: t,
            generation: 1,
            resource_version: self.resource_version,
            changed: t,
            sizes: ObjectSizes::default(),
            sent,
        };
        self.store(t, Op::Create, &name, s);
        if let Some(w) = self.writes.last_mut() {
            w.request_bytes = request;
        }
        Some(name)
    }

    /// PUT of the whole object, without a resourceVersion. A no-op when nothing changes.
    pub fn update(&mut self, t: Nanos, body: Object) {
        let name = body.metadata().name.clone();
        let Some(mut s) = self.objects.remove(&name) else {
            // NotFound: sent and failed.
            self.log_unstored(t, Op::Update, ObjectSizes::default(), &body, true);
            return;
        };
        if content_eq(&s.sent, &body) {
            let sizes = s.sizes;
            self.objects.insert(name, s);
            self.log_unstored(t, Op::Update, sizes, &body, false);
            return;
        }
        if generation_moves(&s.sent, &body) {
            s.generation += 1;
        }
        self.published(t, Some(&s.sent), Some(&body));
        s.sent = body;
        s.changed = t;
        self.resource_version += 1;
        s.resource_version = self.resource_version;
        self.store(t, Op::Update, &name, s);
    }

    /// DELETE: the watch event carries the last state.
    pub fn delete(&mut self, t: Nanos, name: &str) {
        if let Some(s) = self.objects.remove(name) {
            self.published(t, Some(&s.sent), None);
            let namespace = s.sent.metadata().namespace.clone();
            self.log(t, Op::Delete, name, &namespace, s.sizes, 0, 0);
        }
    }

    /// The request log and the stored objects at the end with their sizes, in name order.
    pub fn finish(mut self) -> (Vec<Write>, Vec<(Object, ObjectSizes)>) {
        let objects = std::mem::take(&mut self.objects);
        let objects = objects
            .into_values()
            .map(|mut s| {
                self.fill(&mut s);
                (s.sent, s.sizes)
            })
            .collect();
        (self.writes, objects)
    }
}

/// The addresses of a slice's ready endpoints (none for Endpoints: watchers here route by
/// slices).
pub fn ready_addresses(o: &Object) -> Vec<Ipv4Addr> {
    match o {
        Object::EndpointSlice(s) => s
            .endpoints
            .iter()
            .filter(|e| e.conditions.ready != Some(false))
            .filter_map(|e| e.addresses.first()?.parse().ok())
            .collect(),
        Object::Endpoints(_) => Vec::new(),
    }
}

/// Five characters of `utilrand.String` (`k8s.io/apimachinery/pkg/util/rand`): consonants
/// and digits without look-alikes.
fn suffix(rng: &mut Rng) -> String {
    use rand::Rng as _;
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect()
}

fn meta_mut(o: &mut Object) -> &mut ObjectMeta {
    match o {
        Object::EndpointSlice(s) => &mut s.metadata,
        Object::Endpoints(e) => &mut e.metadata,
    }
}

/// The object the PUT would store is the stored one: same content and metadata the writer
/// controls (the server's fields are carried over from the stored object).
fn content_eq(a: &Object, b: &Object) -> bool {
    let (ma, mb) = (a.metadata(), b.metadata());
    let meta = ma.labels == mb.labels
        && ma.annotations == mb.annotations
        && ma.owner_references == mb.owner_references
        && ma.generate_name == mb.generate_name;
    meta && match (a, b) {
        (Object::EndpointSlice(x), Object::EndpointSlice(y)) => {
            x.address_type == y.address_type && x.endpoints == y.endpoints && x.ports == y.ports
        }
        (Object::Endpoints(x), Object::Endpoints(y)) => x.subsets == y.subsets,
        _ => false,
    }
}

/// `PrepareForUpdate` of EndpointSlices: the generation moves when anything but the metadata
/// changes, or the labels do. (Endpoints carry no generation.)
fn generation_moves(old: &Object, new: &Object) -> bool {
    match (old, new) {
        (Object::EndpointSlice(x), Object::EndpointSlice(y)) => {
            x.address_type != y.address_type
                || x.endpoints != y.endpoints
                || x.ports != y.ports
                || x.metadata.labels != y.metadata.labels
        }
        _ => false,
    }
}

/// The field set an Update of `o` owns (what the writer sent).
fn managed_fields_of(o: &Object) -> String {
    let m = o.metadata();
    let mut meta = serde_json::Map::new();
    if !m.annotations.is_empty() {
        meta.insert(
            "f:annotations".into(),
            fields_of_keys(m.annotations.keys().map(String::as_str)),
        );
    }
    if !m.generate_name.is_empty() {
        meta.insert("f:generateName".into(), serde_json::json!({}));
    }
    if !m.labels.is_empty() {
        meta.insert(
            "f:labels".into(),
            fields_of_keys(m.labels.keys().map(String::as_str)),
        );
    }
    if let Some(owner) = m.owner_references.first() {
        meta.insert(
            "f:ownerReferences".into(),
            serde_json::json!({".": {}, format!("k:{{\"uid\":\"{}\"}}", owner.uid): {}}),
        );
    }
    let mut top = serde_json::Map::new();
    match o {
        Object::EndpointSlice(_) => {
            top.insert("f:addressType".into(), serde_json::json!({}));
            top.insert("f:endpoints".into(), serde_json::json!({}));
            top.insert("f:metadata".into(), serde_json::Value::Object(meta));
            top.insert("f:ports".into(), serde_json::json!({}));
        }
        Object::Endpoints(_) => {
            top.insert("f:metadata".into(), serde_json::Value::Object(meta));
            top.insert("f:subsets".into(), serde_json::json!({}));
        }
    }
    let v = serde_json::Value::Object(top);
    crate::wire::gojson::to_vec(&v)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
