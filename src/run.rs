//! A run: scenario → pod history → both controllers → write logs → watchers → outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap as HashMap;

use crate::apiserver;
use crate::charts::{self, ChartError};
use crate::cluster::{self, History, ServiceSpec};
use crate::controllers::{
    self, Api, ControllerRun, MetaContext, Op,
    endpoints::{EndpointsController, MAX_CAPACITY},
    endpointslice::{SERVICE_NAME, SliceController},
    topology::HintEvent,
};
use crate::engine;
use crate::etcd;
use crate::external;
use crate::kubeproxy;
use crate::metrics;
use crate::outdir::{OutError, Staged};
use crate::output::{self, HintRow, ObjectRow, SummaryRow, TimeseriesRow, WatcherRow};
use crate::scenario::{
    Action, Churn, Nanos, Problem, RetryPolicy, SECOND, Scenario, ScenarioError,
};
use crate::stream::{Events, Recorded, Stream};
use crate::trace::{self, TraceError};
use crate::traffic;
use crate::watch::{self, BucketDelivery};
use crate::wire::{Object, WireError, fast};

/// Options of `slicesim run`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub out: PathBuf,
    pub export_objects: Option<PathBuf>,
    pub export_trace: Option<PathBuf>,
    /// Also write the run's metrics in the Prometheus text format here (`--metrics`).
    pub metrics: Option<PathBuf>,
    /// Also draw the charts into `out/charts/` (`--no-charts` turns this off).
    pub charts: bool,
    /// Set to the simulated time (ns) the pod history has reached, as it is generated.
    pub progress: Option<std::sync::Arc<AtomicU64>>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Out(#[from] OutError),
    #[error("{file}: {source}")]
    Overflow {
        file: String,
        source: watch::Overflow,
    },
}

impl RunError {
    /// Whether the user's input is at fault (exit code 2) rather than the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            RunError::Scenario(_)
                | RunError::Trace(_)
                | RunError::Overflow { .. }
                | RunError::Out(OutError::Refused { .. })
        )
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The pod history a run played.
pub enum Played {
    /// Read from a trace before the run.
    Recorded(History),
    /// Generated while the controllers read it, and kept where it was written (a copy into a
    /// [`History`] costs time and memory that only a trace export would use).
    Generated {
        nodes: Vec<cluster::Node>,
        services: Vec<cluster::ServiceSpec>,
        stream: Box<Stream>,
    },
}

impl Played {
    pub fn nodes(&self) -> &[cluster::Node] {
        match self {
            Played::Recorded(h) => &h.nodes,
            Played::Generated { nodes, .. } => nodes,
        }
    }

    pub fn services(&self) -> &[cluster::ServiceSpec] {
        match self {
            Played::Recorded(h) => &h.services,
            Played::Generated { services, .. } => services,
        }
    }

    /// The events in the order they were recorded or generated.
    pub fn events(&self) -> Box<dyn Iterator<Item = &(Nanos, cluster::Change)> + '_> {
        match self {
            Played::Recorded(h) => Box::new(h.events.iter()),
            Played::Generated { stream, .. } => Box::new(stream.events()),
        }
    }
}

/// Everything a simulation produced, before it is written anywhere.
pub struct Simulation {
    pub history: Played,
    /// Endpoints, then EndpointSlices.
    pub runs: [ControllerRun; 2],
    /// What the watchers received per time bucket (`bucket` wide), per API as in `runs`.
    pub delivered: [Vec<BucketDelivery>; 2],
    pub summary: Vec<SummaryRow>,
    pub timeseries: Vec<TimeseriesRow>,
    pub objects: Vec<ObjectRow>,
    /// Per API and watcher class: terminations, re-lists, memory (`watchers.csv`).
    pub watchers: Vec<WatcherRow>,
    /// Per API, as in `runs`: what `--metrics` writes.
    pub metrics: Vec<metrics::ApiMetrics>,
    /// When Services' topology hints went on or off (`hints.csv`).
    pub hints: Vec<HintRow>,
    /// Routing per kind over time (`zones.csv`).
    pub zones: Vec<output::ZoneRow>,
    /// One row per external Service (`external.csv`).
    pub external: Vec<external::Row>,
}

/// The checks that need the built cluster (node names) or other files (a trace): part of
/// `slicesim check`.
pub fn history_check(sc: &Scenario) -> Result<(), RunError> {
    // Building the cluster costs time (a sweep checks every point): only when it is needed.
    let names_nodes = match &sc.file.churn {
        Churn::Actions(actions) => actions.iter().any(|a| match &a.value {
            Action::NodeDrain(d) => !d.nodes.is_empty(),
            Action::NodeDelete(d) => !d.nodes.is_empty(),
            _ => false,
        }),
        Churn::Trace { .. } => true,
    };
    if !names_nodes {
        return Ok(());
    }
    let topo = cluster::topology(sc);
    check_node_names(sc, &topo.nodes)?;
    if let Churn::Trace { trace } = &sc.file.churn {
        read_trace(sc, trace, topo.nodes, topo.services)?;
    }
    Ok(())
}

fn check_node_names(sc: &Scenario, nodes: &[cluster::Node]) -> Result<(), RunError> {
    // Node names are known only now: check the drains that name nodes.
    if let Churn::Actions(actions) = &sc.file.churn {
        let mut problems = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let (kind, names) = match &a.value {
                Action::NodeDrain(d) => ("node_drain", &d.nodes),
                Action::NodeDelete(d) => ("node_delete", &d.nodes),
                _ => continue,
            };
            {
                for (j, n) in names.iter().enumerate() {
                    if !nodes.iter().any(|x| *x.name == *n.value) {
                        problems.push(Problem {
                            file: sc.source.clone(),
                            line: n.referenced.line(),
                            column: n.referenced.column(),
                            path: format!("churn[{i}].{kind}.nodes[{j}]"),
                            message: format!(
                                "unknown node {:?} (nodes are named like {:?})",
                                n.value,
                                nodes
                                    .first()
                                    .map(|x| x.name.to_string())
                                    .unwrap_or_default()
                            ),
                        });
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(ScenarioError { problems }.into());
        }
    }
    Ok(())
}

/// Reads and checks the trace a scenario replays.
fn read_trace(
    sc: &Scenario,
    trace: &serde_saphyr::Spanned<String>,
    nodes: Vec<cluster::Node>,
    services: Vec<cluster::ServiceSpec>,
) -> Result<History, RunError> {
    let path = sc.base_dir.join(&trace.value);
    let f = std::fs::File::open(&path).map_err(|e| {
        RunError::Scenario(ScenarioError {
            problems: vec![Problem {
                file: sc.source.clone(),
                line: trace.referenced.line(),
                column: trace.referenced.column(),
                path: "churn.trace".into(),
                message: format!("cannot read trace {}: {e}", path.display()),
            }],
        })
    })?;
    Ok(trace::read(
        &path.display().to_string(),
        std::io::BufReader::new(f),
        nodes,
        services,
    )?)
}

/// Runs both controllers and the watchers on a scenario. Each API's pipeline (controller,
/// watch replay, aggregation, object rows) runs on its own thread: they share only the
/// history, which is generated while they read it (a trace is read first).
pub fn simulate(sc: &Scenario) -> Result<Simulation, RunError> {
    simulate_watched(sc, None)
}

/// A sink that also tells how far in simulated time the history has come.
struct Reached<'a, S> {
    sink: S,
    at: &'a AtomicU64,
}

impl<S: cluster::Sink> cluster::Sink for Reached<'_, S> {
    fn push(&mut self, t: Nanos, change: cluster::Change) {
        self.at.store(t, Ordering::Relaxed);
        self.sink.push(t, change);
    }
}

/// [`simulate`], storing into `reached` the simulated time the history has reached (for a
/// progress bar).
pub fn simulate_watched(
    sc: &Scenario,
    reached: Option<&AtomicU64>,
) -> Result<Simulation, RunError> {
    let topo = cluster::topology(sc);
    check_node_names(sc, &topo.nodes)?;
    let (history, [ep, slices], external) = match &sc.file.churn {
        Churn::Trace { trace } => {
            let history = read_trace(sc, trace, topo.nodes, topo.services)?;
            let p = Pipelines::new(sc, &history.nodes, &history.services);
            let events = Recorded::new(&history.events);
            let (ep, slices) = rayon::join(
                || p.run(Api::Endpoints, events.clone()),
                || p.run(Api::EndpointSlices, events.clone()),
            );
            let external = p.external_rows();
            (Played::Recorded(history), [ep, slices], external)
        }
        Churn::Actions(_) => {
            let stream = Box::<Stream>::default();
            let p = Pipelines::new(sc, &topo.nodes, &topo.services);
            // With three cores or more the generator, the Endpoints pipeline and the
            // EndpointSlice pipeline each have one. With two, the generator's thread runs the
            // Endpoints pipeline once the history is complete: the EndpointSlice pipeline, the
            // longer one, then has a core to itself instead of a third of two cores while the
            // history is generated. All in rayon's pool (the watch replay uses it too, and a
            // pool thread must not wait on a thread outside it that waits on the pool); a half
            // of a join that no idle thread takes runs after the other, on the same thread, when
            // the history is complete.
            let spare_core = rayon::current_num_threads() >= 3;
            let generate = || match reached {
                Some(at) => cluster::play(
                    sc,
                    &topo,
                    &mut Reached {
                        sink: stream.writer(),
                        at,
                    },
                ),
                None => cluster::play(sc, &topo, &mut stream.writer()),
            };
            let outcomes = if spare_core {
                let ((), (ep, slices)) = rayon::join(generate, || {
                    rayon::join(
                        || p.run(Api::Endpoints, &*stream),
                        || p.run(Api::EndpointSlices, &*stream),
                    )
                });
                [ep, slices]
            } else {
                let (ep, slices) = rayon::join(
                    || {
                        generate();
                        p.run(Api::Endpoints, &*stream)
                    },
                    || p.run(Api::EndpointSlices, &*stream),
                );
                [ep, slices]
            };
            let external = p.external_rows();
            let played = Played::Generated {
                nodes: topo.nodes,
                services: topo.services,
                stream,
            };
            (played, outcomes, external)
        }
    };
    let (mut ep, mut slices) = (ep?, slices?);
    let flows = traffic::flows(
        sc,
        history.nodes(),
        history.services(),
        &slices.run.routing,
        sc.file.bucket.value.0,
        ep.timeseries.len(),
    );
    let zones = zone_rows(&flows, sc.file.bucket.value.0);
    let price = sc.file.cross_zone_price_per_gb.value;
    for (o, flows) in [&mut ep, &mut slices].into_iter().zip(&flows.per_api) {
        let all = traffic::Flow::sum(flows);
        let f = all.fractions();
        let s = &mut o.summary;
        s.cross_zone_fraction = f.cross;
        s.cross_zone_bytes = all.cross_bytes.round() as u64;
        // Micro-dollars: no float noise in the CSV.
        s.cross_zone_cost = (all.cross_bytes / 1e9 * 2.0 * price * 1e6).round() / 1e6;
        s.max_endpoint_load_ratio = f.load;
        s.hints_active_fraction = f.hinted;
        s.dropped_fraction = f.dropped;
        for (row, flow) in o.timeseries.iter_mut().zip(flows) {
            let f = flow.fractions();
            row.cross_zone_fraction = f.cross;
            row.max_endpoint_load_ratio = f.load;
            row.hints_active_fraction = f.hinted;
        }
    }
    let mut timeseries = ep.timeseries;
    timeseries.extend(slices.timeseries);
    let mut objects = ep.objects;
    objects.extend(slices.objects);
    let mut watchers = ep.watchers;
    watchers.extend(slices.watchers);
    let metrics = vec![ep.metrics, slices.metrics];
    let hints = hint_rows(history.services(), &slices.run.hint_events);
    Ok(Simulation {
        history,
        runs: [ep.run, slices.run],
        delivered: [ep.delivered.total, slices.delivered.total],
        summary: vec![ep.summary, slices.summary],
        timeseries,
        objects,
        watchers,
        metrics,
        hints,
        zones,
        external,
    })
}

/// The rows of `zones.csv`: per bucket, the Endpoints API's routing and the slices' per kind.
fn zone_rows(flows: &traffic::Flows, bucket: Nanos) -> Vec<output::ZoneRow> {
    let groups = std::iter::once((Api::Endpoints, "no hints", &flows.per_api[0])).chain(
        flows
            .by_kind
            .iter()
            .map(|(kind, f)| (Api::EndpointSlices, *kind, f)),
    );
    let mut rows = Vec::new();
    for (api, routing, per_bucket) in groups {
        for (i, flow) in per_bucket.iter().enumerate() {
            let f = flow.fractions();
            rows.push(output::ZoneRow {
                t_seconds: (i as u64 * bucket) as f64 / SECOND as f64,
                api: api.as_str().into(),
                routing: routing.into(),
                requests: flow.requests,
                cross_zone_fraction: f.cross,
                max_endpoint_load_ratio: f.load,
                hints_active_fraction: f.hinted,
                dropped_fraction: f.dropped,
            });
        }
    }
    rows
}

/// The rows of `hints.csv`, in time order.
fn hint_rows(services: &[ServiceSpec], events: &[HintEvent]) -> Vec<HintRow> {
    events
        .iter()
        .map(|e| {
            let s = &services[e.service as usize];
            HintRow {
                t_seconds: e.time as f64 / SECOND as f64,
                service: format!("{}/{}", s.namespace, s.name),
                api: Api::EndpointSlices.as_str().into(),
                state: if e.disabled.is_none() { "on" } else { "off" }.into(),
                reason: match &e.disabled {
                    None => "TopologyAwareHintsEnabled".into(),
                    Some(why) => format!("TopologyAwareHintsDisabled: {why}"),
                },
            }
        })
        .collect()
}

/// What both APIs' pipelines share: the scenario, its cluster and the watcher groups.
struct Pipelines<'s, 'h> {
    sc: &'s Scenario,
    nodes: &'h [cluster::Node],
    services: &'h [cluster::ServiceSpec],
    groups: Vec<watch::WatcherGroup>,
    bucket: u64,
    buckets: usize,
    /// Room for the write logs: a pod event makes about one write (fewer with batching), so
    /// the guard's estimate of pod events bounds them.
    room: usize,
    /// The external Services' runs: their writes join the API they use.
    external: Vec<external::ExternalRun>,
}

impl<'s, 'h> Pipelines<'s, 'h> {
    fn new(
        sc: &'s Scenario,
        nodes: &'h [cluster::Node],
        services: &'h [cluster::ServiceSpec],
    ) -> Self {
        let end = sc.file.duration.value.0;
        let bucket = sc.file.bucket.value.0.max(1);
        Pipelines {
            sc,
            nodes,
            services,
            groups: watch::groups(sc, nodes.len()),
            bucket,
            buckets: end.div_ceil(bucket).max(1) as usize,
            room: crate::scenario::estimate(sc).pod_events.min(1e8) as usize,
            external: (0..sc.file.external_services.len())
                .map(|k| external::run(sc, k, (services.len() + k) as u32))
                .collect(),
        }
    }

    /// One API's pipeline over a history's `events`.
    fn run(&self, api: Api, events: impl Events<'h>) -> Result<Outcome, RunError> {
        let sc = self.sc;
        let end = sc.file.duration.value.0;
        let ctx = MetaContext {
            start_unix: sc.start_unix,
            managed_fields: sc.file.realism.managed_fields,
        };
        let c = &sc.file.controllers;
        let limit = etcd::Limit {
            api,
            max_request_bytes: sc.file.etcd.max_request_bytes.map(|b| b.0),
        };
        let refuses = move |w: &controllers::Write| limit.refuses(w);
        let storage = |retry: &crate::scenario::Retry, upstream| controllers::Storage {
            expected_writes: self.room,
            refuses: &refuses,
            retry: retry.policy(upstream),
        };
        let mut run = match api {
            Api::Endpoints => {
                let ctl = EndpointsController::new(
                    ctx,
                    c.endpoints.truncate,
                    self.services.len(),
                    engine::rng(sc.file.seed, 2),
                );
                let batch = c.endpoints.batch_period.0;
                let storage = storage(&c.endpoints.retry, RetryPolicy::ENDPOINTS);
                controllers::drive_admitted(ctl, self.services, events, storage, batch, end)
            }
            Api::EndpointSlices => {
                let ctl = SliceController::new(
                    ctx,
                    sc.max_endpoints_per_slice,
                    self.nodes,
                    self.services,
                    engine::rng(sc.file.seed, 3),
                );
                let batch = c.endpointslices.batch_period.0;
                let storage = storage(&c.endpointslices.retry, RetryPolicy::ENDPOINTSLICES);
                controllers::drive_admitted(ctl, self.services, events, storage, batch, end)
            }
        };
        self.add_external(api, &mut run);
        outcome(sc, api, run, &self.groups, self.bucket, self.buckets)
    }

    /// The rows of `external.csv`: each Service's row with what the watchers received of
    /// its stored writes.
    fn external_rows(&self) -> Vec<external::Row> {
        self.external
            .iter()
            .map(|e| {
                let mut row = e.row.clone();
                // What the watchers of slices received (kube-proxy and CoreDNS watch slices
                // today); the Endpoints a strategy writes count in summary.csv's row.
                let slices = e
                    .output
                    .writes
                    .iter()
                    .filter(|(a, w)| *a == Api::EndpointSlices && w.stored());
                for (_, w) in slices {
                    for g in self.groups.iter().filter(|g| g.matches(w)) {
                        row.watch_events += g.count;
                        row.bytes_delivered += g.count.saturating_mul(g.event_bytes(w));
                    }
                }
                row
            })
            .collect()
    }

    /// Adds the external Services' requests and objects of `api` to a controller's run: the
    /// write log in time order (the cluster's first at equal times), the objects in
    /// (namespace, name) order.
    fn add_external(&self, api: Api, run: &mut ControllerRun) {
        if self.external.is_empty() {
            return;
        }
        let theirs = self.external.iter().flat_map(|e| &e.output.writes);
        // A failed request (a Create of a name that exists) wrote nothing: external.csv has it.
        run.writes.extend(
            theirs
                .filter(|(a, w)| *a == api && !w.failed)
                .map(|(_, w)| w.clone()),
        );
        run.writes.sort_by_key(|w| w.time);
        let objects = self.external.iter().flat_map(|e| &e.output.objects);
        let mut all: Vec<(Object, crate::wire::ObjectSizes)> =
            std::mem::take(&mut run.final_objects)
                .into_iter()
                .zip(std::mem::take(&mut run.final_sizes))
                .chain(
                    objects
                        .filter(|(a, _, _)| *a == api)
                        .map(|(_, o, sz)| (o.clone(), *sz)),
                )
                .collect();
        all.sort_by(|a, b| {
            let (x, y) = (a.0.metadata(), b.0.metadata());
            (&x.namespace, &x.name).cmp(&(&y.namespace, &y.name))
        });
        (run.final_objects, run.final_sizes) = all.into_iter().unzip();
    }
}

/// What one API's pipeline produced.
struct Outcome {
    metrics: metrics::ApiMetrics,
    watchers: Vec<WatcherRow>,
    run: ControllerRun,
    delivered: watch::Replay,
    summary: SummaryRow,
    timeseries: Vec<TimeseriesRow>,
    objects: Vec<ObjectRow>,
}

/// The watchers' replay of one controller's writes, and its rows.
fn outcome(
    sc: &Scenario,
    api: Api,
    run: ControllerRun,
    groups: &[watch::WatcherGroup],
    bucket: u64,
    buckets: usize,
) -> Result<Outcome, RunError> {
    let delivered = watch::replay(&run.writes, groups, bucket, buckets).map_err(|source| {
        RunError::Overflow {
            file: sc.source.clone(),
            source,
        }
    })?;
    let mut restarts: Vec<(Nanos, Option<u32>)> = match &sc.file.churn {
        Churn::Actions(actions) => actions
            .iter()
            .filter_map(|a| match &a.value {
                Action::ApiserverRestart(r) => Some((r.at.0, r.replica)),
                _ => None,
            })
            .collect(),
        Churn::Trace { .. } => Vec::new(),
    };
    restarts.sort_unstable();
    let setup = apiserver::Setup {
        api,
        apiserver: sc.file.apiserver.as_ref().map(|a| &a.value),
        receive: groups
            .iter()
            .map(|g| sc.file.watchers.receive.get(&g.name).map(|r| r.value))
            .collect(),
        restarts,
    };
    let delivery = apiserver::deliver(&run.writes, groups, &setup, bucket, buckets);

    let (mut summary, mut timeseries) = aggregate(sc, api, &run, &delivered.total, bucket, buckets);
    summary.watch_terminations = delivery.total(|s| s.terminations);
    summary.relists = delivery.total(|s| s.relists);
    summary.bytes_relist = delivery.total(|s| s.relist_bytes);
    summary.peak_bytes_in_flight = delivery.peak_in_flight;
    let watchers = groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let mine = || {
                delivery
                    .cohorts
                    .iter()
                    .zip(&delivery.stats)
                    .filter(move |(c, _)| c.group == g)
            };
            let sum = |f: fn(&apiserver::CohortStats) -> u64| {
                mine().fold(0u64, |a, (c, s)| {
                    a.saturating_add(c.members.saturating_mul(f(s)))
                })
            };
            let received = watch::sum(&delivered.by_group[g]);
            WatcherRow {
                api: api.as_str().into(),
                class: group.name.clone(),
                watchers: group.count,
                watch_events: received.events,
                bytes_delivered: received.bytes(),
                terminations: sum(|s| s.terminations),
                relists: sum(|s| s.relists),
                bytes_relist: sum(|s| s.relist_bytes),
                store_peak_bytes: mine().map(|(_, s)| s.store_peak).max().unwrap_or(0),
                relist_memory_peak_bytes: mine()
                    .map(|(_, s)| s.relist_memory_peak)
                    .max()
                    .unwrap_or(0),
            }
        })
        .collect();
    let (all, series) = apiserver::propagation(&run.writes, &delivery, bucket, buckets);
    let seconds = |ns: Nanos| ns as f64 / SECOND as f64;
    summary.propagation_p50_s = seconds(all.p50);
    summary.propagation_p90_s = seconds(all.p90);
    summary.propagation_p99_s = seconds(all.p99);
    summary.propagation_max_s = seconds(all.max);
    let sync = &sc.file.watchers.kube_proxy_sync;
    let policy = kubeproxy::SyncPolicy {
        min_sync_period: sync.min_sync_period.0,
        burst: sync.burst_syncs,
    };
    let mut proxies = kubeproxy::programming(&run.writes, &delivery, groups, policy);
    let minutes = sc.file.duration.value.0 as f64 / (60 * SECOND) as f64;
    summary.proxy_syncs_per_minute = if minutes > 0.0 {
        proxies.syncs_per_proxy / minutes
    } else {
        0.0
    };
    let mut programming = metrics::Histogram::new(metrics::programming_buckets());
    for &(latency, proxies) in &proxies.samples {
        programming.observe(seconds(latency), proxies);
    }
    let latency = apiserver::Percentiles::of(&mut proxies.samples);
    summary.network_programming_p50_s = seconds(latency.p50);
    summary.network_programming_p99_s = seconds(latency.p99);
    let utilisation = delivery.utilisation(bucket, buckets);
    for ((row, p), u) in timeseries.iter_mut().zip(&series).zip(utilisation) {
        row.propagation_p50_s = seconds(p.p50);
        row.propagation_p99_s = seconds(p.p99);
        row.propagation_max_s = seconds(p.max);
        row.egress_utilisation = u;
    }
    for (row, b) in timeseries.iter_mut().zip(&delivery.relist_bytes) {
        row.bytes_relist = *b;
    }
    let truncate = sc.file.controllers.endpoints.truncate;
    let objects: Vec<ObjectRow> = run
        .final_objects
        .iter()
        .zip(&run.final_sizes)
        .map(|(o, sizes)| {
            debug_assert_eq!(
                *sizes,
                fast::sizes(o),
                "kept sizes of {}",
                o.metadata().name
            );
            let m = o.metadata();
            ObjectRow {
                api: api.as_str().into(),
                namespace: m.namespace.clone(),
                name: m.name.clone(),
                address_type: o.address_type(),
                endpoints: o.endpoint_count() as u64,
                proto_bytes: sizes.proto,
                json_bytes: sizes.json,
                service: match o {
                    Object::EndpointSlice(s) => s.metadata.labels.get(SERVICE_NAME).cloned(),
                    Object::Endpoints(_) => None,
                }
                .unwrap_or_else(|| m.name.clone()),
                capacity: match (api, truncate) {
                    (Api::EndpointSlices, _) => Some(sc.max_endpoints_per_slice as u64),
                    (Api::Endpoints, true) => Some(MAX_CAPACITY as u64),
                    (Api::Endpoints, false) => None,
                },
            }
        })
        .collect();
    let mut metrics = metrics::controller_metrics(
        api,
        &run.writes,
        run.syncs,
        &run.per_sync,
        &objects,
        sc.max_endpoints_per_slice as u64,
    );
    metrics.watch_events = summary.watch_events;
    metrics.terminated_watchers = summary.watch_terminations;
    metrics.proxy_endpoint_changes = proxies.changes;
    metrics.network_programming = programming;
    for w in run.writes.iter().filter(|w| w.stored()) {
        for g in groups.iter().filter(|g| g.matches(w)) {
            metrics
                .event_sizes
                .observe(g.event_bytes(w) as f64, g.count);
        }
    }
    Ok(Outcome {
        metrics,
        watchers,
        run,
        delivered,
        summary,
        timeseries,
        objects,
    })
}

fn aggregate(
    sc: &Scenario,
    api: Api,
    run: &ControllerRun,
    delivered: &[BucketDelivery],
    bucket: u64,
    buckets: usize,
) -> (SummaryRow, Vec<TimeseriesRow>) {
    let mut row = SummaryRow {
        scenario: sc.name.clone(),
        seed: sc.file.seed,
        api: api.as_str().into(),
        pod_events: run.pod_events,
        syncs: run.syncs,
        ..Default::default()
    };
    // Live objects: name → (proto size, endpoints); sizes as a multiset for the maximum.
    let mut live: HashMap<(&str, &str), (u64, u64)> = HashMap::default();
    let mut by_size: BTreeMap<u64, u64> = BTreeMap::new();
    let mut endpoints_total: u64 = 0;
    let mut stored_total: u64 = 0;
    let mut series = Vec::with_capacity(buckets);
    let mut writes_in_bucket = vec![0u64; buckets];
    let mut i = 0;
    let writes = &run.writes;
    for b in 0..buckets {
        let bucket_end = (b as u64 + 1) * bucket;
        let mut etcd_bytes = 0;
        while i < writes.len() && (writes[i].time < bucket_end || b == buckets - 1) {
            let w = &writes[i];
            i += 1;
            writes_in_bucket[b] += 1;
            row.bytes_written += w.request_bytes;
            if w.failed {
                row.failed_writes += 1;
                continue;
            }
            if !w.noop && w.op != Op::Delete {
                etcd_bytes += w.sizes.proto;
            }
            match w.op {
                Op::Create => row.creates += 1,
                Op::Update => row.updates += 1,
                Op::Delete => row.deletes += 1,
            }
            // One lookup per write: the object's previous size and endpoints come back.
            let key = (&*w.namespace, &*w.name);
            let new = (w.op != Op::Delete).then(|| (w.sizes.proto, u64::from(w.endpoints)));
            let old = match new {
                Some(v) => live.insert(key, v),
                None => live.remove(&key),
            };
            if old.map(|o| o.0) != new.map(|n| n.0) {
                if let Some((size, _)) = old
                    && let Some(c) = by_size.get_mut(&size)
                {
                    *c -= 1;
                    if *c == 0 {
                        by_size.remove(&size);
                    }
                }
                if let Some((size, _)) = new {
                    *by_size.entry(size).or_default() += 1;
                }
            }
            endpoints_total -= old.map_or(0, |o| o.1);
            stored_total -= old.map_or(0, |o| o.0);
            stored_total += new.map_or(0, |n| n.0);
            if let Some((_, eps)) = new {
                endpoints_total += eps;
                row.max_object_proto_bytes = row.max_object_proto_bytes.max(w.sizes.proto);
                row.max_object_json_bytes = row.max_object_json_bytes.max(w.sizes.json);
            }
            row.objects_peak = row.objects_peak.max(live.len() as u64);
        }
        let d = delivered[b];
        row.watch_events += d.events;
        row.bytes_delivered_proto += d.bytes_proto;
        row.bytes_delivered_json += d.bytes_json;
        series.push(TimeseriesRow {
            t_seconds: (b as u64 * bucket) as f64 / SECOND as f64,
            api: api.as_str().into(),
            writes: writes_in_bucket[b],
            watch_events: d.events,
            bytes_delivered: d.bytes(),
            objects: live.len() as u64,
            endpoints: endpoints_total,
            max_object_proto_bytes: by_size.keys().next_back().copied().unwrap_or(0),
            etcd_bytes_written: etcd_bytes,
            ..Default::default()
        });
        row.etcd_bytes_written += etcd_bytes;
    }
    row.bytes_delivered = row.bytes_delivered_proto + row.bytes_delivered_json;
    row.etcd_stored_bytes = stored_total;
    let revisions = writes
        .iter()
        .filter(|w| w.stored())
        .map(|w| (w.time, if w.op == Op::Delete { 0 } else { w.sizes.proto }));
    let held = etcd::history(revisions, sc.file.etcd.compaction_interval.0);
    row.etcd_history_revisions = held.peak_revisions;
    row.etcd_history_bytes = held.peak_bytes;
    row.etcd_max_request_bytes = sc.file.etcd.max_request_bytes.map_or(0, |b| b.0);
    // What etcd holds. An object whose last write it refused is there in an older version
    // (not among the final objects, which the controller no longer has): counted from the
    // stored writes then.
    row.objects_final = if row.failed_writes > 0 {
        live.len()
    } else {
        run.final_objects.len()
    } as u64;
    (row, series)
}

/// Where exports may not go: an existing directory for a file, a file for a directory.
fn check_exports(opts: &RunOptions) -> Result<(), OutError> {
    let refuse = |path: &Path, message: &str| OutError::Refused {
        path: path.display().to_string(),
        message: message.into(),
    };
    if let Some(dir) = &opts.export_objects
        && dir.exists()
        && !dir.is_dir()
    {
        return Err(refuse(
            dir,
            "exists and is not a directory (--export-objects)",
        ));
    }
    if let Some(path) = &opts.metrics
        && path.is_dir()
    {
        return Err(refuse(path, "is a directory, expected a file (--metrics)"));
    }
    if let Some(path) = &opts.export_trace
        && path.is_dir()
    {
        return Err(refuse(
            path,
            "is a directory, expected a file (--export-trace)",
        ));
    }
    Ok(())
}

/// Runs a scenario and writes its outputs into `opts.out`. The output locations are checked
/// before the simulation; the run's directory is built aside and swapped in whole when
/// complete (the previous run stays until then); exports follow, each file atomic.
pub fn run(sc: &Scenario, opts: &RunOptions) -> Result<Simulation, RunError> {
    check_exports(opts)?;
    let staged = Staged::begin(&opts.out)?;
    let sim = simulate_watched(sc, opts.progress.as_deref())?;
    let dir = staged.path();
    let files: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            dir.join("summary.csv"),
            output::csv_bytes(&sim.summary).map_err(io_err(dir))?,
        ),
        (
            dir.join("timeseries.csv"),
            output::csv_bytes(&sim.timeseries).map_err(io_err(dir))?,
        ),
        (
            dir.join("objects.csv"),
            output::csv_bytes(&sim.objects).map_err(io_err(dir))?,
        ),
        (
            dir.join("watchers.csv"),
            output::csv_bytes(&sim.watchers).map_err(io_err(dir))?,
        ),
    ];
    let mut files = files;
    // The scenario as given, for the record and the report.
    files.push((
        dir.join("scenario.yaml"),
        format!(
            "# slicesim run of {} (seed {}; the file's own seed may differ when --seed gave \
             another)\n{}",
            sc.source, sc.file.seed, sc.text
        )
        .into_bytes(),
    ));
    if sc.requests_auto_hints() {
        files.push((
            dir.join("hints.csv"),
            output::csv_bytes(&sim.hints).map_err(io_err(dir))?,
        ));
    }
    if sc.routes_by_topology() {
        files.push((
            dir.join("zones.csv"),
            output::csv_bytes(&sim.zones).map_err(io_err(dir))?,
        ));
    }
    if !sim.external.is_empty() {
        files.push((
            dir.join("external.csv"),
            output::csv_bytes(&sim.external).map_err(io_err(dir))?,
        ));
    }
    let mut exports: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if let Some(dir) = &opts.export_objects {
        for (api, run) in Api::BOTH.into_iter().zip(&sim.runs) {
            let file = match api {
                Api::Endpoints => "endpoints.yaml",
                Api::EndpointSlices => "endpointslices.yaml",
            };
            exports.push((
                dir.join(file),
                output::objects_yaml(&run.final_objects)?.into_bytes(),
            ));
        }
    }
    if let Some(path) = &opts.metrics {
        exports.push((path.clone(), metrics::exposition(&sim.metrics).into_bytes()));
    }
    if let Some(path) = &opts.export_trace {
        let mut buf = Vec::new();
        let h = &sim.history;
        trace::write(h.nodes(), h.services(), h.events(), &mut buf).map_err(|e| RunError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        exports.push((path.clone(), buf));
    }
    for (path, bytes) in &files {
        output::write_atomic(path, bytes).map_err(io_err(path))?;
    }
    if opts.charts {
        charts::plot_run(dir)?;
    }
    crate::report::write_run(dir)?;
    staged.commit()?;
    for (path, bytes) in &exports {
        output::write_atomic(path, bytes).map_err(io_err(path))?;
    }
    Ok(sim)
}
