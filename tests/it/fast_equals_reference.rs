//! Property tests: the O(1) fast path ([`fast::SizedSlice`], [`fast::SizedEndpoints`]) gives
//! exactly the sizes of the reference encoders, in all four forms, on random objects and after
//! every edit of random edit sequences.
//!
//! The generators cover every optional field of the model, empty and non-empty, strings whose
//! lengths cross the 1- to 2-byte (128) and 2- to 3-byte (16,384) varint boundaries, characters
//! that Go's JSON escapes, IPv4 and IPv6 addresses, hints, several subsets, 0 to 1,000 endpoints.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

use slicesim::wire::model::*;
use slicesim::wire::{Object, fast, gojson, reference};

fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9.-]{0,20}",
        1 => Just(String::new()),
        1 => "[ -~]{0,12}",                  // printable ASCII: quotes, backslashes, <>&
        1 => "[a-z<>&\"\\\\\n\t\u{1}é\u{2028}\u{2029}]{0,8}",
    ]
}

/// Strings of lengths around the varint boundaries, where the length prefix grows a byte.
fn boundary_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (120usize..136).prop_map(|n| "x".repeat(n)),
        (16_370usize..16_400).prop_map(|n| "y".repeat(n)),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![10 => short_text(), 1 => boundary_text()]
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(short_text(), short_text(), 0..4)
}

fn time() -> impl Strategy<Value = Time> {
    prop_oneof![
        Just(Time(0)),
        (0i64..(1 << 28)).prop_map(Time),
        (1_000_000_000i64..4_000_000_000).prop_map(Time),
        (-62_135_596_800i64..0).prop_map(Time),
    ]
}

fn fields_v1() -> impl Strategy<Value = String> {
    btree_map("f:[a-z<&]{1,10}", Just(serde_json::json!({})), 0..4).prop_map(|m| {
        let v: serde_json::Map<String, serde_json::Value> = m.into_iter().collect();
        String::from_utf8(gojson::to_vec(&v).unwrap()).unwrap()
    })
}

/// Stamps as the controllers write them: any resourceVersion and generation, some of a few
/// constant annotation keys (times or constant texts), a managedFields entry or none.
fn stamp() -> impl Strategy<Value = fast::Stamp> {
    const KEYS: [&str; 3] = [
        "a.example/x",
        "endpoints.kubernetes.io/last-change-trigger-time",
        "zz",
    ];
    let value = prop_oneof![
        time().prop_map(fast::Annotation::Time),
        prop_oneof![Just(""), Just("truncated")].prop_map(fast::Annotation::Text),
    ];
    let managed = (
        prop_oneof![Just("v1"), Just("discovery.k8s.io/v1"), Just("")],
        time(),
        fields_v1(),
        prop_oneof![Just("kube-controller-manager"), Just("")],
    )
        .prop_map(|(api_version, time, fields, manager)| fast::Managed {
            manager,
            operation: "Update",
            api_version,
            time,
            fields_type: "FieldsV1",
            fields_v1: fields.into(),
        });
    (
        prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 1u64..1000],
        any::<i64>(),
        vec(option::of(value), KEYS.len()),
        option::of(managed),
    )
        .prop_map(
            |(resource_version, generation, values, managed)| fast::Stamp {
                resource_version,
                generation,
                annotations: KEYS
                    .iter()
                    .zip(values)
                    .filter_map(|(k, v)| v.map(|v| (*k, v)))
                    .collect(),
                managed,
            },
        )
}

fn owner() -> impl Strategy<Value = OwnerReference> {
    (
        text(),
        text(),
        text(),
        text(),
        any::<Option<bool>>(),
        any::<Option<bool>>(),
    )
        .prop_map(
            |(api_version, kind, name, uid, controller, block_owner_deletion)| OwnerReference {
                api_version,
                kind,
                name,
                uid,
                controller,
                block_owner_deletion,
            },
        )
}

fn managed() -> impl Strategy<Value = ManagedFieldsEntry> {
    (
        short_text(),
        short_text(),
        short_text(),
        option::of(time()),
        short_text(),
        option::of(fields_v1()),
        short_text(),
    )
        .prop_map(
            |(manager, operation, api_version, time, fields_type, fields_v1, subresource)| {
                ManagedFieldsEntry {
                    manager,
                    operation,
                    api_version,
                    time,
                    fields_type,
                    fields_v1,
                    subresource,
                }
            },
        )
}

fn meta() -> impl Strategy<Value = ObjectMeta> {
    (
        (
            text(),
            short_text(),
            short_text(),
            short_text(),
            short_text(),
            short_text(),
        ),
        (
            any::<i64>(),
            option::of(time()),
            option::of(time()),
            option::of(any::<i64>()),
        ),
        (labels(), labels()),
        (
            vec(owner(), 0..3),
            vec(short_text(), 0..3),
            vec(managed(), 0..3),
        ),
    )
        .prop_map(
            |(
                (name, generate_name, namespace, self_link, uid, resource_version),
                (generation, creation_timestamp, deletion_timestamp, grace),
                (labels, annotations),
                (owner_references, finalizers, managed_fields),
            )| ObjectMeta {
                name,
                generate_name,
                namespace,
                self_link,
                uid,
                resource_version,
                generation,
                creation_timestamp,
                deletion_timestamp,
                deletion_grace_period_seconds: grace,
                labels,
                annotations,
                owner_references,
                finalizers,
                managed_fields,
            },
        )
}

fn object_ref() -> impl Strategy<Value = ObjectReference> {
    (
        short_text(),
        short_text(),
        text(),
        short_text(),
        short_text(),
        short_text(),
        short_text(),
    )
        .prop_map(
            |(kind, namespace, name, uid, api_version, resource_version, field_path)| {
                ObjectReference {
                    kind,
                    namespace,
                    name,
                    uid,
                    api_version,
                    resource_version,
                    field_path,
                }
            },
        )
}

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c)| format!("10.{a}.{b}.{c}")),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("fd00:10:244:{a:x}::{b:x}")),
        text(),
    ]
}

fn names() -> impl Strategy<Value = Vec<ForName>> {
    vec(short_text().prop_map(|name| ForName { name }), 0..3)
}

fn endpoint(version: SliceVersion) -> impl Strategy<Value = Endpoint> {
    (
        prop_oneof![10 => vec(ip(), 1..3), 1 => Just(vec![])],
        (
            any::<Option<bool>>(),
            any::<Option<bool>>(),
            any::<Option<bool>>(),
        ),
        option::of(short_text()),
        option::of(object_ref().prop_map(Box::new)),
        labels(),
        option::of(short_text()),
        option::of(short_text()),
        option::of((names(), names())),
    )
        .prop_map(
            move |(
                addresses,
                (ready, serving, terminating),
                hostname,
                target_ref,
                topology,
                node_name,
                zone,
                hints,
            )| Endpoint {
                addresses,
                conditions: EndpointConditions {
                    ready,
                    serving,
                    terminating,
                },
                hostname,
                target_ref,
                deprecated_topology: topology,
                node_name,
                zone: if version == SliceVersion::V1 {
                    zone
                } else {
                    None
                },
                hints: hints.map(|(for_zones, for_nodes)| EndpointHints {
                    for_zones,
                    for_nodes,
                }),
            },
        )
}

fn slice_port() -> impl Strategy<Value = EndpointPort> {
    (
        option::of(short_text()),
        option::of(prop_oneof![Just("TCP".to_string()), short_text()]),
        option::of(any::<i32>()),
        option::of(short_text()),
    )
        .prop_map(|(name, protocol, port, app_protocol)| EndpointPort {
            name,
            protocol,
            port,
            app_protocol,
        })
}

/// 0 to 1,000, weighted towards small counts so that the suite stays fast.
fn count() -> impl Strategy<Value = usize> {
    prop_oneof![14 => 0usize..50, 5 => 50usize..400, 1 => 400usize..=1000]
}

fn version() -> impl Strategy<Value = SliceVersion> {
    prop_oneof![3 => Just(SliceVersion::V1), 1 => Just(SliceVersion::V1Beta1)]
}

fn slice() -> impl Strategy<Value = EndpointSlice> {
    (version(), count()).prop_flat_map(|(version, n)| {
        (
            meta(),
            prop_oneof![
                Just("IPv4".to_string()),
                Just("IPv6".to_string()),
                short_text()
            ],
            vec(endpoint(version), n),
            vec(slice_port(), 0..3),
        )
            .prop_map(
                move |(metadata, address_type, endpoints, ports)| EndpointSlice {
                    version,
                    metadata,
                    address_type,
                    endpoints,
                    ports,
                },
            )
    })
}

fn address() -> impl Strategy<Value = EndpointAddress> {
    (
        ip(),
        short_text(),
        option::of(short_text()),
        option::of(object_ref().prop_map(Box::new)),
    )
        .prop_map(|(ip, hostname, node_name, target_ref)| EndpointAddress {
            ip,
            hostname,
            node_name,
            target_ref,
        })
}

fn core_port() -> impl Strategy<Value = CoreEndpointPort> {
    (
        short_text(),
        any::<i32>(),
        short_text(),
        option::of(short_text()),
    )
        .prop_map(|(name, port, protocol, app_protocol)| CoreEndpointPort {
            name,
            port,
            protocol,
            app_protocol,
        })
}

fn subset(max: usize) -> impl Strategy<Value = EndpointSubset> {
    (
        vec(address(), 0..=max),
        vec(address(), 0..=(max / 4)),
        vec(core_port(), 0..3),
    )
        .prop_map(|(addresses, not_ready_addresses, ports)| EndpointSubset {
            addresses,
            not_ready_addresses,
            ports,
        })
}

fn endpoints() -> impl Strategy<Value = Endpoints> {
    (count(), 1usize..4).prop_flat_map(|(n, k)| {
        (meta(), vec(subset(n / k), 0..=k))
            .prop_map(|(metadata, subsets)| Endpoints { metadata, subsets })
    })
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // test data, built once per case
enum SliceEdit {
    Push(Endpoint),
    Remove(prop::sample::Index),
    Replace(prop::sample::Index, Endpoint),
    Meta(ObjectMeta),
    Ports(Vec<EndpointPort>),
    Content(Vec<Endpoint>, Vec<EndpointPort>),
}

fn slice_edit(version: SliceVersion) -> impl Strategy<Value = SliceEdit> {
    prop_oneof![
        4 => endpoint(version).prop_map(SliceEdit::Push),
        3 => any::<prop::sample::Index>().prop_map(SliceEdit::Remove),
        4 => (any::<prop::sample::Index>(), endpoint(version))
            .prop_map(|(i, e)| SliceEdit::Replace(i, e)),
        1 => meta().prop_map(SliceEdit::Meta),
        1 => vec(slice_port(), 0..3).prop_map(SliceEdit::Ports),
        1 => (vec(endpoint(version), 0..8), vec(slice_port(), 0..3))
            .prop_map(|(e, p)| SliceEdit::Content(e, p)),
    ]
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // test data, built once per case
enum EndpointsEdit {
    Push(prop::sample::Index, bool, EndpointAddress),
    Remove(prop::sample::Index, bool, prop::sample::Index),
    Replace(
        prop::sample::Index,
        bool,
        prop::sample::Index,
        EndpointAddress,
    ),
    InsertSubset(prop::sample::Index, EndpointSubset),
    RemoveSubset(prop::sample::Index),
    Subsets(Vec<EndpointSubset>),
    Meta(ObjectMeta),
}

fn endpoints_edit() -> impl Strategy<Value = EndpointsEdit> {
    use prop::sample::Index;
    prop_oneof![
        4 => (any::<Index>(), any::<bool>(), address())
            .prop_map(|(s, r, a)| EndpointsEdit::Push(s, r, a)),
        3 => (any::<Index>(), any::<bool>(), any::<Index>())
            .prop_map(|(s, r, i)| EndpointsEdit::Remove(s, r, i)),
        4 => (any::<Index>(), any::<bool>(), any::<Index>(), address())
            .prop_map(|(s, r, i, a)| EndpointsEdit::Replace(s, r, i, a)),
        1 => (any::<Index>(), subset(8)).prop_map(|(i, s)| EndpointsEdit::InsertSubset(i, s)),
        1 => any::<Index>().prop_map(EndpointsEdit::RemoveSubset),
        1 => vec(subset(8), 0..3).prop_map(EndpointsEdit::Subsets),
        1 => meta().prop_map(EndpointsEdit::Meta),
    ]
}

/// `m` with the fields `omit` names cleared: what a request body carries.
fn clear_omitted(m: &mut ObjectMeta, omit: fast::Omit) {
    if omit.managed_fields {
        m.managed_fields.clear();
    }
    if omit.server_set {
        m.uid.clear();
        m.resource_version.clear();
        m.generation = 0;
        m.creation_timestamp = None;
    }
    if omit.name {
        m.name.clear();
    }
}

fn check(obj: Object, fast: slicesim::wire::ObjectSizes) -> Result<(), TestCaseError> {
    let reference = reference::sizes(&obj).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(fast, reference);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn slice_sizes_equal_reference_after_every_edit(
        (s, edits) in slice().prop_flat_map(|s| {
            let v = s.version;
            (Just(s), vec(slice_edit(v), 0..12))
        })
    ) {
        let mut sized = fast::SizedSlice::new(s);
        check(Object::EndpointSlice(sized.to_slice()), sized.sizes())?;
        for edit in edits {
            let n = sized.len();
            match edit {
                SliceEdit::Push(e) => sized.push_endpoint(e),
                SliceEdit::Remove(i) if n > 0 => { sized.remove_endpoint(i.index(n)); }
                SliceEdit::Replace(i, e) if n > 0 => { sized.replace_endpoint(i.index(n), e); }
                SliceEdit::Meta(m) => sized.set_metadata(m),
                SliceEdit::Ports(p) => sized.set_ports(p),
                SliceEdit::Content(e, p) => { sized.set_content(e, p); }
                _ => {}
            }
            check(Object::EndpointSlice(sized.to_slice()), sized.sizes())?;
        }
    }

    #[test]
    fn endpoints_sizes_equal_reference_after_every_edit(
        (e, edits) in (endpoints(), vec(endpoints_edit(), 0..12))
    ) {
        let mut sized = fast::SizedEndpoints::new(e);
        check(Object::Endpoints(sized.endpoints().clone()), sized.sizes())?;
        for edit in edits {
            let subsets = sized.endpoints().subsets.len();
            let len = |sized: &fast::SizedEndpoints, s: usize, ready: bool| {
                let sub = &sized.endpoints().subsets[s];
                if ready { sub.addresses.len() } else { sub.not_ready_addresses.len() }
            };
            match edit {
                EndpointsEdit::Push(s, ready, a) if subsets > 0 => {
                    sized.push_address(s.index(subsets), ready, a);
                }
                EndpointsEdit::Remove(s, ready, i) if subsets > 0 => {
                    let s = s.index(subsets);
                    let n = len(&sized, s, ready);
                    if n > 0 { sized.remove_address(s, ready, i.index(n)); }
                }
                EndpointsEdit::Replace(s, ready, i, a) if subsets > 0 => {
                    let s = s.index(subsets);
                    let n = len(&sized, s, ready);
                    if n > 0 { sized.replace_address(s, ready, i.index(n), a); }
                }
                EndpointsEdit::InsertSubset(i, sub) => sized.insert_subset(i.index(subsets + 1), sub),
                EndpointsEdit::RemoveSubset(i) if subsets > 0 => { sized.remove_subset(i.index(subsets)); }
                EndpointsEdit::Subsets(subsets) => { sized.set_subsets(subsets); }
                EndpointsEdit::Meta(m) => sized.set_metadata(m),
                _ => {}
            }
            check(Object::Endpoints(sized.endpoints().clone()), sized.sizes())?;
        }
    }

    /// Metadata edited in place, as the controllers do: the text fields (measured again only
    /// when an edit opens them with [`fast::MetaEdit::stable`]) and a [`fast::Stamp`] (measured
    /// by arithmetic). Each edit sets the stamp, and the text fields too or not; the sizes are
    /// those of the object with the stamp written out.
    #[test]
    fn metadata_edits_equal_reference(
        s in slice(),
        e in endpoints(),
        edits in vec((meta(), stamp(), any::<bool>()), 1..8),
        (managed_fields, server_set, name) in any::<(bool, bool, bool)>(),
    ) {
        let omit = fast::Omit { managed_fields, server_set, name };
        let apply = |m: &mut fast::MetaEdit<'_>, st: &mut fast::Stamp, new: &ObjectMeta, to: &fast::Stamp, text: bool| {
            if text {
                let mut new = new.clone();
                new.resource_version.clear();
                new.generation = 0;
                new.annotations.clear();
                new.managed_fields.clear();
                *m.stable() = new;
            }
            st.clone_from(to);
        };
        let mut slice = fast::SizedSlice::new(s);
        let mut eps = fast::SizedEndpoints::new(e);
        for (new, to, text) in &edits {
            let request = slice.edit_metadata(omit, |m, st| apply(m, st, new, to, *text));
            check(Object::EndpointSlice(slice.to_slice()), slice.sizes())?;
            let mut cleared = slice.to_slice();
            clear_omitted(&mut cleared.metadata, omit);
            check(Object::EndpointSlice(cleared), request)?;
            prop_assert_eq!(slice.sizes_omitting(omit), request);
            let request = eps.edit_metadata(omit, |m, st| apply(m, st, new, to, *text));
            check(Object::Endpoints(eps.to_endpoints()), eps.sizes())?;
            let mut cleared = eps.to_endpoints();
            clear_omitted(&mut cleared.metadata, omit);
            check(Object::Endpoints(cleared), request)?;
            for (key, value) in &to.annotations {
                prop_assert!(eps.annotation_is(key, Some(*value)));
            }
            prop_assert!(eps.annotation_is("absent", None));
        }
    }

    /// A request body's size: the stored object's with the fields the API server sets left
    /// out, without building that copy.
    #[test]
    fn request_sizes_equal_reference_of_the_cleared_object(
        s in slice(),
        e in endpoints(),
        (managed_fields, server_set, name) in any::<(bool, bool, bool)>(),
    ) {
        let omit = fast::Omit { managed_fields, server_set, name };
        let sized = fast::SizedSlice::new(s.clone());
        let mut cleared = s;
        clear_omitted(&mut cleared.metadata, omit);
        check(Object::EndpointSlice(cleared), sized.sizes_omitting(omit))?;
        let sized = fast::SizedEndpoints::new(e.clone());
        let mut cleared = e;
        clear_omitted(&mut cleared.metadata, omit);
        check(Object::Endpoints(cleared), sized.sizes_omitting(omit))?;
    }
}
