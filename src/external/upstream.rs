//! The upstream EndpointSlice reconciler's packing over the registry's instances
//! (`staging/src/k8s.io/endpointslice/reconciler.go`, reusable by other controllers since
//! KEP-4770): the registry is one more source of endpoints for the same controller model the
//! cluster's Services use ([`SliceController`]), `delay` being its batch period. Each healthy
//! instance is a pod without a Pod object (no targetRef, no nodeName) in its zone; a flap
//! takes the instance out and puts it back, as a registry's health check does. The Service is
//! headless: its slices carry `service.kubernetes.io/headless` and kube-proxy does not watch
//! them.
//!
//! The controller writes every change of a sync at once, so after a sync with writes the
//! slices publish exactly the healthy instances of that moment: that is what [`observe`]
//! is fed (a test checks it against the final slices).
//!
//! [`observe`]: super::observe

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::observe::Delta;
use super::registry::{Change, Instance};
use super::{Output, Setup, replay};
use crate::cluster::{self, Hints, Node, Phase, Pod, ServiceSpec};
use crate::controllers::endpointslice::SliceController;
use crate::controllers::{self, Api, MetaContext};
use crate::scenario::{IpFamily, ServicePort, TargetPort};
use crate::stream::Recorded;

pub fn run(s: &Setup<'_>) -> Output {
    let c = &s.spec.controller;
    let mut rng = s.rng(0);
    let spec = ServiceSpec {
        namespace: s.namespace().into(),
        name: s.name().into(),
        uid: cluster::random_uid(&mut rng).into(),
        labels: BTreeMap::new(),
        ports: s
            .spec
            .ports
            .value
            .iter()
            .map(|p| ServicePort {
                name: p.name.clone(),
                protocol: p.protocol.clone(),
                port: p.port.value as i32,
                target_port: TargetPort::Number(p.port.value as i32),
                app_protocol: None,
            })
            .collect(),
        container_ports: BTreeMap::new(),
        families: vec![IpFamily::IPv4],
        headless: true,
        publish_not_ready_addresses: false,
        hints: Hints::Off,
        local_traffic: false,
        deleting: false,
        gone: false,
    };
    // One unnamed Node per zone: an endpoint gets its zone and no nodeName.
    let nodes: Vec<Node> = s
        .zones
        .iter()
        .map(|z| Node {
            name: "".into(),
            zone: z.as_str().into(),
            cpu_milli: 1000,
        })
        .collect();
    let pod = |i: &Instance, t| Pod {
        id: i.id,
        service: 0,
        name: "".into(),
        uid: "".into(),
        node: u32::from(i.zone),
        node_name: "".into(),
        ipv4: Some(i.address.into()),
        ipv6: None,
        phase: Phase::Running,
        ready: true,
        terminating: false,
        ready_changed: t,
        container_ports: Arc::default(),
    };
    let h = s.history;
    let mut instances: rustc_hash::FxHashMap<u32, Instance> =
        h.initial.iter().map(|i| (i.id, *i)).collect();
    let mut events: Vec<(u64, cluster::Change)> = h
        .initial
        .iter()
        .map(|i| {
            (
                0,
                cluster::Change::Pod {
                    pod: pod(i, 0),
                    deleted: false,
                },
            )
        })
        .collect();
    for (t, change) in &h.changes {
        let (i, deleted) = match change {
            Change::Join(i) => {
                instances.insert(i.id, *i);
                (*i, false)
            }
            Change::Up(id) | Change::Leave(id) | Change::Down(id) => {
                let Some(i) = instances.get(id) else { continue };
                (*i, !matches!(change, Change::Up(_)))
            }
        };
        events.push((
            *t,
            cluster::Change::Pod {
                pod: pod(&i, *t),
                deleted,
            },
        ));
    }
    let ctl = SliceController::new(
        MetaContext {
            start_unix: s.ctx.start_unix,
            managed_fields: s.ctx.managed_fields,
        },
        c.max_endpoints_per_slice.value.clamp(1, 1000) as usize,
        &nodes,
        std::slice::from_ref(&spec),
        rng,
    );
    let run = controllers::drive_events(
        ctl,
        std::slice::from_ref(&spec),
        Recorded::new(&events),
        events.len(),
        c.delay.value.0,
        s.end,
    );
    let mut out = Output::default();
    // After each sync with stored writes, the slices publish the healthy instances.
    let mut times: Vec<u64> = run
        .writes
        .iter()
        .filter(|w| w.stored())
        .map(|w| w.time)
        .collect();
    times.dedup();
    let mut published: FxHashSet<std::net::Ipv4Addr> = FxHashSet::default();
    replay(h, times, |t, reg| {
        let now: FxHashSet<_> = reg.healthy().map(|i| i.address).collect();
        let mut d = Delta {
            removed: published.difference(&now).copied().collect(),
            added: now.difference(&published).copied().collect(),
        };
        d.removed.sort_unstable();
        d.added.sort_unstable();
        published = now;
        out.deltas.push((t, d));
    });
    out.writes = run
        .writes
        .into_iter()
        .map(|mut w| {
            w.service = s.service;
            (Api::EndpointSlices, w)
        })
        .collect();
    out.objects = run
        .final_objects
        .into_iter()
        .zip(run.final_sizes)
        .map(|(o, sz)| (Api::EndpointSlices, o, sz))
        .collect();
    out
}
