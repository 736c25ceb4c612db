//! The fast path: exact sizes without encoding, kept up to date in O(1) per edit.
//!
//! Both encodings are additive. A protobuf message is the sum of its fields, each
//! `tag + varint(len) + payload`; a JSON array is `[`, its items, the commas and `]`. So an
//! object's size is a handful of constant parts (metadata, ports, envelope) plus a running sum
//! over its endpoints (slices) or over its subsets, each itself a running sum over addresses
//! (Endpoints). [`SliceSizer`] and [`EndpointsSizer`] keep those sums; adding, removing or
//! replacing one endpoint or address costs the size of that element, never the size of the
//! object. [`SizedSlice`] and [`SizedEndpoints`] pair an object with its sizer so the two cannot
//! drift apart.
//!
//! Every function here restates one rule of `../shared/spec/wire-format.md` (protobuf) or of Go's
//! `encoding/json` with the `omitempty` tags of `k8s.io/api` (JSON). The property tests at the
//! bottom prove them equal to [`super::reference`] on random objects and random edit sequences.

use std::collections::BTreeMap;

use super::gojson::{int_len, string_len};
use super::model::*;
use super::{EventType, ObjectSizes};

// ---------------------------------------------------------------------------------------------
// Protobuf primitives
// ---------------------------------------------------------------------------------------------

/// Bytes of `v` as a protobuf varint.
pub fn varint_len(v: u64) -> u64 {
    u64::from(64 - (v | 1).leading_zeros()).div_ceil(7)
}

/// A length prefix plus a payload of `n` bytes.
fn ld(n: u64) -> u64 {
    varint_len(n) + n
}

/// A length-delimited field with a 1-byte tag (field numbers 1 to 15).
fn msg(payload: u64) -> u64 {
    1 + ld(payload)
}

fn str_field(s: &str) -> u64 {
    msg(s.len() as u64)
}

fn opt_str_field(s: &Option<String>) -> u64 {
    s.as_deref().map_or(0, str_field)
}

/// An int64/int32 varint field: negative values are sign-extended to 10 bytes.
fn int_field(v: i64) -> u64 {
    1 + varint_len(v as u64)
}

fn bool_field(b: Option<bool>) -> u64 {
    if b.is_some() { 2 } else { 0 }
}

/// `metav1.Time` payload: empty for the zero time, else `Timestamp{seconds, nanos: 0}`.
fn time_payload(t: Option<Time>) -> u64 {
    t.map_or(0, |t| int_field(t.0) + 2)
}

fn map_fields(m: &BTreeMap<String, String>) -> u64 {
    m.iter()
        .map(|(k, v)| msg(str_field(k) + str_field(v)))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// JSON primitives
// ---------------------------------------------------------------------------------------------

/// A JSON object under construction: braces, `"key":value` members, commas.
#[derive(Clone, Copy)]
struct JsonObj {
    len: u64,
    members: u64,
}

impl JsonObj {
    fn new() -> Self {
        JsonObj { len: 2, members: 0 }
    }

    /// A member whose key needs no escaping.
    fn member(&mut self, key: &str, value_len: u64) -> &mut Self {
        self.len += key.len() as u64 + 3 + value_len;
        self.members += 1;
        self
    }

    fn str(&mut self, key: &str, v: &str) -> &mut Self {
        self.member(key, string_len(v) as u64)
    }

    /// A Go `string` with `omitempty`.
    fn str_nonempty(&mut self, key: &str, v: &str) -> &mut Self {
        if !v.is_empty() {
            self.str(key, v);
        }
        self
    }

    /// A Go `*string` with `omitempty`.
    fn str_opt(&mut self, key: &str, v: &Option<String>) -> &mut Self {
        if let Some(v) = v {
            self.str(key, v);
        }
        self
    }

    fn bool_opt(&mut self, key: &str, v: Option<bool>) -> &mut Self {
        if let Some(b) = v {
            self.member(key, if b { 4 } else { 5 });
        }
        self
    }

    fn int_opt(&mut self, key: &str, v: Option<i64>) -> &mut Self {
        if let Some(v) = v {
            self.member(key, int_len(v) as u64);
        }
        self
    }

    /// A Go `map[string]string` with `omitempty`.
    fn map_nonempty(&mut self, key: &str, m: &BTreeMap<String, String>) -> &mut Self {
        if !m.is_empty() {
            self.member(key, json_map(m));
        }
        self
    }

    /// A Go slice with `omitempty`.
    fn array_nonempty(&mut self, key: &str, items: Items) -> &mut Self {
        if items.count > 0 {
            self.member(key, items.json_array());
        }
        self
    }

    fn end(&self) -> u64 {
        self.len + self.members.saturating_sub(1)
    }
}

fn json_map(m: &BTreeMap<String, String>) -> u64 {
    let mut o = JsonObj::new();
    for (k, v) in m {
        o.len += (string_len(k) + 1 + string_len(v)) as u64;
        o.members += 1;
    }
    o.end()
}

/// `metav1.Time` in JSON: RFC 3339 with whole seconds, quoted.
fn json_time(t: Time) -> u64 {
    // Years 0000 to 9999 always format to `"YYYY-MM-DDTHH:MM:SSZ"`.
    const YEAR_0: i64 = -62_167_219_200;
    const YEAR_10000: i64 = 253_402_300_800;
    if (YEAR_0..YEAR_10000).contains(&t.0) {
        22
    } else {
        t.to_string().len() as u64 + 2
    }
}

// ---------------------------------------------------------------------------------------------
// Running sums of array items
// ---------------------------------------------------------------------------------------------

/// The size of one element: as a protobuf field (tag, length, payload) and as a JSON value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Part {
    pub proto: u64,
    pub json: u64,
}

/// A running sum over the items of a repeated field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Items {
    pub proto: u64,
    pub json: u64,
    pub count: u64,
}

impl Items {
    fn of<T>(items: &[T], part: impl Fn(&T) -> Part) -> Items {
        let mut sum = Items::default();
        for item in items {
            sum.add(part(item));
        }
        sum
    }

    fn add(&mut self, p: Part) {
        self.proto += p.proto;
        self.json += p.json;
        self.count += 1;
    }

    fn remove(&mut self, p: Part) {
        self.proto -= p.proto;
        self.json -= p.json;
        self.count -= 1;
    }

    fn json_array(&self) -> u64 {
        2 + self.json + self.count.saturating_sub(1)
    }

    /// A Go slice without `omitempty`: nil is `null`.
    fn json_array_or_null(&self) -> u64 {
        if self.count == 0 {
            4
        } else {
            self.json_array()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Element sizes
// ---------------------------------------------------------------------------------------------

fn owner_part(o: &OwnerReference) -> Part {
    let payload = str_field(&o.kind)
        + str_field(&o.name)
        + str_field(&o.uid)
        + str_field(&o.api_version)
        + bool_field(o.controller)
        + bool_field(o.block_owner_deletion);
    let json = JsonObj::new()
        .str("apiVersion", &o.api_version)
        .str("kind", &o.kind)
        .str("name", &o.name)
        .str("uid", &o.uid)
        .bool_opt("controller", o.controller)
        .bool_opt("blockOwnerDeletion", o.block_owner_deletion)
        .end();
    Part {
        proto: msg(payload),
        json,
    }
}

fn managed_part(m: &ManagedFieldsEntry) -> Part {
    managed_part_of(
        ManagedView {
            manager: &m.manager,
            operation: &m.operation,
            api_version: &m.api_version,
            time: m.time,
            fields_type: &m.fields_type,
            fields_v1: m.fields_v1.as_deref(),
            subresource: &m.subresource,
        },
        |s| string_len(s) as u64,
    )
}

/// The fields of a `managedFields` entry, wherever they are held.
struct ManagedView<'a> {
    manager: &'a str,
    operation: &'a str,
    api_version: &'a str,
    time: Option<Time>,
    fields_type: &'a str,
    fields_v1: Option<&'a str>,
    subresource: &'a str,
}

/// A `managedFields` entry as a field and as a JSON value; `json_len` gives a string's JSON
/// length (quotes included).
fn managed_part_of(m: ManagedView<'_>, json_len: impl Fn(&str) -> u64) -> Part {
    let fields_v1 = m.fields_v1.map_or(0, |raw| {
        msg(if raw.is_empty() { 0 } else { str_field(raw) })
    });
    let payload = str_field(m.manager)
        + str_field(m.operation)
        + str_field(m.api_version)
        + m.time.map_or(0, |t| msg(time_payload(Some(t))))
        + str_field(m.fields_type)
        + fields_v1
        + str_field(m.subresource);
    let mut json = JsonObj::new();
    for (key, v) in [
        ("manager", m.manager),
        ("operation", m.operation),
        ("apiVersion", m.api_version),
        ("fieldsType", m.fields_type),
        ("subresource", m.subresource),
    ] {
        if !v.is_empty() {
            json.member(key, json_len(v));
        }
    }
    if let Some(t) = m.time {
        json.member("time", json_time(t));
    }
    if let Some(raw) = m.fields_v1 {
        // The raw text is compact JSON as Go writes it, so it is its own JSON length.
        json.member("fieldsV1", raw.len() as u64);
    }
    Part {
        // ObjectMeta.managedFields is field 17: a 2-byte tag.
        proto: 1 + msg(payload),
        json: json.end(),
    }
}

/// What a request body leaves out of an object's stored metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Omit {
    /// `managedFields`: the API server sets them.
    pub managed_fields: bool,
    /// `uid`, `resourceVersion`, `generation`, `creationTimestamp`: set by the API server on
    /// create.
    pub server_set: bool,
    /// `name`: a create by `generateName` carries none.
    pub name: bool,
}

/// ObjectMeta as a field (`0a len payload`) and as a JSON value.
pub fn meta_part(m: &ObjectMeta) -> Part {
    meta_parts(m, Omit::default()).0
}

/// [`meta_part`] of `m` with the fields `omit` names cleared (empty, zero, absent), without
/// building that copy: a request body's metadata from the stored object's.
pub fn meta_part_omitting(m: &ObjectMeta, omit: Omit) -> Part {
    meta_parts(m, omit).1
}

/// [`meta_part`] and [`meta_part_omitting`] of `m` at once: the fields both share (labels,
/// owners: most of the bytes) are measured once.
pub fn meta_parts(m: &ObjectMeta, omit: Omit) -> (Part, Part) {
    combine(&StablePart::of(m), &VolatilePart::of_text(m), omit)
}

/// The size of the metadata fields that stay the same from one write of an object to the
/// next: `generateName`, `namespace`, `selfLink`, the deletion fields, `labels`,
/// `ownerReferences` and `finalizers`, and the fields set when the object is created: `name`,
/// `uid` and `creationTimestamp`. Kept by [`SizedSlice`] and [`SizedEndpoints`] until an edit
/// touches one of them ([`MetaEdit::stable`]).
#[derive(Clone, Copy)]
pub struct StablePart {
    proto: u64,
    json: JsonObj,
    name: Text,
    uid: Text,
    creation_timestamp: Option<Time>,
}

impl std::fmt::Debug for StablePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StablePart")
            .field("proto", &self.proto)
            .field("json", &self.json.len)
            .finish()
    }
}

/// A string field a request may leave out: its length, and its JSON member
/// (`"key":"value"`), absent when the string is empty.
#[derive(Clone, Copy, Default)]
struct Text {
    len: u64,
    member: Option<u64>,
}

impl Text {
    fn of(key: &str, v: &str) -> Self {
        Text {
            len: v.len() as u64,
            member: (!v.is_empty()).then(|| key.len() as u64 + 3 + string_len(v) as u64),
        }
    }
}

impl StablePart {
    fn of(m: &ObjectMeta) -> Self {
        let owners = Items::of(&m.owner_references, owner_part);
        let finalizers = Items::of(&m.finalizers, |f| Part {
            proto: str_field(f),
            json: string_len(f) as u64,
        });
        let proto = str_field(&m.generate_name)
            + str_field(&m.namespace)
            + str_field(&m.self_link)
            + m.deletion_timestamp
                .map_or(0, |t| msg(time_payload(Some(t))))
            + m.deletion_grace_period_seconds.map_or(0, int_field)
            + map_fields(&m.labels)
            + owners.proto
            + finalizers.proto;
        let mut json = JsonObj::new();
        json.str_nonempty("generateName", &m.generate_name)
            .str_nonempty("namespace", &m.namespace)
            .str_nonempty("selfLink", &m.self_link)
            .int_opt(
                "deletionGracePeriodSeconds",
                m.deletion_grace_period_seconds,
            )
            .map_nonempty("labels", &m.labels)
            .array_nonempty("ownerReferences", owners)
            .array_nonempty("finalizers", finalizers);
        if let Some(t) = m.deletion_timestamp {
            json.member("deletionTimestamp", json_time(t));
        }
        StablePart {
            proto,
            json,
            name: Text::of("name", &m.name),
            uid: Text::of("uid", &m.uid),
            creation_timestamp: m.creation_timestamp,
        }
    }
}

/// The size of the metadata fields a controller writes anew on every write: the
/// `resourceVersion`, the `generation`, the annotations and the `managedFields`.
struct VolatilePart {
    resource_version: Text,
    generation: i64,
    /// The annotations as protobuf map entries, and as a JSON object (absent when empty).
    annotations: u64,
    annotations_json: Option<u64>,
    managed: Items,
}

impl VolatilePart {
    fn of_text(m: &ObjectMeta) -> Self {
        VolatilePart {
            resource_version: Text::of("resourceVersion", &m.resource_version),
            generation: m.generation,
            annotations: map_fields(&m.annotations),
            annotations_json: (!m.annotations.is_empty()).then(|| json_map(&m.annotations)),
            managed: Items::of(&m.managed_fields, managed_part),
        }
    }

    /// By arithmetic: every string a stamp holds is plain (digits, RFC 3339 times, this
    /// crate's constants), so its JSON length is its length plus quotes; `fieldsV1` is raw
    /// JSON, its own length.
    fn of_stamp(s: &Stamp) -> Self {
        let rv = decimal_len(s.resource_version);
        let mut annotations = 0;
        let mut json = JsonObj::new();
        for (key, value) in &s.annotations {
            let len = value.len();
            annotations += msg(str_field(key) + msg(len));
            json.len += plain_len(key) + 1 + len + 2;
            json.members += 1;
        }
        VolatilePart {
            resource_version: Text {
                len: rv,
                member: Some("resourceVersion".len() as u64 + 3 + rv + 2),
            },
            generation: s.generation,
            annotations,
            annotations_json: (!s.annotations.is_empty()).then(|| json.end()),
            managed: Items::of(s.managed.as_slice(), Managed::part),
        }
    }
}

impl Managed {
    /// [`managed_part`] of the entry, its strings (this crate's constants) not scanned.
    fn part(&self) -> Part {
        managed_part_of(
            ManagedView {
                manager: self.manager,
                operation: self.operation,
                api_version: self.api_version,
                time: Some(self.time),
                fields_type: self.fields_type,
                fields_v1: Some(&self.fields_v1),
                subresource: "",
            },
            plain_len,
        )
    }
}

/// Bytes of `v` in decimal.
fn decimal_len(v: u64) -> u64 {
    u64::from(v.checked_ilog10().unwrap_or(0)) + 1
}

/// The JSON length of one of this crate's constant strings (plain ASCII, checked in debug
/// builds), quotes included.
fn plain_len(s: &str) -> u64 {
    debug_assert_eq!(string_len(s), s.len() + 2, "{s:?} is not plain");
    s.len() as u64 + 2
}

/// The metadata as a field and as a JSON value, whole and with the fields `omit` names left
/// out, from the sizes of its stable and volatile fields.
fn combine(stable: &StablePart, v: &VolatilePart, omit: Omit) -> (Part, Part) {
    // The fields both share: the stable ones and the annotations.
    let shared_payload = stable.proto + v.annotations;
    let mut shared = stable.json;
    if let Some(len) = v.annotations_json {
        shared.member("annotations", len);
    }
    // The shared part plus the fields a request may leave out.
    let part =
        |texts: [Text; 3], generation: i64, creation_timestamp: Option<Time>, managed: Items| {
            let mut payload = shared_payload
                + int_field(generation)
                + msg(time_payload(creation_timestamp))
                + managed.proto;
            let mut json = shared;
            for t in texts {
                payload += msg(t.len);
                if let Some(member) = t.member {
                    json.len += member;
                    json.members += 1;
                }
            }
            json.int_opt("generation", (generation != 0).then_some(generation))
                // A zero Time is a struct, which omitempty never omits: it is written as null.
                .member("creationTimestamp", creation_timestamp.map_or(4, json_time))
                .array_nonempty("managedFields", managed);
            Part {
                proto: msg(payload),
                json: json.end(),
            }
        };
    let full = part(
        [stable.name, stable.uid, v.resource_version],
        v.generation,
        stable.creation_timestamp,
        v.managed,
    );
    let cleared = Text::default();
    let name = if omit.name { cleared } else { stable.name };
    let (uid, resource_version, generation, creation_timestamp) = if omit.server_set {
        (cleared, cleared, 0, None)
    } else {
        (
            stable.uid,
            v.resource_version,
            v.generation,
            stable.creation_timestamp,
        )
    };
    let managed = if omit.managed_fields {
        Items::default()
    } else {
        v.managed
    };
    let omitted = part(
        [name, uid, resource_version],
        generation,
        creation_timestamp,
        managed,
    );
    (full, omitted)
}

fn object_ref_part(r: &ObjectReference) -> Part {
    let payload = str_field(&r.kind)
        + str_field(&r.namespace)
        + str_field(&r.name)
        + str_field(&r.uid)
        + str_field(&r.api_version)
        + str_field(&r.resource_version)
        + str_field(&r.field_path);
    let json = JsonObj::new()
        .str_nonempty("kind", &r.kind)
        .str_nonempty("namespace", &r.namespace)
        .str_nonempty("name", &r.name)
        .str_nonempty("uid", &r.uid)
        .str_nonempty("apiVersion", &r.api_version)
        .str_nonempty("resourceVersion", &r.resource_version)
        .str_nonempty("fieldPath", &r.field_path)
        .end();
    Part {
        proto: msg(payload),
        json,
    }
}

fn for_names(names: &[ForName]) -> Items {
    Items::of(names, |n| Part {
        proto: msg(str_field(&n.name)),
        json: JsonObj::new().str("name", &n.name).end(),
    })
}

/// One EndpointSlice endpoint as an item of `endpoints` (field 2).
pub fn endpoint_part(version: SliceVersion, e: &Endpoint) -> Part {
    let addresses = Items::of(&e.addresses, |a| Part {
        proto: str_field(a),
        json: string_len(a) as u64,
    });
    let c = &e.conditions;
    let target_ref = e.target_ref.as_deref().map(object_ref_part);
    let zone = match version {
        SliceVersion::V1 => &e.zone,
        SliceVersion::V1Beta1 => &None,
    };
    let hints = e.hints.as_ref().map(|h| {
        let (zones, nodes) = (for_names(&h.for_zones), for_names(&h.for_nodes));
        Part {
            proto: msg(zones.proto + nodes.proto),
            json: JsonObj::new()
                .array_nonempty("forZones", zones)
                .array_nonempty("forNodes", nodes)
                .end(),
        }
    });
    let payload = addresses.proto
        + msg(bool_field(c.ready) + bool_field(c.serving) + bool_field(c.terminating))
        + opt_str_field(&e.hostname)
        + target_ref.map_or(0, |p| p.proto)
        + map_fields(&e.deprecated_topology)
        + opt_str_field(&e.node_name)
        + opt_str_field(zone)
        + hints.map_or(0, |p| p.proto);
    let topology_key = match version {
        SliceVersion::V1 => "deprecatedTopology",
        SliceVersion::V1Beta1 => "topology",
    };
    let mut json = JsonObj::new();
    json.member("addresses", addresses.json_array_or_null())
        .member(
            "conditions",
            JsonObj::new()
                .bool_opt("ready", c.ready)
                .bool_opt("serving", c.serving)
                .bool_opt("terminating", c.terminating)
                .end(),
        )
        .str_opt("hostname", &e.hostname)
        .map_nonempty(topology_key, &e.deprecated_topology)
        .str_opt("nodeName", &e.node_name)
        .str_opt("zone", zone);
    if let Some(p) = target_ref {
        json.member("targetRef", p.json);
    }
    if let Some(p) = hints {
        json.member("hints", p.json);
    }
    Part {
        proto: msg(payload),
        json: json.end(),
    }
}

/// One EndpointSlice port as an item of `ports` (field 3).
pub fn slice_port_part(p: &EndpointPort) -> Part {
    let payload = opt_str_field(&p.name)
        + opt_str_field(&p.protocol)
        + p.port.map_or(0, |v| int_field(v.into()))
        + opt_str_field(&p.app_protocol);
    let json = JsonObj::new()
        .str_opt("name", &p.name)
        .str_opt("protocol", &p.protocol)
        .int_opt("port", p.port.map(i64::from))
        .str_opt("appProtocol", &p.app_protocol)
        .end();
    Part {
        proto: msg(payload),
        json,
    }
}

/// One Endpoints address as an item of `addresses` or `notReadyAddresses`.
pub fn address_part(a: &EndpointAddress) -> Part {
    let target_ref = a.target_ref.as_deref().map(object_ref_part);
    let payload = str_field(&a.ip)
        + target_ref.map_or(0, |p| p.proto)
        + str_field(&a.hostname)
        + opt_str_field(&a.node_name);
    let mut json = JsonObj::new();
    json.str("ip", &a.ip)
        .str_nonempty("hostname", &a.hostname)
        .str_opt("nodeName", &a.node_name);
    if let Some(p) = target_ref {
        json.member("targetRef", p.json);
    }
    Part {
        proto: msg(payload),
        json: json.end(),
    }
}

fn core_port_part(p: &CoreEndpointPort) -> Part {
    let payload = str_field(&p.name)
        + int_field(p.port.into())
        + str_field(&p.protocol)
        + opt_str_field(&p.app_protocol);
    let json = JsonObj::new()
        .str_nonempty("name", &p.name)
        .member("port", int_len(p.port.into()) as u64)
        .str_nonempty("protocol", &p.protocol)
        .str_opt("appProtocol", &p.app_protocol)
        .end();
    Part {
        proto: msg(payload),
        json,
    }
}

// ---------------------------------------------------------------------------------------------
// Envelope and watch framing
// ---------------------------------------------------------------------------------------------

/// `k8s\0` + `runtime.Unknown{typeMeta{apiVersion, kind}, raw, contentEncoding: "", contentType: ""}`.
pub fn enveloped_len(api_version: &str, kind: &str, raw: u64) -> u64 {
    let type_meta = str_field(api_version) + str_field(kind);
    4 + msg(type_meta) + msg(raw) + 2 + 2
}

/// A protobuf watch frame: 4-byte length, then `WatchEvent{type, object: RawExtension{raw}}`.
pub fn proto_watch_frame_len(event: EventType, enveloped: u64) -> u64 {
    4 + str_field(event.as_str()) + msg(msg(enveloped))
}

/// A JSON watch line: `{"type":"<T>","object":<json>}` and a newline.
pub fn json_watch_line_len(event: EventType, json: u64) -> u64 {
    r#"{"type":"","object":}"#.len() as u64 + event.as_str().len() as u64 + json + 1
}

/// `"apiVersion":...,"kind":...,"metadata":...`: the members every object starts with.
/// `apiVersion`, `kind` and `metadata`. The version and kind are this crate's constants,
/// plain ASCII, so each is its length plus quotes (not scanned on every write).
fn json_header(api_version: &'static str, kind: &'static str, meta: Part) -> JsonObj {
    debug_assert_eq!(string_len(api_version), api_version.len() + 2);
    debug_assert_eq!(string_len(kind), kind.len() + 2);
    let mut obj = JsonObj::new();
    obj.member("apiVersion", api_version.len() as u64 + 2)
        .member("kind", kind.len() as u64 + 2)
        .member("metadata", meta.json);
    obj
}

// ---------------------------------------------------------------------------------------------
// Incremental sizers
// ---------------------------------------------------------------------------------------------

/// Sizes of an EndpointSlice, kept up to date edit by edit.
#[derive(Clone, Debug)]
pub struct SliceSizer {
    version: SliceVersion,
    meta: Part,
    address_type: String,
    endpoints: Items,
    ports: Items,
}

impl SliceSizer {
    /// Sizes a whole slice once: O(endpoints).
    pub fn new(s: &EndpointSlice) -> Self {
        SliceSizer {
            version: s.version,
            meta: meta_part(&s.metadata),
            address_type: s.address_type.clone(),
            endpoints: Items::of(&s.endpoints, |e| endpoint_part(s.version, e)),
            ports: Items::of(&s.ports, slice_port_part),
        }
    }

    pub fn add_endpoint(&mut self, e: &Endpoint) {
        self.endpoints.add(endpoint_part(self.version, e));
    }

    /// Swaps one endpoint's size for another's: the whole cost of a changed endpoint, given
    /// the parts ([`endpoint_part`]) of the old and the new endpoint.
    pub fn replace_part(&mut self, old: Part, new: Part) {
        self.endpoints.add(new);
        self.endpoints.remove(old);
    }

    /// `e` must be an endpoint that was added before (its size is subtracted).
    pub fn remove_endpoint(&mut self, e: &Endpoint) {
        self.endpoints.remove(endpoint_part(self.version, e));
    }

    pub fn set_metadata(&mut self, m: &ObjectMeta) {
        self.meta = meta_part(m);
    }

    pub fn set_ports(&mut self, ports: &[EndpointPort]) {
        self.ports = Items::of(ports, slice_port_part);
    }

    pub fn endpoint_count(&self) -> u64 {
        self.endpoints.count
    }

    pub fn sizes(&self) -> ObjectSizes {
        self.sizes_with_meta(self.meta)
    }

    /// The sizes with metadata of size `meta` instead of the object's own.
    fn sizes_with_meta(&self, meta: Part) -> ObjectSizes {
        let api_version = self.version.api_version();
        let raw =
            meta.proto + self.endpoints.proto + self.ports.proto + str_field(&self.address_type);
        let json = json_header(api_version, "EndpointSlice", meta)
            .str("addressType", &self.address_type)
            .member("endpoints", self.endpoints.json_array_or_null())
            .member("ports", self.ports.json_array_or_null())
            .end();
        ObjectSizes::from_object_sizes(enveloped_len(api_version, "EndpointSlice", raw), json)
    }
}

/// Running sums of one Endpoints subset.
#[derive(Clone, Copy, Debug, Default)]
struct SubsetSums {
    addresses: Items,
    not_ready: Items,
    ports: Items,
}

impl SubsetSums {
    fn new(s: &EndpointSubset) -> Self {
        SubsetSums {
            addresses: Items::of(&s.addresses, address_part),
            not_ready: Items::of(&s.not_ready_addresses, address_part),
            ports: Items::of(&s.ports, core_port_part),
        }
    }

    fn list(&mut self, ready: bool) -> &mut Items {
        if ready {
            &mut self.addresses
        } else {
            &mut self.not_ready
        }
    }

    fn part(&self) -> Part {
        Part {
            proto: msg(self.addresses.proto + self.not_ready.proto + self.ports.proto),
            json: JsonObj::new()
                .array_nonempty("addresses", self.addresses)
                .array_nonempty("notReadyAddresses", self.not_ready)
                .array_nonempty("ports", self.ports)
                .end(),
        }
    }
}

/// Sizes of an Endpoints object, kept up to date edit by edit. An address edit touches one
/// subset's sums and the running total over subsets: O(1) whatever the number of addresses.
#[derive(Clone, Debug)]
pub struct EndpointsSizer {
    meta: Part,
    subsets: Vec<SubsetSums>,
    total: Items,
}

impl EndpointsSizer {
    /// Sizes a whole object once: O(addresses).
    pub fn new(e: &Endpoints) -> Self {
        let subsets: Vec<SubsetSums> = e.subsets.iter().map(SubsetSums::new).collect();
        EndpointsSizer {
            meta: meta_part(&e.metadata),
            total: Items::of(&subsets, SubsetSums::part),
            subsets,
        }
    }

    fn edit_subset(&mut self, i: usize, edit: impl FnOnce(&mut SubsetSums)) {
        let sums = &mut self.subsets[i];
        self.total.remove(sums.part());
        edit(sums);
        self.total.add(sums.part());
    }

    /// Adds an address to subset `i`'s `addresses` (ready) or `notReadyAddresses`.
    pub fn add_address(&mut self, i: usize, ready: bool, a: &EndpointAddress) {
        self.edit_subset(i, |s| s.list(ready).add(address_part(a)));
    }

    /// Removes an address that was added before.
    pub fn remove_address(&mut self, i: usize, ready: bool, a: &EndpointAddress) {
        self.edit_subset(i, |s| s.list(ready).remove(address_part(a)));
    }

    /// Swaps one address's size for another's in subset `i`, given their [`address_part`]s.
    pub fn replace_address_part(&mut self, i: usize, ready: bool, old: Part, new: Part) {
        self.edit_subset(i, |s| {
            let list = s.list(ready);
            list.add(new);
            list.remove(old);
        });
    }

    /// Inserts a subset at position `i`.
    pub fn insert_subset(&mut self, i: usize, s: &EndpointSubset) {
        let sums = SubsetSums::new(s);
        self.total.add(sums.part());
        self.subsets.insert(i, sums);
    }

    /// Removes the subset at position `i`.
    pub fn remove_subset(&mut self, i: usize) {
        let sums = self.subsets.remove(i);
        self.total.remove(sums.part());
    }

    pub fn set_metadata(&mut self, m: &ObjectMeta) {
        self.meta = meta_part(m);
    }

    pub fn sizes(&self) -> ObjectSizes {
        self.sizes_with_meta(self.meta)
    }

    /// The sizes with metadata of size `meta` instead of the object's own.
    fn sizes_with_meta(&self, meta: Part) -> ObjectSizes {
        let raw = meta.proto + self.total.proto;
        let json = json_header("v1", "Endpoints", meta)
            .array_nonempty("subsets", self.total)
            .end();
        ObjectSizes::from_object_sizes(enveloped_len("v1", "Endpoints", raw), json)
    }
}

/// The metadata fields a controller writes anew on every write of an object, held as values:
/// the `resourceVersion`, the `generation`, the annotations and the `managedFields`. Once an
/// edit has stamped a [`SizedSlice`] or [`SizedEndpoints`], those four fields of its metadata
/// stay empty and the stamp holds them: measured by arithmetic on every write, written out as
/// text only when the object is taken whole ([`SizedSlice::into_slice`],
/// [`SizedSlice::to_slice`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Written in decimal.
    pub resource_version: u64,
    pub generation: i64,
    /// In key order, keys distinct.
    pub annotations: Vec<(&'static str, Annotation)>,
    /// The one `managedFields` entry, if any.
    pub managed: Option<Managed>,
}

/// The value of an annotation a controller writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Annotation {
    /// A whole-second time, as Go's `RFC3339Nano` prints it (`2006-01-02T15:04:05Z`).
    Time(Time),
    /// One of this crate's constants.
    Text(&'static str),
}

impl Annotation {
    /// The length of the value's text, which is plain.
    fn len(&self) -> u64 {
        match self {
            Annotation::Time(t) => json_time(*t) - 2,
            Annotation::Text(s) => plain_len(s) - 2,
        }
    }

    pub fn text(&self) -> String {
        match self {
            Annotation::Time(t) => t.to_string(),
            Annotation::Text(s) => (*s).to_string(),
        }
    }
}

/// A `managedFields` entry a controller writes (its `subresource` empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Managed {
    pub manager: &'static str,
    pub operation: &'static str,
    pub api_version: &'static str,
    pub time: Time,
    pub fields_type: &'static str,
    /// `FieldsV1.Raw`: compact JSON text, as Go writes it.
    pub fields_v1: std::sync::Arc<str>,
}

impl Stamp {
    pub fn annotation(&self, key: &str) -> Option<Annotation> {
        self.annotations
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    /// Writes the stamp's fields into `m` as text.
    fn write_into(&self, m: &mut ObjectMeta) {
        m.resource_version = self.resource_version.to_string();
        m.generation = self.generation;
        m.annotations = self
            .annotations
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.text()))
            .collect();
        m.managed_fields = self
            .managed
            .iter()
            .map(|e| ManagedFieldsEntry {
                manager: e.manager.into(),
                operation: e.operation.into(),
                api_version: e.api_version.into(),
                time: Some(e.time),
                fields_type: e.fields_type.into(),
                fields_v1: Some(e.fields_v1.to_string()),
                subresource: String::new(),
            })
            .collect();
    }
}

/// Write access to an object's text metadata for [`SizedSlice::edit_metadata`] and
/// [`SizedEndpoints::edit_metadata`]: reading through `Deref`, writing through
/// [`MetaEdit::stable`], which has the fields measured again (see [`StablePart`]).
pub struct MetaEdit<'a> {
    meta: &'a mut ObjectMeta,
    stable: &'a mut Option<StablePart>,
}

impl std::ops::Deref for MetaEdit<'_> {
    type Target = ObjectMeta;

    fn deref(&self) -> &ObjectMeta {
        self.meta
    }
}

impl MetaEdit<'_> {
    /// The text fields, measured again after this edit. The four a [`Stamp`] holds must stay
    /// empty.
    pub fn stable(&mut self) -> &mut ObjectMeta {
        *self.stable = None;
        self.meta
    }
}

/// How an object's metadata is held and measured: as text only, or (once stamped) as text
/// plus a [`Stamp`]; with the size of its stable fields while no edit has touched them.
#[derive(Clone, Debug, Default)]
struct MetaState {
    stable: Option<StablePart>,
    stamp: Option<Stamp>,
}

impl MetaState {
    /// Edits `meta` and the stamp (empty at first, the four text fields then cleared), and
    /// returns the metadata's parts, whole and omitting `omit`.
    fn edit(
        &mut self,
        meta: &mut ObjectMeta,
        omit: Omit,
        edit: impl FnOnce(&mut MetaEdit<'_>, &mut Stamp),
    ) -> (Part, Part) {
        let stamp = self.stamp.get_or_insert_with(|| {
            meta.resource_version.clear();
            meta.generation = 0;
            meta.annotations.clear();
            meta.managed_fields.clear();
            Stamp::default()
        });
        edit(
            &mut MetaEdit {
                meta: &mut *meta,
                stable: &mut self.stable,
            },
            stamp,
        );
        debug_assert!(
            meta.resource_version.is_empty()
                && meta.generation == 0
                && meta.annotations.is_empty()
                && meta.managed_fields.is_empty(),
            "a stamped object's text holds none of the stamp's fields"
        );
        self.stable.get_or_insert_with(|| StablePart::of(meta));
        self.parts(meta, omit)
    }

    fn parts(&self, meta: &ObjectMeta, omit: Omit) -> (Part, Part) {
        match &self.stamp {
            Some(stamp) => {
                let stable = self.stable.unwrap_or_else(|| StablePart::of(meta));
                combine(&stable, &VolatilePart::of_stamp(stamp), omit)
            }
            None => meta_parts(meta, omit),
        }
    }

    /// Whether annotation `key` is `want` (absent for `None`).
    fn annotation_is(&self, meta: &ObjectMeta, key: &str, want: Option<Annotation>) -> bool {
        match &self.stamp {
            Some(stamp) => stamp.annotation(key) == want,
            None => {
                meta.annotations.get(key).map(String::as_str) == want.map(|a| a.text()).as_deref()
            }
        }
    }

    fn write_into(&self, meta: &mut ObjectMeta) {
        if let Some(stamp) = &self.stamp {
            stamp.write_into(meta);
        }
    }
}

/// An EndpointSlice together with its [`SliceSizer`] and the size of each endpoint, so that
/// removing or replacing an endpoint never has to read the old endpoint again. The endpoints
/// are boxed: removing one keeps the order of the others (as the upstream reconciler does)
/// by moving pointers, not whole endpoints.
#[derive(Clone, Debug)]
pub struct SizedSlice {
    /// The slice without its endpoints (and, once stamped, without the stamp's fields).
    slice: EndpointSlice,
    #[allow(clippy::vec_box, reason = "boxed so that a removal moves pointers")]
    endpoints: Vec<Box<Endpoint>>,
    parts: Vec<Part>,
    sizer: SliceSizer,
    meta: MetaState,
}

impl SizedSlice {
    pub fn new(mut slice: EndpointSlice) -> Self {
        let sizer = SliceSizer::new(&slice);
        let parts = slice
            .endpoints
            .iter()
            .map(|e| endpoint_part(slice.version, e))
            .collect();
        let endpoints = std::mem::take(&mut slice.endpoints)
            .into_iter()
            .map(Box::new)
            .collect();
        SizedSlice {
            slice,
            endpoints,
            parts,
            sizer,
            meta: MetaState::default(),
        }
    }

    /// The text metadata; once stamped, without the fields the [`SizedSlice::stamp`] holds.
    pub fn metadata(&self) -> &ObjectMeta {
        &self.slice.metadata
    }

    pub fn ports(&self) -> &[EndpointPort] {
        &self.slice.ports
    }

    pub fn endpoint(&self, i: usize) -> &Endpoint {
        &self.endpoints[i]
    }

    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    pub fn stamp(&self) -> Option<&Stamp> {
        self.meta.stamp.as_ref()
    }

    /// The whole slice, its stamp written out.
    pub fn into_slice(mut self) -> EndpointSlice {
        self.meta.write_into(&mut self.slice.metadata);
        self.slice.endpoints = self.endpoints.into_iter().map(|e| *e).collect();
        self.slice
    }

    /// [`SizedSlice::into_slice`] of a copy.
    pub fn to_slice(&self) -> EndpointSlice {
        self.clone().into_slice()
    }

    pub fn sizes(&self) -> ObjectSizes {
        self.sizer.sizes()
    }

    /// The sizes of the slice with the metadata fields `omit` names cleared: a request body.
    pub fn sizes_omitting(&self, omit: Omit) -> ObjectSizes {
        self.sizer
            .sizes_with_meta(self.meta.parts(&self.slice.metadata, omit).1)
    }

    pub fn push_endpoint(&mut self, e: Endpoint) {
        let part = endpoint_part(self.slice.version, &e);
        self.sizer.endpoints.add(part);
        self.parts.push(part);
        self.endpoints.push(Box::new(e));
    }

    /// Removes endpoint `i`, keeping the order of the others.
    pub fn remove_endpoint(&mut self, i: usize) -> Endpoint {
        self.sizer.endpoints.remove(self.parts.remove(i));
        *self.endpoints.remove(i)
    }

    /// Replaces endpoint `i` in place, returning the old one.
    pub fn replace_endpoint(&mut self, i: usize, e: Endpoint) -> Endpoint {
        let part = endpoint_part(self.slice.version, &e);
        self.sizer
            .replace_part(std::mem::replace(&mut self.parts[i], part), part);
        std::mem::replace(&mut *self.endpoints[i], e)
    }

    /// Replaces all endpoints and ports (the metadata and stamp stay), returning the old
    /// endpoints.
    pub fn set_content(
        &mut self,
        endpoints: Vec<Endpoint>,
        ports: Vec<EndpointPort>,
    ) -> Vec<Endpoint> {
        let version = self.slice.version;
        self.parts = endpoints
            .iter()
            .map(|e| endpoint_part(version, e))
            .collect();
        self.sizer.endpoints = Items::of(&self.parts, |p| *p);
        self.set_ports(ports);
        let new = endpoints.into_iter().map(Box::new).collect();
        std::mem::replace(&mut self.endpoints, new)
            .into_iter()
            .map(|e| *e)
            .collect()
    }

    /// Sets the whole metadata as text (no stamp).
    pub fn set_metadata(&mut self, m: ObjectMeta) {
        self.sizer.set_metadata(&m);
        self.slice.metadata = m;
        self.meta = MetaState::default();
    }

    /// Edits the metadata: its text fields through [`MetaEdit`], the four a [`Stamp`] holds
    /// through the stamp. Returns [`SizedSlice::sizes_omitting`] of the result, measuring the
    /// metadata once for both (its stable fields only when the edit touched them).
    pub fn edit_metadata(
        &mut self,
        omit: Omit,
        edit: impl FnOnce(&mut MetaEdit<'_>, &mut Stamp),
    ) -> ObjectSizes {
        let (full, request) = self.meta.edit(&mut self.slice.metadata, omit, edit);
        self.sizer.meta = full;
        self.sizer.sizes_with_meta(request)
    }

    pub fn set_ports(&mut self, ports: Vec<EndpointPort>) {
        self.sizer.set_ports(&ports);
        self.slice.ports = ports;
    }
}

/// An Endpoints object together with its [`EndpointsSizer`] and the size of each address, so
/// that removing or replacing an address never has to read the old address again.
#[derive(Clone, Debug)]
pub struct SizedEndpoints {
    endpoints: Endpoints,
    /// Per subset: the parts of `notReadyAddresses` (index 0) and `addresses` (index 1).
    parts: Vec<[Vec<Part>; 2]>,
    sizer: EndpointsSizer,
    meta: MetaState,
}

fn subset_address_parts(s: &EndpointSubset) -> [Vec<Part>; 2] {
    [
        s.not_ready_addresses.iter().map(address_part).collect(),
        s.addresses.iter().map(address_part).collect(),
    ]
}

impl SizedEndpoints {
    pub fn new(endpoints: Endpoints) -> Self {
        let sizer = EndpointsSizer::new(&endpoints);
        let parts = endpoints.subsets.iter().map(subset_address_parts).collect();
        SizedEndpoints {
            endpoints,
            parts,
            sizer,
            meta: MetaState::default(),
        }
    }

    /// The object; once stamped, without the fields its [`SizedEndpoints::stamp`] holds.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub fn stamp(&self) -> Option<&Stamp> {
        self.meta.stamp.as_ref()
    }

    /// Whether annotation `key` is `want` (absent for `None`), stamped or not.
    pub fn annotation_is(&self, key: &str, want: Option<Annotation>) -> bool {
        self.meta.annotation_is(&self.endpoints.metadata, key, want)
    }

    /// The whole object, its stamp written out.
    pub fn into_endpoints(mut self) -> Endpoints {
        self.meta.write_into(&mut self.endpoints.metadata);
        self.endpoints
    }

    /// [`SizedEndpoints::into_endpoints`] of a copy.
    pub fn to_endpoints(&self) -> Endpoints {
        self.clone().into_endpoints()
    }

    pub fn sizes(&self) -> ObjectSizes {
        self.sizer.sizes()
    }

    /// The sizes of the object with the metadata fields `omit` names cleared: a request body.
    pub fn sizes_omitting(&self, omit: Omit) -> ObjectSizes {
        self.sizer
            .sizes_with_meta(self.meta.parts(&self.endpoints.metadata, omit).1)
    }

    /// Replaces all subsets (the metadata and stamp stay), returning the old ones.
    pub fn set_subsets(&mut self, subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
        self.sizer.subsets.clear();
        self.sizer.total = Items::default();
        self.parts.clear();
        let old = std::mem::take(&mut self.endpoints.subsets);
        for (i, s) in subsets.into_iter().enumerate() {
            self.insert_subset(i, s);
        }
        old
    }

    fn list(&mut self, subset: usize, ready: bool) -> &mut Vec<EndpointAddress> {
        let s = &mut self.endpoints.subsets[subset];
        if ready {
            &mut s.addresses
        } else {
            &mut s.not_ready_addresses
        }
    }

    /// Appends an address to subset `subset` (ready: `addresses`, else `notReadyAddresses`).
    pub fn push_address(&mut self, subset: usize, ready: bool, a: EndpointAddress) {
        let len = self.list(subset, ready).len();
        self.insert_address(subset, ready, len, a);
    }

    /// Inserts an address at position `i` (to keep a sorted order).
    pub fn insert_address(&mut self, subset: usize, ready: bool, i: usize, a: EndpointAddress) {
        let part = address_part(&a);
        self.sizer.edit_subset(subset, |s| s.list(ready).add(part));
        self.parts[subset][usize::from(ready)].insert(i, part);
        self.list(subset, ready).insert(i, a);
    }

    pub fn remove_address(&mut self, subset: usize, ready: bool, i: usize) -> EndpointAddress {
        let part = self.parts[subset][usize::from(ready)].remove(i);
        self.sizer
            .edit_subset(subset, |s| s.list(ready).remove(part));
        self.list(subset, ready).remove(i)
    }

    /// Removes address `i` in O(1) by moving the last address into its place (the order of a
    /// list does not change its size; sort it when the order matters).
    pub fn swap_remove_address(&mut self, subset: usize, ready: bool, i: usize) -> EndpointAddress {
        let part = self.parts[subset][usize::from(ready)].swap_remove(i);
        self.sizer
            .edit_subset(subset, |s| s.list(ready).remove(part));
        self.list(subset, ready).swap_remove(i)
    }

    pub fn replace_address(
        &mut self,
        subset: usize,
        ready: bool,
        i: usize,
        a: EndpointAddress,
    ) -> EndpointAddress {
        let part = address_part(&a);
        let old = std::mem::replace(&mut self.parts[subset][usize::from(ready)][i], part);
        self.sizer.replace_address_part(subset, ready, old, part);
        std::mem::replace(&mut self.list(subset, ready)[i], a)
    }

    pub fn insert_subset(&mut self, i: usize, s: EndpointSubset) {
        self.sizer.insert_subset(i, &s);
        self.parts.insert(i, subset_address_parts(&s));
        self.endpoints.subsets.insert(i, s);
    }

    pub fn remove_subset(&mut self, i: usize) -> EndpointSubset {
        self.sizer.remove_subset(i);
        self.parts.remove(i);
        self.endpoints.subsets.remove(i)
    }

    /// Sets the whole metadata as text (no stamp).
    pub fn set_metadata(&mut self, m: ObjectMeta) {
        self.sizer.set_metadata(&m);
        self.endpoints.metadata = m;
        self.meta = MetaState::default();
    }

    /// Edits the metadata as [`SizedSlice::edit_metadata`] does.
    pub fn edit_metadata(
        &mut self,
        omit: Omit,
        edit: impl FnOnce(&mut MetaEdit<'_>, &mut Stamp),
    ) -> ObjectSizes {
        let (full, request) = self.meta.edit(&mut self.endpoints.metadata, omit, edit);
        self.sizer.meta = full;
        self.sizer.sizes_with_meta(request)
    }
}

/// The four sizes of any object, computed by the fast path from scratch.
pub fn sizes(obj: &Object) -> ObjectSizes {
    match obj {
        Object::Endpoints(e) => EndpointsSizer::new(e).sizes(),
        Object::EndpointSlice(s) => SliceSizer::new(s).sizes(),
    }
}
