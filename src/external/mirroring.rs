//! The controller writes one Endpoints object (`delay` after a registry change) and the
//! upstream EndpointSliceMirroring controller mirrors it into slices
//! (`pkg/controller/endpointslicemirroring/`), at once on each stored change:
//!
//! * `reconciler.reconcile`: of each subset at most `--mirroring-max-endpoints-per-subset`
//!   (1,000) addresses are mirrored, ready before not-ready, the rest skipped (a warning
//!   event, `TooManyAddressesToMirror`); one slice per subset's ports and address type.
//! * `reconcileByPortMapping`: the first existing slice is kept and the others deleted; when
//!   its endpoints are the desired set nothing is written, otherwise it is rewritten whole
//!   (an Update), or created by `generateName` `<endpoints>-` when there is none.
//! * `utils.newEndpointSlice`: the Endpoints' labels, with `kubernetes.io/service-name` and
//!   `endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io`; its
//!   annotations but the trigger time and last-applied; a controller reference to the
//!   Endpoints; `addressToEndpoint`: the address, `ready`, nodeName, hostname, targetRef.
//! * Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"` are not mirrored
//!   (`shouldMirror`, `skipMirror`; the controller deletes slices it mirrored before): the
//!   writer sets it with `skip_mirror: true`.
//!
//! The writer is one the material would approve of: it sends the whole Endpoints each sync
//! (identical ones are no-ops at the API server).

use std::collections::BTreeMap;

use super::store::Store;
use super::{Output, Setup, controller_ref, replay, sync_times, tagged};
use crate::controllers::Api;
use crate::controllers::endpointslice::{MANAGED_BY, SERVICE_NAME};
use crate::wire::Object;
use crate::wire::model::{
    CoreEndpointPort, Endpoint, EndpointAddress, EndpointConditions, EndpointPort, EndpointSlice,
    EndpointSubset, Endpoints, ObjectMeta,
};

/// The label that turns mirroring off (`discovery.LabelSkipMirror`).
pub const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";

/// The mirroring controller's name (`endpointslicemirroring`, `ControllerName`).
pub const MIRRORING_CONTROLLER: &str = "endpointslicemirroring-controller.k8s.io";

pub fn run(s: &Setup<'_>) -> Output {
    let c = &s.spec.controller;
    let max = c.mirroring_max_endpoints_per_subset.value.clamp(1, 1000) as usize;
    let mut writer = Store::new(&s.ctx, super::CUSTOM_CONTROLLER, s.service, false, s.rng(0));
    let mut mirror = Store::new(
        &s.ctx,
        "kube-controller-manager",
        s.service,
        false,
        s.rng(1),
    );
    let ports: Vec<CoreEndpointPort> = s
        .spec
        .ports
        .value
        .iter()
        .map(|p| CoreEndpointPort {
            name: p.name.clone(),
            port: p.port.value as i32,
            protocol: p.protocol.clone(),
            app_protocol: None,
        })
        .collect();
    let times = sync_times(s.history, c.delay.value.0, s.end);
    let mut first = true;
    replay(s.history, times, |t, reg| {
        let addresses: Vec<EndpointAddress> = reg
            .healthy()
            .map(|i| EndpointAddress {
                ip: super::registry::address_text(i.address),
                ..Default::default()
            })
            .collect();
        let subsets = if addresses.is_empty() {
            Vec::new()
        } else {
            vec![EndpointSubset {
                addresses,
                not_ready_addresses: Vec::new(),
                ports: ports.clone(),
            }]
        };
        let body = Object::Endpoints(Endpoints {
            metadata: ObjectMeta {
                name: s.name().into(),
                namespace: s.namespace().into(),
                labels: if c.skip_mirror {
                    BTreeMap::from([(SKIP_MIRROR.to_string(), "true".to_string())])
                } else {
                    BTreeMap::new()
                },
                ..Default::default()
            },
            subsets,
        });
        let before = writer.writes.len();
        if std::mem::take(&mut first) {
            writer.create(t, body);
        } else {
            writer.update(t, body);
        }
        if writer.writes[before..].iter().any(|w| w.stored())
            && let Some(Object::Endpoints(e)) = writer.get(s.name())
        {
            let uid = writer.uid_of(s.name()).unwrap_or_default().to_string();
            reconcile(t, e, &uid, max, &mut mirror);
        }
    });
    let mut out = Output::default();
    tagged(Api::Endpoints, writer, &mut out);
    tagged(Api::EndpointSlices, mirror, &mut out);
    out
}

/// `reconciler.reconcile` of one Endpoints object with one subset's ports (IPv4).
fn reconcile(t: u64, e: &Endpoints, uid: &str, max: usize, mirror: &mut Store<'_>) {
    let mut desired: Vec<Endpoint> = Vec::new();
    let mut ports: Vec<EndpointPort> = Vec::new();
    for subset in &e.subsets {
        ports = subset
            .ports
            .iter()
            .map(|p| EndpointPort {
                name: Some(p.name.clone()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone()),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let ready = subset.addresses.iter().map(|a| (a, true));
        let not_ready = subset.not_ready_addresses.iter().map(|a| (a, false));
        for (a, ready) in ready.chain(not_ready).take(max) {
            desired.push(Endpoint {
                addresses: vec![a.ip.clone()],
                conditions: EndpointConditions {
                    ready: Some(ready),
                    ..Default::default()
                },
                hostname: Some(a.hostname.clone()).filter(|h| !h.is_empty()),
                target_ref: a.target_ref.clone(),
                node_name: a.node_name.clone(),
                ..Default::default()
            });
        }
    }
    let existing: Vec<String> = mirror.names().cloned().collect();
    let skip = e
        .metadata
        .labels
        .get(SKIP_MIRROR)
        .is_some_and(|v| v == "true");
    if desired.is_empty() || skip {
        for name in &existing {
            mirror.delete(t, name);
        }
        return;
    }
    for name in existing.iter().skip(1) {
        mirror.delete(t, name);
    }
    let keep = existing.first();
    if let Some(Object::EndpointSlice(old)) = keep.and_then(|n| mirror.get(n)) {
        // `totalChanges`: the endpoints as a set (the slice's order is the set's).
        let key = |v: &[Endpoint]| {
            let mut k = v.to_vec();
            k.sort_by(|a, b| a.addresses.cmp(&b.addresses));
            k
        };
        if key(&old.endpoints) == key(&desired) && old.ports == ports {
            return;
        }
    }
    let labels = e
        .metadata
        .labels
        .clone()
        .into_iter()
        .chain([
            (SERVICE_NAME.to_string(), e.metadata.name.clone()),
            (MANAGED_BY.to_string(), MIRRORING_CONTROLLER.to_string()),
        ])
        .collect::<BTreeMap<_, _>>();
    let body = Object::EndpointSlice(EndpointSlice {
        version: Default::default(),
        metadata: ObjectMeta {
            name: keep.cloned().unwrap_or_default(),
            generate_name: if keep.is_some() {
                String::new()
            } else {
                format!("{}-", e.metadata.name)
            },
            namespace: e.metadata.namespace.clone(),
            labels,
            owner_references: vec![controller_ref("v1", "Endpoints", &e.metadata.name, uid)],
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: desired,
        ports,
    });
    if keep.is_some() {
        mirror.update(t, body);
    } else {
        mirror.create(t, body);
    }
}
