//! The reference encoders: real Kubernetes types, real encoders, Go's emission rules.
//!
//! * **Protobuf** converts the model into `k8s-pb` types and encodes them with `prost`. Where
//!   Go's gogo-protobuf marshaller (`generated.pb.go`, `MarshalToSizedBuffer`) writes a field that
//!   prost would skip, the conversion sets it: every Go *value* field becomes `Some(..)`, even when
//!   empty, so prost writes it as Go does (`wire-format.md`, rule 2). One rule cannot be expressed
//!   in the `k8s-pb` types: Go writes both key and value of every map entry, prost skips an empty
//!   key or value. Messages with a map (ObjectMeta labels/annotations, Endpoint topology) are
//!   therefore encoded in three runs, in field order: the fields before the map (prost), the map
//!   entries (prost, through [`GoMapEntry`] whose fields are `required`), the fields after it
//!   (prost). Concatenating encodings of disjoint fields is a valid protobuf encoding, and in field
//!   order it is byte for byte what Go writes.
//! * **JSON** converts into `k8s-openapi` types and serializes them with serde_json, then applies
//!   Go's `encoding/json` rules that those types cannot express: a zero `creationTimestamp` is
//!   `null` (a struct is never omitted by `omitempty`), a nil slice without `omitempty`
//!   (`EndpointSlice.endpoints`, `.ports`, `Endpoint.addresses`) is `null`, `conditions` is always
//!   written, and strings are escaped as Go escapes them ([`super::gojson`]). Keys come out in
//!   serde_json's order rather than Go's struct order; the length is the same.
//!
//! This module is deliberately slow and simple; [`super::fast`] must agree with it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as oa_core;
use k8s_openapi::api::discovery::v1 as oa_disc;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as oa_meta;
use k8s_pb::api::core::v1 as pb_core;
use k8s_pb::api::discovery::v1 as pb_disc;
use k8s_pb::api::discovery::v1beta1 as pb_disc_b1;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb_meta;
use k8s_pb::apimachinery::pkg::runtime as pb_rt;
use prost::Message;
use serde_json::Value;

use super::model::*;
use super::{EventType, ObjectSizes, WireError, gojson};

/// The `k8s\0` magic that starts every protobuf object (`serializer/protobuf/protobuf.go`,
/// `protoEncodingPrefix`).
pub const PROTO_MAGIC: &[u8; 4] = b"k8s\0";

/// A map entry as gogo-protobuf writes it: key and value always present.
#[derive(Clone, PartialEq, prost::Message)]
struct GoMapEntry {
    #[prost(string, required, tag = "1")]
    key: String,
    #[prost(string, required, tag = "2")]
    value: String,
}

fn encode_go_map(tag: u32, map: &BTreeMap<String, String>, buf: &mut Vec<u8>) {
    for (key, value) in map {
        let entry = GoMapEntry {
            key: key.clone(),
            value: value.clone(),
        };
        prost::encoding::message::encode(tag, &entry, buf);
    }
}

// ---------------------------------------------------------------------------------------------
// Protobuf
// ---------------------------------------------------------------------------------------------

fn pb_time(t: Option<Time>) -> pb_meta::Time {
    // time_proto.go: a zero time marshals to an empty message; otherwise {seconds, nanos: 0}.
    match t {
        None => pb_meta::Time::default(),
        Some(t) => pb_meta::Time {
            seconds: Some(t.0),
            nanos: Some(0),
        },
    }
}

fn pb_owner(o: &OwnerReference) -> pb_meta::OwnerReference {
    pb_meta::OwnerReference {
        api_version: Some(o.api_version.clone()),
        kind: Some(o.kind.clone()),
        name: Some(o.name.clone()),
        uid: Some(o.uid.clone()),
        controller: o.controller,
        block_owner_deletion: o.block_owner_deletion,
    }
}

fn pb_managed(m: &ManagedFieldsEntry) -> pb_meta::ManagedFieldsEntry {
    pb_meta::ManagedFieldsEntry {
        manager: Some(m.manager.clone()),
        operation: Some(m.operation.clone()),
        api_version: Some(m.api_version.clone()),
        time: m.time.map(|t| pb_time(Some(t))),
        fields_type: Some(m.fields_type.clone()),
        // fieldsv1.go: Raw is written only when non-empty.
        fields_v1: m.fields_v1.as_ref().map(|raw| pb_meta::FieldsV1 {
            raw: (!raw.is_empty()).then(|| raw.as_bytes().to_vec()),
        }),
        subresource: Some(m.subresource.clone()),
    }
}

/// Encodes ObjectMeta's fields (no tag or length of its own).
fn encode_meta(m: &ObjectMeta, buf: &mut Vec<u8>) {
    let head = pb_meta::ObjectMeta {
        name: Some(m.name.clone()),
        generate_name: Some(m.generate_name.clone()),
        namespace: Some(m.namespace.clone()),
        self_link: Some(m.self_link.clone()),
        uid: Some(m.uid.clone()),
        resource_version: Some(m.resource_version.clone()),
        generation: Some(m.generation),
        creation_timestamp: Some(pb_time(m.creation_timestamp)),
        deletion_timestamp: m.deletion_timestamp.map(|t| pb_time(Some(t))),
        deletion_grace_period_seconds: m.deletion_grace_period_seconds,
        ..Default::default()
    };
    head.encode_raw(buf);
    encode_go_map(11, &m.labels, buf);
    encode_go_map(12, &m.annotations, buf);
    let tail = pb_meta::ObjectMeta {
        owner_references: m.owner_references.iter().map(pb_owner).collect(),
        finalizers: m.finalizers.clone(),
        managed_fields: m.managed_fields.iter().map(pb_managed).collect(),
        ..Default::default()
    };
    tail.encode_raw(buf);
}

fn pb_ref(r: &ObjectReference) -> pb_core::ObjectReference {
    pb_core::ObjectReference {
        kind: Some(r.kind.clone()),
        namespace: Some(r.namespace.clone()),
        name: Some(r.name.clone()),
        uid: Some(r.uid.clone()),
        api_version: Some(r.api_version.clone()),
        resource_version: Some(r.resource_version.clone()),
        field_path: Some(r.field_path.clone()),
    }
}

/// v1 and v1beta1 have distinct but same-shaped generated types for everything but `Endpoint`.
macro_rules! discovery_converters {
    ($m:ident, $conditions:ident, $hints:ident, $port:ident) => {
        fn $conditions(c: &EndpointConditions) -> $m::EndpointConditions {
            $m::EndpointConditions {
                ready: c.ready,
                serving: c.serving,
                terminating: c.terminating,
            }
        }

        fn $hints(h: &EndpointHints) -> $m::EndpointHints {
            $m::EndpointHints {
                for_zones: h
                    .for_zones
                    .iter()
                    .map(|z| $m::ForZone {
                        name: Some(z.name.clone()),
                    })
                    .collect(),
                for_nodes: h
                    .for_nodes
                    .iter()
                    .map(|n| $m::ForNode {
                        name: Some(n.name.clone()),
                    })
                    .collect(),
            }
        }

        fn $port(p: &EndpointPort) -> $m::EndpointPort {
            $m::EndpointPort {
                name: p.name.clone(),
                protocol: p.protocol.clone(),
                port: p.port,
                app_protocol: p.app_protocol.clone(),
            }
        }
    };
}

discovery_converters!(pb_disc, pb_conditions_v1, pb_hints_v1, pb_port_v1);
discovery_converters!(pb_disc_b1, pb_conditions_b1, pb_hints_b1, pb_port_b1);

/// Encodes a v1 Endpoint's fields; field 5 (`deprecatedTopology`) is the map.
fn encode_endpoint_v1(e: &Endpoint, buf: &mut Vec<u8>) {
    let head = pb_disc::Endpoint {
        addresses: e.addresses.clone(),
        conditions: Some(pb_conditions_v1(&e.conditions)),
        hostname: e.hostname.clone(),
        target_ref: e.target_ref.as_deref().map(pb_ref),
        ..Default::default()
    };
    head.encode_raw(buf);
    encode_go_map(5, &e.deprecated_topology, buf);
    let tail = pb_disc::Endpoint {
        node_name: e.node_name.clone(),
        zone: e.zone.clone(),
        hints: e.hints.as_ref().map(pb_hints_v1),
        ..Default::default()
    };
    tail.encode_raw(buf);
}

/// Encodes a v1beta1 Endpoint's fields; field 5 (`topology`) is the map, `hints` is field 7.
fn encode_endpoint_b1(e: &Endpoint, buf: &mut Vec<u8>) {
    let head = pb_disc_b1::Endpoint {
        addresses: e.addresses.clone(),
        conditions: Some(pb_conditions_b1(&e.conditions)),
        hostname: e.hostname.clone(),
        target_ref: e.target_ref.as_deref().map(pb_ref),
        ..Default::default()
    };
    head.encode_raw(buf);
    encode_go_map(5, &e.deprecated_topology, buf);
    let tail = pb_disc_b1::Endpoint {
        node_name: e.node_name.clone(),
        hints: e.hints.as_ref().map(pb_hints_b1),
        ..Default::default()
    };
    tail.encode_raw(buf);
}

fn encode_nested(tag: u32, buf: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    fill(&mut inner);
    prost::encoding::bytes::encode(tag, &inner, buf);
}

fn pb_address(a: &EndpointAddress) -> pb_core::EndpointAddress {
    pb_core::EndpointAddress {
        ip: Some(a.ip.clone()),
        hostname: Some(a.hostname.clone()),
        node_name: a.node_name.clone(),
        target_ref: a.target_ref.as_deref().map(pb_ref),
    }
}

fn pb_subset(s: &EndpointSubset) -> pb_core::EndpointSubset {
    pb_core::EndpointSubset {
        addresses: s.addresses.iter().map(pb_address).collect(),
        not_ready_addresses: s.not_ready_addresses.iter().map(pb_address).collect(),
        ports: s
            .ports
            .iter()
            .map(|p| pb_core::EndpointPort {
                name: Some(p.name.clone()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone()),
                app_protocol: p.app_protocol.clone(),
            })
            .collect(),
    }
}

/// The raw protobuf message of the object (no envelope).
pub fn proto_raw(obj: &Object) -> Vec<u8> {
    let mut raw = Vec::new();
    match obj {
        Object::Endpoints(e) => {
            encode_nested(1, &mut raw, |b| encode_meta(&e.metadata, b));
            pb_core::Endpoints {
                metadata: None,
                subsets: e.subsets.iter().map(pb_subset).collect(),
            }
            .encode_raw(&mut raw);
        }
        Object::EndpointSlice(s) => {
            encode_nested(1, &mut raw, |b| encode_meta(&s.metadata, b));
            for e in &s.endpoints {
                encode_nested(2, &mut raw, |b| match s.version {
                    SliceVersion::V1 => encode_endpoint_v1(e, b),
                    SliceVersion::V1Beta1 => encode_endpoint_b1(e, b),
                });
            }
            match s.version {
                SliceVersion::V1 => pb_disc::EndpointSlice {
                    address_type: Some(s.address_type.clone()),
                    ports: s.ports.iter().map(pb_port_v1).collect(),
                    ..Default::default()
                }
                .encode_raw(&mut raw),
                SliceVersion::V1Beta1 => pb_disc_b1::EndpointSlice {
                    address_type: Some(s.address_type.clone()),
                    ports: s.ports.iter().map(pb_port_b1).collect(),
                    ..Default::default()
                }
                .encode_raw(&mut raw),
            }
        }
    }
    raw
}

/// The object as etcd stores it and a protobuf GET returns it: `k8s\0` + `runtime.Unknown`.
pub fn proto(obj: &Object) -> Vec<u8> {
    let unknown = pb_rt::Unknown {
        type_meta: Some(pb_rt::TypeMeta {
            api_version: Some(obj.api_version().to_string()),
            kind: Some(obj.kind().to_string()),
        }),
        raw: Some(proto_raw(obj)),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = PROTO_MAGIC.to_vec();
    unknown.encode_raw(&mut out);
    out
}

/// One protobuf watch-stream frame (`framer.go` length prefix + `metav1.WatchEvent`), carrying
/// the enveloped object as `RawExtension.raw` (`handlers/watch.go`, `watchEncoder.doEncode`).
pub fn proto_watch_frame(event: EventType, enveloped: &[u8]) -> Vec<u8> {
    let body = pb_meta::WatchEvent {
        r#type: Some(event.as_str().to_string()),
        object: Some(pb_rt::RawExtension {
            raw: Some(enveloped.to_vec()),
        }),
    }
    .encode_to_vec();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn non_empty_vec<T: Clone, U>(v: &[T], f: impl Fn(&T) -> U) -> Option<Vec<U>> {
    (!v.is_empty()).then(|| v.iter().map(f).collect())
}

fn non_empty_map(m: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then(|| m.clone())
}

fn oa_time(t: Time) -> oa_meta::Time {
    oa_meta::Time(t.to_jiff())
}

fn oa_meta(m: &ObjectMeta) -> Result<oa_meta::ObjectMeta, WireError> {
    let managed_fields = m
        .managed_fields
        .iter()
        .map(|f| {
            Ok(oa_meta::ManagedFieldsEntry {
                api_version: non_empty(&f.api_version),
                fields_type: non_empty(&f.fields_type),
                fields_v1: f
                    .fields_v1
                    .as_ref()
                    .map(|raw| serde_json::from_str(raw).map(oa_meta::FieldsV1))
                    .transpose()
                    .map_err(WireError::FieldsV1)?,
                manager: non_empty(&f.manager),
                operation: non_empty(&f.operation),
                subresource: non_empty(&f.subresource),
                time: f.time.map(oa_time),
            })
        })
        .collect::<Result<Vec<_>, WireError>>()?;
    Ok(oa_meta::ObjectMeta {
        annotations: non_empty_map(&m.annotations),
        creation_timestamp: m.creation_timestamp.map(oa_time),
        deletion_grace_period_seconds: m.deletion_grace_period_seconds,
        deletion_timestamp: m.deletion_timestamp.map(oa_time),
        finalizers: non_empty_vec(&m.finalizers, Clone::clone),
        generate_name: non_empty(&m.generate_name),
        generation: (m.generation != 0).then_some(m.generation),
        labels: non_empty_map(&m.labels),
        managed_fields: (!managed_fields.is_empty()).then_some(managed_fields),
        name: non_empty(&m.name),
        namespace: non_empty(&m.namespace),
        owner_references: non_empty_vec(&m.owner_references, |o| oa_meta::OwnerReference {
            api_version: o.api_version.clone(),
            block_owner_deletion: o.block_owner_deletion,
            controller: o.controller,
            kind: o.kind.clone(),
            name: o.name.clone(),
            uid: o.uid.clone(),
        }),
        resource_version: non_empty(&m.resource_version),
        self_link: non_empty(&m.self_link),
        uid: non_empty(&m.uid),
    })
}

fn oa_ref(r: &ObjectReference) -> oa_core::ObjectReference {
    oa_core::ObjectReference {
        api_version: non_empty(&r.api_version),
        field_path: non_empty(&r.field_path),
        kind: non_empty(&r.kind),
        name: non_empty(&r.name),
        namespace: non_empty(&r.namespace),
        resource_version: non_empty(&r.resource_version),
        uid: non_empty(&r.uid),
    }
}

fn oa_address(a: &EndpointAddress) -> oa_core::EndpointAddress {
    oa_core::EndpointAddress {
        hostname: non_empty(&a.hostname),
        ip: a.ip.clone(),
        node_name: a.node_name.clone(),
        target_ref: a.target_ref.as_deref().map(oa_ref),
    }
}

fn oa_endpoints(e: &Endpoints) -> Result<oa_core::Endpoints, WireError> {
    Ok(oa_core::Endpoints {
        metadata: oa_meta(&e.metadata)?,
        subsets: non_empty_vec(&e.subsets, |s| oa_core::EndpointSubset {
            addresses: non_empty_vec(&s.addresses, oa_address),
            not_ready_addresses: non_empty_vec(&s.not_ready_addresses, oa_address),
            ports: non_empty_vec(&s.ports, |p| oa_core::EndpointPort {
                app_protocol: p.app_protocol.clone(),
                name: non_empty(&p.name),
                port: p.port,
                protocol: non_empty(&p.protocol),
            }),
        }),
    })
}

fn oa_endpoint(e: &Endpoint) -> oa_disc::Endpoint {
    oa_disc::Endpoint {
        addresses: e.addresses.clone(),
        conditions: Some(oa_disc::EndpointConditions {
            ready: e.conditions.ready,
            serving: e.conditions.serving,
            terminating: e.conditions.terminating,
        }),
        deprecated_topology: non_empty_map(&e.deprecated_topology),
        hints: e.hints.as_ref().map(|h| oa_disc::EndpointHints {
            for_nodes: non_empty_vec(&h.for_nodes, |n| oa_disc::ForNode {
                name: n.name.clone(),
            }),
            for_zones: non_empty_vec(&h.for_zones, |z| oa_disc::ForZone {
                name: z.name.clone(),
            }),
        }),
        hostname: e.hostname.clone(),
        node_name: e.node_name.clone(),
        target_ref: e.target_ref.as_deref().map(oa_ref),
        zone: e.zone.clone(),
    }
}

fn oa_slice(s: &EndpointSlice) -> Result<oa_disc::EndpointSlice, WireError> {
    Ok(oa_disc::EndpointSlice {
        address_type: s.address_type.clone(),
        endpoints: Some(s.endpoints.iter().map(oa_endpoint).collect()),
        metadata: oa_meta(&s.metadata)?,
        ports: Some(
            s.ports
                .iter()
                .map(|p| oa_disc::EndpointPort {
                    app_protocol: p.app_protocol.clone(),
                    name: p.name.clone(),
                    port: p.port,
                    protocol: p.protocol.clone(),
                })
                .collect(),
        ),
    })
}

/// A nil slice that Go writes without `omitempty` is `null`.
fn empty_array_to_null(v: &mut Value) {
    if v.as_array().is_some_and(Vec::is_empty) {
        *v = Value::Null;
    }
}

/// Compact JSON as the API server writes the object.
pub fn json(obj: &Object) -> Result<Vec<u8>, WireError> {
    Ok(gojson::to_vec(&json_value(obj)?)?)
}

/// The object as the JSON value the API server writes (Go's nulls included).
pub fn json_value(obj: &Object) -> Result<Value, WireError> {
    let mut v = match obj {
        Object::Endpoints(e) => serde_json::to_value(oa_endpoints(e)?)?,
        Object::EndpointSlice(s) => serde_json::to_value(oa_slice(s)?)?,
    };
    v["apiVersion"] = Value::from(obj.api_version());
    let meta = &mut v["metadata"];
    if meta.get("creationTimestamp").is_none() {
        meta["creationTimestamp"] = Value::Null;
    }
    if let Object::EndpointSlice(s) = obj {
        empty_array_to_null(&mut v["ports"]);
        if let Some(eps) = v["endpoints"].as_array_mut() {
            for ep in eps {
                empty_array_to_null(&mut ep["addresses"]);
                if let (SliceVersion::V1Beta1, Some(map)) = (s.version, ep.as_object_mut())
                    && let Some(topology) = map.remove("deprecatedTopology")
                {
                    map.insert("topology".to_string(), topology);
                }
            }
        }
        empty_array_to_null(&mut v["endpoints"]);
    }
    Ok(v)
}

/// One line of a JSON watch stream: `{"type":"MODIFIED","object":{...}}` and a newline
/// (`json.Encoder.Encode` of a `metav1.WatchEvent` whose object is the raw JSON).
pub fn json_watch_line(event: EventType, json: &[u8]) -> Vec<u8> {
    let mut out = format!(r#"{{"type":"{}","object":"#, event.as_str()).into_bytes();
    out.extend_from_slice(json);
    out.extend_from_slice(b"}\n");
    out
}

/// The four sizes, computed by encoding the object in full.
pub fn sizes(obj: &Object) -> Result<ObjectSizes, WireError> {
    let proto = proto(obj);
    let json = json(obj)?;
    Ok(ObjectSizes {
        proto: proto.len() as u64,
        proto_watch: proto_watch_frame(EventType::Modified, &proto).len() as u64,
        json: json.len() as u64,
        json_watch: json_watch_line(EventType::Modified, &json).len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand from `wire-format.md`: an Endpoints with only the label `a: ""`. ObjectMeta writes
    /// its eight value fields even when empty (`0a 00` name, `12 00` generateName, `1a 00`
    /// namespace, `22 00` selfLink, `2a 00` uid, `32 00` resourceVersion, `38 00` generation,
    /// `42 00` zero creationTimestamp), then the map entry with key *and* empty value
    /// (`5a 05 0a 01 'a' 12 00`), which prost alone would shorten to `5a 03 0a 01 'a'`.
    #[test]
    fn empty_label_value_is_written_as_go_writes_it() {
        let mut e = Endpoints::default();
        e.metadata.labels.insert("a".into(), String::new());
        let raw = proto_raw(&Object::Endpoints(e));
        let meta: &[u8] = &[
            0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00,
            0x42, 0x00, 0x5a, 0x05, 0x0a, 0x01, b'a', 0x12, 0x00,
        ];
        let mut expected = vec![0x0a, meta.len() as u8];
        expected.extend_from_slice(meta);
        assert_eq!(raw, expected);
    }

    /// By hand: the placeholder-like slice, as Go's encoding/json writes it: a zero
    /// creationTimestamp is `null`, and nil `endpoints`/`ports` (no omitempty) are `null`.
    #[test]
    fn empty_slice_json_has_go_nulls() {
        let s = EndpointSlice {
            address_type: "IPv4".into(),
            ..Default::default()
        };
        let expected = r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"creationTimestamp":null},"addressType":"IPv4","endpoints":null,"ports":null}"#;
        let json = json(&Object::EndpointSlice(s)).unwrap();
        assert_eq!(
            json.len(),
            expected.len(),
            "{}",
            String::from_utf8_lossy(&json)
        );
    }

    /// By hand: an endpoint's conditions are a Go struct (always written, `{}` when all unset,
    /// `12 00` in protobuf); an empty `name` pointer on a port is written (`0a 00`).
    #[test]
    fn always_written_endpoint_fields() {
        let s = EndpointSlice {
            address_type: "IPv4".into(),
            endpoints: vec![Endpoint {
                addresses: vec!["10.0.0.1".into()],
                ..Default::default()
            }],
            ports: vec![EndpointPort {
                name: Some(String::new()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let obj = Object::EndpointSlice(s);
        let raw = proto_raw(&obj);
        // meta (2 + 16), endpoint `12 0c 0a 08 "10.0.0.1" 12 00`, port `1a 02 0a 00`,
        // addressType `22 04 "IPv4"`.
        let tail: &[u8] = &[
            0x12, 0x0c, 0x0a, 0x08, b'1', b'0', b'.', b'0', b'.', b'0', b'.', b'1', 0x12, 0x00,
            0x1a, 0x02, 0x0a, 0x00, 0x22, 0x04, b'I', b'P', b'v', b'4',
        ];
        assert_eq!(&raw[18..], tail);
        let json = String::from_utf8(json(&obj).unwrap()).unwrap();
        assert!(
            json.contains(r#"{"addresses":["10.0.0.1"],"conditions":{}}"#),
            "{json}"
        );
        assert!(json.contains(r#""ports":[{"name":""}]"#), "{json}");
    }
}
