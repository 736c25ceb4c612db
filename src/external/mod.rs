//! Services that live outside the cluster (Consul, Eureka, external DNS) behind a headless,
//! selector-less Service, and the controllers people write to publish them as EndpointSlices
//! (issue 13). The registry's history comes first and alone ([`registry`]): it depends on the
//! scenario's seed and the Service's index only, never on the controller strategy, so that
//! strategies compare on identical histories. Each strategy turns it into API requests
//! ([`store`] says what the API server does with them); [`observe`] measures how far the
//! published slices lag the registry. The requests join the write log of the API they use.

pub mod diffing;
pub mod mirroring;
pub mod naive;
pub mod observe;
pub mod registry;
pub mod store;
pub mod upstream;

use std::collections::BTreeMap;

use crate::controllers::endpointslice::{MANAGED_BY, SERVICE_NAME};
use crate::controllers::{Api, MetaContext, Write};
use crate::engine::{self, Nanos};
use crate::scenario::Scenario;
use crate::scenario::external::{ExternalService, Strategy};
use crate::wire::model::{
    Endpoint, EndpointConditions, EndpointPort, EndpointSlice, ObjectMeta, OwnerReference,
};
use crate::wire::{Object, ObjectSizes};
use registry::{History, Instance};

/// The managed-by value of the teaching material's controller (and of `diffing`).
pub const CUSTOM_CONTROLLER: &str = "custom-controller";

/// What a strategy needs: the Service, its registry's history and the run's settings.
pub struct Setup<'a> {
    pub ctx: MetaContext,
    pub spec: &'a ExternalService,
    /// Its index among all Services of the run (the cluster's first).
    pub service: u32,
    pub zones: Vec<String>,
    pub history: &'a History,
    pub end: Nanos,
    pub seed: u64,
    /// Its index among the external Services (its RNG streams).
    pub index: u64,
}

impl Setup<'_> {
    pub fn name(&self) -> &str {
        &self.spec.name.value
    }

    pub fn namespace(&self) -> &str {
        &self.spec.namespace
    }

    /// An RNG stream of this Service's controller (beside its registry's).
    pub fn rng(&self, which: u64) -> engine::Rng {
        engine::rng(
            self.seed,
            registry::STREAM_BASE + 1000 * (which + 1) + self.index,
        )
    }

    /// The slices' ports.
    pub fn slice_ports(&self) -> Vec<EndpointPort> {
        self.spec
            .ports
            .value
            .iter()
            .map(|p| EndpointPort {
                name: Some(p.name.clone()),
                protocol: Some(p.protocol.clone()),
                port: Some(p.port.value as i32),
                app_protocol: None,
            })
            .collect()
    }

    /// An endpoint of `i` as a hand-written controller writes it: its address, ready, its zone.
    pub fn endpoint(&self, i: &Instance) -> Endpoint {
        Endpoint {
            addresses: vec![registry::address_text(i.address)],
            conditions: EndpointConditions {
                ready: Some(true),
                ..Default::default()
            },
            zone: self.zones.get(usize::from(i.zone)).cloned(),
            ..Default::default()
        }
    }

    /// A slice named `name` of `instances`, labelled as the material prescribes; owned by
    /// the Service when `owner` is its UID.
    pub fn slice(&self, name: String, instances: &[Instance], owner: Option<&str>) -> Object {
        let labels = BTreeMap::from([
            (SERVICE_NAME.to_string(), self.name().to_string()),
            (MANAGED_BY.to_string(), CUSTOM_CONTROLLER.to_string()),
        ]);
        Object::EndpointSlice(EndpointSlice {
            version: Default::default(),
            metadata: ObjectMeta {
                name,
                namespace: self.namespace().to_string(),
                labels,
                owner_references: owner
                    .map(|uid| vec![controller_ref("v1", "Service", self.name(), uid)])
                    .unwrap_or_default(),
                ..Default::default()
            },
            address_type: "IPv4".into(),
            endpoints: instances.iter().map(|i| self.endpoint(i)).collect(),
            ports: self.slice_ports(),
        })
    }
}

/// `metav1.NewControllerRef`: controller and blockOwnerDeletion set.
pub fn controller_ref(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What a strategy did: its requests per API, the stored objects at the end, and what the
/// published slices changed when.
#[derive(Debug, Default)]
pub struct Output {
    pub writes: Vec<(Api, Write)>,
    pub objects: Vec<(Api, Object, ObjectSizes)>,
    pub deltas: Vec<(Nanos, observe::Delta)>,
}

/// One external Service's run, and its row of `external.csv`.
#[derive(Debug)]
pub struct ExternalRun {
    pub output: Output,
    pub row: Row,
}

/// A row of `external.csv`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub service: String,
    pub strategy: String,
    pub requests: u64,
    pub failed_requests: u64,
    pub request_bytes: u64,
    pub writes: u64,
    pub watch_events: u64,
    pub bytes_delivered: u64,
    pub stale_endpoints_peak: u64,
    pub stale_endpoints_final: u64,
    pub stale_endpoint_seconds: f64,
    pub missing_endpoints_final: u64,
    pub leaked_slices: u64,
    pub staleness_p50_s: f64,
    pub staleness_p99_s: f64,
}

/// The history of external Service `index`'s registry: from its own seed, or the scenario's
/// and the Service's own stream; whatever its controller.
pub fn history_of(sc: &Scenario, index: usize) -> History {
    let spec = &sc.file.external_services[index];
    let zones = spec.zone_names(&sc.file);
    let count = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
    let reg = registry::Spec {
        instances: count(spec.instances.value),
        zones: zones.len().clamp(1, usize::from(u16::MAX)) as u16,
        join_per_hour: spec.registry.join_per_hour.value,
        leave_per_hour: spec.registry.leave_per_hour.value,
        flaps_per_hour: spec.registry.flaps_per_hour.value,
        flap_down: spec.registry.flap_down.value.0,
        scale: spec
            .registry
            .scale
            .iter()
            .map(|s| (s.at.0, count(s.instances.value)))
            .collect(),
    };
    let rng = match spec.registry.seed {
        Some(seed) => engine::rng(seed, registry::STREAM_BASE),
        None => engine::rng(sc.file.seed, registry::STREAM_BASE + index as u64),
    };
    registry::history(&reg, rng, sc.file.duration.value.0)
}

/// Runs external Service `index` of the scenario (Service number `service` of the run).
pub fn run(sc: &Scenario, index: usize, service: u32) -> ExternalRun {
    let spec = &sc.file.external_services[index];
    let end = sc.file.duration.value.0;
    let zones = spec.zone_names(&sc.file);
    let history = history_of(sc, index);
    let setup = Setup {
        ctx: MetaContext {
            start_unix: sc.start_unix,
            managed_fields: sc.file.realism.managed_fields,
        },
        spec,
        service,
        zones,
        history: &history,
        end,
        seed: sc.file.seed,
        index: index as u64,
    };
    let output = match spec.controller.strategy {
        Strategy::Naive => naive::run(&setup),
        Strategy::Diffing => diffing::run(&setup),
        Strategy::Upstream => upstream::run(&setup),
        Strategy::Mirroring => mirroring::run(&setup),
    };
    let row = row(&setup, &output);
    ExternalRun { output, row }
}

/// The row of a run, but for the watch figures (the run's watchers fill them in).
fn row(setup: &Setup<'_>, out: &Output) -> Row {
    let h = setup.history;
    let stats = observe::observe(&h.initial, &h.changes, &out.deltas, setup.end);
    let mut reg = registry::Registry::new(&h.initial);
    for (_, c) in &h.changes {
        reg.apply(*c);
    }
    let listed: std::collections::HashSet<_> = reg.all().map(|i| i.address).collect();
    let leaked = out
        .objects
        .iter()
        .filter(|(_, o, _)| {
            let addrs = store::ready_addresses(o);
            matches!(o, Object::EndpointSlice(_))
                && !addrs.is_empty()
                && addrs.iter().all(|a| !listed.contains(a))
        })
        .count() as u64;
    // Nearest-rank percentiles, as the propagation delays' (every change weighs one).
    let mut samples: Vec<(Nanos, u64)> = stats.staleness.iter().map(|t| (*t, 1)).collect();
    let p = crate::apiserver::Percentiles::of(&mut samples);
    // Microseconds: no float noise in the CSV.
    let seconds = |ns: Nanos| (ns as f64 / 1e3).round() / 1e6;
    let writes = out.writes.iter().map(|(_, w)| w);
    Row {
        service: format!("{}/{}", setup.namespace(), setup.name()),
        strategy: setup.spec.controller.strategy.as_str().into(),
        requests: writes.clone().count() as u64,
        failed_requests: writes.clone().filter(|w| w.failed).count() as u64,
        request_bytes: writes.clone().map(|w| w.request_bytes).sum(),
        writes: writes.filter(|w| w.stored()).count() as u64,
        watch_events: 0,
        bytes_delivered: 0,
        stale_endpoints_peak: stats.stale_peak,
        stale_endpoints_final: stats.stale_final,
        stale_endpoint_seconds: (stats.stale_seconds * 1e3).round() / 1e3,
        missing_endpoints_final: stats.missing_final,
        leaked_slices: leaked,
        staleness_p50_s: seconds(p.p50),
        staleness_p99_s: seconds(p.p99),
    }
}

/// The times a reacting controller syncs: `delay` after a registry change, a change while
/// a sync is pending joining it; and at t = 0 (it starts with the registry as it is).
pub fn sync_times(h: &History, delay: Nanos, end: Nanos) -> Vec<Nanos> {
    let mut out = vec![0];
    for (t, _) in &h.changes {
        let due = t.saturating_add(delay);
        if out.last().is_none_or(|last| *last < *t) && due <= end {
            out.push(due);
        }
    }
    out.dedup();
    out
}

/// Feeds the registry's changes up to each of `times` and calls `sync` with the registry.
pub fn replay(
    h: &History,
    times: impl IntoIterator<Item = Nanos>,
    mut sync: impl FnMut(Nanos, &registry::Registry),
) {
    let mut reg = registry::Registry::new(&h.initial);
    let mut k = 0;
    for t in times {
        while let Some((_, c)) = h.changes.get(k).filter(|(tc, _)| *tc <= t) {
            reg.apply(*c);
            k += 1;
        }
        sync(t, &reg);
    }
}

/// Tags a store's requests and final objects with their API.
pub fn tagged(api: Api, s: store::Store<'_>, out: &mut Output) {
    out.deltas.extend(s.deltas.iter().cloned());
    let (writes, objects) = s.finish();
    out.writes.extend(writes.into_iter().map(|w| (api, w)));
    out.objects
        .extend(objects.into_iter().map(|(o, sz)| (api, o, sz)));
}

#[cfg(test)]
mod tests {
    use super::registry::{Change, History, Instance};
    use super::*;
    use crate::controllers::Op;
    use crate::scenario::SECOND;

    fn scenario(external: &str, duration: &str) -> Scenario {
        let text = format!(
            "duration: {duration}\ncluster:\n  zones: [{{name: a, nodes: 3}}]\nservices: []\n\
             external_services:\n{external}"
        );
        Scenario::parse("t.yaml", "t", &text).unwrap()
    }

    fn setup<'a>(sc: &'a Scenario, history: &'a History) -> Setup<'a> {
        Setup {
            ctx: MetaContext {
                start_unix: sc.start_unix,
                managed_fields: true,
            },
            spec: &sc.file.external_services[0],
            service: 0,
            zones: vec!["a".into()],
            history,
            end: sc.file.duration.value.0,
            seed: 1,
            index: 0,
        }
    }

    /// Five instances; instance 1 leaves at 10 s, instance 5 joins at 20 s.
    fn small() -> History {
        History {
            initial: (0..5).map(|id| Instance::new(id, 1)).collect(),
            changes: vec![
                (10 * SECOND, Change::Leave(1)),
                (20 * SECOND, Change::Join(Instance::new(5, 1))),
            ],
        }
    }

    /// (op, name, stored, time in s, endpoints) of each request.
    fn log(out: &Output) -> Vec<(Op, String, bool, u64, u32)> {
        out.writes
            .iter()
            .map(|(_, w)| {
                (
                    w.op,
                    w.name.to_string(),
                    w.stored(),
                    w.time / SECOND,
                    w.endpoints,
                )
            })
            .collect()
    }

    /// By hand, chunks of 2 polled every 30 s: t = 0 creates [0 1] [2 3] [4]; t = 30 lists
    /// 0 2 3 4 5, chunks [0 2] [3 4] [5]: each Create fails, each Update stores (every chunk
    /// changed). The leave at 10 s shows at 30 s (20 s), the join at 20 s too (10 s).
    #[test]
    fn naive_shifts_every_later_instance() {
        let sc = scenario(
            "  - {name: svc, instances: 5, controller: {strategy: naive, chunk: 2}}\n",
            "59s",
        );
        let h = small();
        let out = naive::run(&setup(&sc, &h));
        let (c, u) = (Op::Create, Op::Update);
        let n = |k: u32| format!("svc-{k}");
        assert_eq!(
            log(&out),
            [
                (c, n(0), true, 0, 2),
                (c, n(1), true, 0, 2),
                (c, n(2), true, 0, 1),
                (c, n(0), false, 30, 2),
                (u, n(0), true, 30, 2),
                (c, n(1), false, 30, 2),
                (u, n(1), true, 30, 2),
                (c, n(2), false, 30, 1),
                (u, n(2), true, 30, 1),
            ]
        );
        let s = observe::observe(&h.initial, &h.changes, &out.deltas, 59 * SECOND);
        assert_eq!(s.staleness, [20 * SECOND, 10 * SECOND]);
        assert!((s.stale_seconds - 20.0).abs() < 1e-9);
        // No ownerReferences, the material's labels.
        let (_, Object::EndpointSlice(slice), _) = &out.objects[0] else {
            panic!()
        };
        assert!(slice.metadata.owner_references.is_empty());
        assert_eq!(slice.metadata.labels[MANAGED_BY], CUSTOM_CONTROLLER);
    }

    /// By hand, 2 per slice, 1 s after a change: t = 0 creates [0 1] [2 3] [4]; t = 11 the
    /// leave empties a place in svc-0 ([0]); t = 21 the join takes it ([0 5]). Two updates,
    /// nothing else: no instance moves.
    #[test]
    fn diffing_writes_only_the_slice_that_changed() {
        let sc = scenario(
            "  - {name: svc, instances: 5, controller: {strategy: diffing, \
             max_endpoints_per_slice: 2}}\n",
            "59s",
        );
        let h = small();
        let out = diffing::run(&setup(&sc, &h));
        let (c, u) = (Op::Create, Op::Update);
        let n = |k: u32| format!("svc-{k}");
        assert_eq!(
            log(&out),
            [
                (c, n(0), true, 0, 2),
                (c, n(1), true, 0, 2),
                (c, n(2), true, 0, 1),
                (u, n(0), true, 11, 1),
                (u, n(0), true, 21, 2),
            ]
        );
        let s = observe::observe(&h.initial, &h.changes, &out.deltas, 59 * SECOND);
        assert_eq!(s.staleness, [SECOND, SECOND]);
        let (_, Object::EndpointSlice(slice), _) = &out.objects[0] else {
            panic!()
        };
        assert_eq!(slice.metadata.owner_references[0].kind, "Service");
    }

    /// By hand, mirroring at most 3 addresses, 1 s after a change: t = 0 the Endpoints object
    /// (5 addresses) is created and mirrored into one slice of the first 3 (0 1 2, by
    /// generateName `svc-`); t = 11 the Endpoints lose 1: the first three are 0 2 3, the slice
    /// is rewritten; t = 21 instance 5 joins at the end of the list: the first three are
    /// still 0 2 3, the mirrored slice is not written.
    #[test]
    fn mirroring_rewrites_its_slice_only_when_the_mirrored_addresses_change() {
        let sc = scenario(
            "  - {name: svc, instances: 5, controller: {strategy: mirroring, \
             mirroring_max_endpoints_per_subset: 3}}\n",
            "59s",
        );
        let h = small();
        let out = mirroring::run(&setup(&sc, &h));
        let by_api = |api: Api| -> Vec<(Op, u64, u32)> {
            out.writes
                .iter()
                .filter(|(a, _)| *a == api)
                .map(|(_, w)| (w.op, w.time / SECOND, w.endpoints))
                .collect()
        };
        let (c, u) = (Op::Create, Op::Update);
        assert_eq!(by_api(Api::Endpoints), [(c, 0, 5), (u, 11, 4), (u, 21, 5)]);
        assert_eq!(by_api(Api::EndpointSlices), [(c, 0, 3), (u, 11, 3)]);
        let (_, slice, _) = &out.objects[1];
        assert!(slice.metadata().name.starts_with("svc-"));
        let held = store::ready_addresses(slice);
        let want: Vec<_> = [0, 2, 3].map(registry::address_of).into();
        assert_eq!(held, want);
    }

    /// `skip_mirror: true`: the Endpoints object is written, nothing is mirrored; every
    /// instance is missing from the slices.
    #[test]
    fn skip_mirror_leaves_the_endpoints_unmirrored() {
        let sc = scenario(
            "  - {name: svc, instances: 5, controller: {strategy: mirroring, skip_mirror: true}}\n",
            "59s",
        );
        let h = small();
        let out = mirroring::run(&setup(&sc, &h));
        assert!(out.writes.iter().all(|(api, _)| *api == Api::Endpoints));
        assert_eq!(out.writes.len(), 3);
        let s = observe::observe(&h.initial, &h.changes, &out.deltas, 59 * SECOND);
        assert_eq!(s.missing_final, 5);
    }

    /// By hand, the upstream reconciler with 2 per slice, 1 s after a change: t = 0 three
    /// slices (2 2 1); t = 11 the leave updates the slice that held instance 1; t = 21 the
    /// join fits in a slice with room (`reconcileByPortMapping` step 3): one update, no create.
    #[test]
    fn upstream_packs_as_the_endpointslice_controller() {
        let sc = scenario(
            "  - {name: svc, instances: 5, controller: {strategy: upstream, \
             max_endpoints_per_slice: 2}}\n",
            "59s",
        );
        let h = small();
        let out = upstream::run(&setup(&sc, &h));
        let ops: Vec<(Op, u64)> = out
            .writes
            .iter()
            .map(|(_, w)| (w.op, w.time / SECOND))
            .collect();
        let (c, u) = (Op::Create, Op::Update);
        assert_eq!(ops, [(c, 0), (c, 0), (c, 0), (u, 11), (u, 21)]);
        let mut sizes: Vec<usize> = out
            .objects
            .iter()
            .map(|(_, o, _)| o.endpoint_count())
            .collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [1, 2, 2]);
        // No targetRef and no nodeName: an instance is not a Pod on a Node.
        let (_, Object::EndpointSlice(slice), _) = &out.objects[0] else {
            panic!()
        };
        assert!(
            slice
                .endpoints
                .iter()
                .all(|e| e.target_ref.is_none() && e.node_name.is_none())
        );
        assert_eq!(slice.endpoints[0].zone.as_deref(), Some("a"));
    }

    /// A slice that empties is deleted: 2 instances in 2 slices of 1, the second leaves.
    #[test]
    fn diffing_deletes_an_empty_slice() {
        let sc = scenario(
            "  - {name: svc, instances: 2, controller: {strategy: diffing, \
             max_endpoints_per_slice: 1}}\n",
            "1m",
        );
        let h = History {
            initial: (0..2).map(|id| Instance::new(id, 1)).collect(),
            changes: vec![(5 * SECOND, Change::Leave(1))],
        };
        let out = diffing::run(&setup(&sc, &h));
        assert_eq!(
            log(&out)[2..],
            [(Op::Delete, "svc-1".to_string(), true, 6, 0)]
        );
    }

    /// An unchanged registry: every poll after the first sends a Create (fails) and an Update
    /// (a no-op) per chunk, and nothing is stored or sent to watchers after t = 0.
    #[test]
    fn an_unchanged_registry_costs_requests_and_no_events() {
        let sc = scenario(
            "  - {name: svc, instances: 150, controller: {strategy: naive}}\n",
            "5m",
        );
        let run = run(&sc, 0, 0);
        // 10 polls x 2 chunks; the first poll's 2 Creates store, then 9 x 2 x (Create + Update).
        assert_eq!(run.row.requests, 2 + 9 * 2 * 2);
        assert_eq!(run.row.failed_requests, 9 * 2);
        assert_eq!(run.row.writes, 2);
        let later = run.output.writes.iter().filter(|(_, w)| w.time > 0);
        assert!(later.clone().all(|(_, w)| !w.stored()));
        assert_eq!(later.filter(|(_, w)| w.noop).count(), 9 * 2);
    }

    /// 250 → 150 at 5 m: the naive controller's third slice keeps the 50 instances 200..249
    /// to the end; the others publish none after one sync.
    #[test]
    fn a_shrinking_registry_leaves_the_naive_third_slice_stale() {
        for (strategy, stale, leaked) in [
            ("naive", 50, 1),
            ("diffing", 0, 0),
            ("upstream", 0, 0),
            ("mirroring", 0, 0),
        ] {
            let sc = scenario(
                &format!(
                    "  - {{name: svc, instances: 250, registry: {{scale: [{{at: 5m, \
                     instances: 150}}]}}, controller: {{strategy: {strategy}}}}}\n"
                ),
                "10m",
            );
            let r = run(&sc, 0, 0).row;
            assert_eq!(r.stale_endpoints_final, stale, "{strategy}");
            assert_eq!(r.leaked_slices, leaked, "{strategy}");
            if strategy == "naive" {
                // 50 stale for the last 300 s (the poll at 5 m removes 150..199 at once).
                assert_eq!(r.stale_endpoints_peak, 50);
                assert!((r.stale_endpoint_seconds - 15_000.0).abs() < 1e-6);
            } else {
                // Stale for the 1 s delay only.
                assert_eq!(r.stale_endpoints_peak, 100, "{strategy}");
                assert!(
                    (r.stale_endpoint_seconds - 100.0).abs() < 1e-6,
                    "{strategy}"
                );
            }
        }
    }

    /// `reconciler.reconcile` mirrors at most 1,000 addresses of a subset: of 1,500, 500 are
    /// never published; one slice of 1,000.
    #[test]
    fn mirroring_stops_at_1000_addresses_per_subset() {
        let sc = scenario(
            "  - {name: svc, instances: 1500, controller: {strategy: mirroring}}\n",
            "1m",
        );
        let r = run(&sc, 0, 0);
        assert_eq!(r.row.missing_endpoints_final, 500);
        let slices: Vec<_> = r
            .output
            .objects
            .iter()
            .filter(|(api, _, _)| *api == Api::EndpointSlices)
            .collect();
        assert_eq!(slices.len(), 1);
        let (_, o, _) = slices[0];
        assert_eq!(o.endpoint_count(), 1000);
        assert_eq!(
            o.metadata().labels[MANAGED_BY],
            mirroring::MIRRORING_CONTROLLER
        );
        assert_eq!(o.metadata().owner_references[0].kind, "Endpoints");
        // The Endpoints object holds all 1,500.
        let (_, e, _) = r
            .output
            .objects
            .iter()
            .find(|(api, _, _)| *api == Api::Endpoints)
            .unwrap();
        assert_eq!(e.endpoint_count(), 1500);
    }

    /// The upstream strategy's published set, inferred from its sync times, is what its final
    /// slices hold, under churn; its slices are headless (kube-proxy skips them).
    #[test]
    fn upstream_publishes_the_healthy_instances_after_each_sync() {
        let sc = scenario(
            "  - {name: svc, instances: 300, registry: {join_per_hour: 600, leave_per_hour: \
             600, flaps_per_hour: 300}, controller: {strategy: upstream}}\n",
            "30m",
        );
        let r = run(&sc, 0, 0);
        let mut published: Vec<_> = r
            .output
            .deltas
            .iter()
            .fold(std::collections::BTreeMap::new(), |mut m, (_, d)| {
                for a in &d.added {
                    *m.entry(*a).or_insert(0i64) += 1;
                }
                for a in &d.removed {
                    *m.entry(*a).or_insert(0i64) -= 1;
                }
                m
            })
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(a, _)| a)
            .collect();
        let mut held: Vec<_> = r
            .output
            .objects
            .iter()
            .flat_map(|(_, o, _)| store::ready_addresses(o))
            .collect();
        published.sort_unstable();
        held.sort_unstable();
        assert!(held.len() > 250, "{}", held.len());
        assert_eq!(published, held);
        assert!(r.output.writes.iter().all(|(_, w)| w.headless));
    }

    /// The registry's history is the strategy's input, not its product: the same for all.
    #[test]
    fn strategies_see_the_same_registry() {
        let histories: Vec<History> = Strategy::ALL
            .iter()
            .map(|s| {
                let sc = scenario(
                    &format!(
                        "  - {{name: svc, instances: 100, registry: {{join_per_hour: 60, \
                         flaps_per_hour: 60}}, controller: {{strategy: {}}}}}\n",
                        s.as_str()
                    ),
                    "1h",
                );
                history_of(&sc, 0)
            })
            .collect();
        assert!(histories[0].changes.len() > 60);
        assert!(histories.iter().all(|h| *h == histories[0]));
    }
}
