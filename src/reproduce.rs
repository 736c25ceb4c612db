//! `slicesim reproduce`: the published claims about Endpoints and EndpointSlices, each checked
//! against a built-in scenario run through the simulator.
//!
//! The claims and their sources are those collected in slicesim's spec notes (`claims.md`:
//! KEP-0752, the 2020 Kubernetes blog, the kubernetes.io docs, kubernetes/kubernetes issues). Every simulated value
//! is read off a simulation's real writes (their exact protobuf and JSON sizes) and the watch
//! events the watchers received; nothing is computed from a per-endpoint formula. The
//! scenarios (`scenarios/reproduce/*.yaml`) split time into phases: objects created in the
//! first minute, a single endpoint update in the second, a rolling update after that.
//!
//! A claim is judged against the protobuf value (what etcd stores and kube-proxy receives):
//! `ratio` = stated / simulated; within 10% it `holds`, within 25% it `holds within 25%`,
//! otherwise it is `overstated xN` (stated too high) or `understated xN`. A claim stated as a
//! bound ("more than 22TB", "< ~1KB") holds whenever the simulated value is on its side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::charts::{self, Axis, Chart, ChartError, Figure, Marker, Quantity, Series, Style};
use crate::cluster::Change;
use crate::controllers::{Api, Write};
use crate::engine::Nanos;
use crate::output::{self, SummaryRow};
use crate::run::{self, RunError};
use crate::scenario::{Encoding, SECOND, Scenario, ScenarioError};
use crate::size::human_bytes;
use crate::watch::{self, WatcherGroup};

/// etcd's default `--max-request-bytes`: 1.5 MiB (`DefaultMaxRequestBytes`, etcd
/// `server/embed/config.go`).
pub const ETCD_MAX_REQUEST_BYTES: u64 = crate::scenario::DEFAULT_MAX_REQUEST_BYTES;
/// Addresses the Endpoints controller keeps (`maxCapacity`, `endpoints_controller.go`).
pub const TRUNCATION: u64 = 1000;

/// The built-in scenarios, by name.
pub const SCENARIOS: [(&str, &str); 12] = [
    (
        "seed-5k",
        include_str!("../scenarios/reproduce/seed-5k.yaml"),
    ),
    ("blog", include_str!("../scenarios/reproduce/blog.yaml")),
    (
        "kep-0752-b100",
        include_str!("../scenarios/reproduce/kep-0752-b100.yaml"),
    ),
    (
        "kep-0752-b1",
        include_str!("../scenarios/reproduce/kep-0752-b1.yaml"),
    ),
    ("growth", include_str!("../scenarios/reproduce/growth.yaml")),
    (
        "truncation",
        include_str!("../scenarios/reproduce/truncation.yaml"),
    ),
    (
        "openai-7500",
        include_str!("../scenarios/reproduce/openai-7500.yaml"),
    ),
    (
        "cl2-5k-batch0",
        include_str!("../scenarios/reproduce/cl2-5k-batch0.yaml"),
    ),
    (
        "cl2-5k-batch500",
        include_str!("../scenarios/reproduce/cl2-5k-batch500.yaml"),
    ),
    (
        "cilium-1k",
        include_str!("../scenarios/reproduce/cilium-1k.yaml"),
    ),
    (
        "hints-few-endpoints",
        include_str!("../scenarios/reproduce/hints-few-endpoints.yaml"),
    ),
    (
        "hints-11-endpoints",
        include_str!("../scenarios/reproduce/hints-11-endpoints.yaml"),
    ),
];

/// The phases of a reproduce scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// [0, 1m): the objects are created.
    Creation,
    /// [1m, 2m): one pod removed.
    SingleUpdate,
    /// [2m, end): the churn — a rolling update, pod replacements, a resize.
    Rollout,
}

impl Phase {
    fn window(self) -> (Nanos, Nanos) {
        let m = 60 * SECOND;
        match self {
            Phase::Creation => (0, m),
            Phase::SingleUpdate => (m, 2 * m),
            Phase::Rollout => (2 * m, Nanos::MAX),
        }
    }
}

/// What a claim is compared with.
#[derive(Clone, Copy, Debug)]
pub enum Measure {
    /// The largest object written in a phase.
    LargestObject(Api, Phase),
    /// Bytes delivered to the watchers in a phase.
    BytesDelivered(Api, Phase),
    /// Bytes delivered per stored write in a phase.
    BytesPerWrite(Api, Phase),
    /// The most endpoints an Endpoints object held while it fitted in etcd's request limit.
    FitsInEtcd,
    /// The size of the first Endpoints object written with at least this many endpoints.
    EndpointsSizeAt(u32),
    /// The most addresses any Endpoints object held.
    MostEndpoints,
    /// Bytes the watchers received from Endpoints over those from EndpointSlices in a phase.
    BytesRatio(Phase),
    /// One watcher class's share of the watch bytes next to another's in a phase, in
    /// percent: part / (part + other), each an (API, class) pair.
    Share {
        part: (Api, &'static str),
        other: (Api, &'static str),
        phase: Phase,
    },
    /// Watch events per second over a phase, all watchers together.
    EventsPerSecond(Api, Phase),
    /// The percentage of the run's requests routed by topology hints (EndpointSlices), or
    /// not (`off`).
    HintsActive { off: bool },
}

/// What a claim's numbers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Count,
    Ratio,
    Percent,
    PerSecond,
}

impl Measure {
    pub fn unit(self) -> Unit {
        match self {
            Measure::LargestObject(..)
            | Measure::BytesDelivered(..)
            | Measure::BytesPerWrite(..)
            | Measure::EndpointsSizeAt(_) => Unit::Bytes,
            Measure::FitsInEtcd | Measure::MostEndpoints => Unit::Count,
            Measure::BytesRatio(_) => Unit::Ratio,
            Measure::Share { .. } | Measure::HintsActive { .. } => Unit::Percent,
            Measure::EventsPerSecond(..) => Unit::PerSecond,
        }
    }

    /// What the two simulated columns hold.
    fn encoding(self) -> &'static str {
        match self {
            Measure::FitsInEtcd | Measure::MostEndpoints => "counts of endpoints",
            Measure::LargestObject(..) | Measure::EndpointsSizeAt(_) => {
                "object bytes: protobuf as etcd stores it (k8s\\0 envelope), compact JSON"
            }
            Measure::EventsPerSecond(..) => "watch events per second (the same in either encoding)",
            Measure::HintsActive { .. } => {
                "percent of the requests (100 a second, clients in proportion to the nodes), \
                 over the run; the same in either encoding"
            }
            Measure::BytesRatio(_) => {
                "ratio of watch-event bytes, rounded: protobuf frames, and JSON lines had every \
                 watcher used JSON"
            }
            Measure::Share { .. } => {
                "percent of watch-event bytes, rounded: protobuf frames, and JSON lines had \
                 every watcher used JSON"
            }
            _ => {
                "watch-event bytes: protobuf frames (length + WatchEvent + envelope), JSON \
                 lines; no HTTP/TLS"
            }
        }
    }
}

/// How a claim is stated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    About,
    AtLeast,
    AtMost,
}

/// A published claim and how to check it.
#[derive(Clone, Debug)]
pub struct Claim {
    pub claim: &'static str,
    pub source: &'static str,
    /// The source in a word, for the chart.
    pub tag: &'static str,
    pub stated: f64,
    pub bound: Bound,
    /// The scenario (of [`SCENARIOS`]) that checks it.
    pub scenario: &'static str,
    pub measure: Measure,
    /// The claim's own assumptions, beyond what the simulation reports.
    pub note: &'static str,
    /// For the size chart: the endpoint count the claim is about.
    pub at_endpoints: Option<u32>,
}

/// A claim's source in a word, for the chart's labels.
fn tag(source: &'static str) -> &'static str {
    [
        ("rule of thumb", "rule of thumb"),
        ("Kubernetes blog", "blog"),
        ("KEP-0752", "KEP-0752"),
        ("kubernetes/kubernetes#73324", "#73324"),
        ("oneuptime", "oneuptime"),
    ]
    .into_iter()
    .find(|(prefix, _)| source.starts_with(prefix))
    .map_or(source, |(_, t)| t)
}

const EP: Api = Api::Endpoints;
const SL: Api = Api::EndpointSlices;

/// The claims `reproduce` checks (`claims.md` §2, §3, §4, §6).
pub fn claims() -> Vec<Claim> {
    use Bound::*;
    use Measure::*;
    use Phase::*;
    let c = |claim, source: &'static str, stated, bound, scenario, measure, note, at| Claim {
        claim,
        source,
        tag: tag(source),
        stated,
        bound,
        scenario,
        measure,
        note,
        at_endpoints: at,
    };
    vec![
        c(
            "Endpoints object for 5,000 pods is ~1 MB",
            "rule of thumb; KEP-1152 (almost 1MB for 5k pods)",
            1e6,
            About,
            "seed-5k",
            LargestObject(EP, Creation),
            "",
            Some(5000),
        ),
        c(
            "an EndpointSlice (100 endpoints) is ~10 KB",
            "rule of thumb",
            1e4,
            About,
            "seed-5k",
            LargestObject(SL, Creation),
            "",
            Some(100),
        ),
        c(
            "a Service with 5,000 Pods has a 1.5MB Endpoints object",
            "Kubernetes blog 2020-09-02",
            1.5e6,
            About,
            "blog",
            LargestObject(EP, Creation),
            "",
            Some(5000),
        ),
        c(
            "each Endpoints update sends 4.5GB (1.5MB x 3,000 nodes)",
            "Kubernetes blog 2020-09-02",
            4.5e9,
            About,
            "blog",
            BytesPerWrite(EP, SingleUpdate),
            "one write of the 5,000-pod object to 3,000 kube-proxies",
            None,
        ),
        c(
            "a rolling update of 5,000 pods sends more than 22TB",
            "Kubernetes blog 2020-09-02",
            22e12,
            AtLeast,
            "blog",
            BytesDelivered(EP, Rollout),
            "the blog assumes one 1.5MB update per replaced pod",
            None,
        ),
        c(
            "Endpoints object for 20,000 endpoints is ~2.0 MB",
            "KEP-0752 case 1",
            2e6,
            About,
            "kep-0752-b100",
            LargestObject(EP, Creation),
            "",
            Some(20000),
        ),
        c(
            "an EndpointSlice of 100 endpoints is ~10 KB",
            "KEP-0752 case 1",
            1e4,
            About,
            "kep-0752-b100",
            LargestObject(SL, Creation),
            "",
            Some(100),
        ),
        c(
            "an EndpointSlice of 1 endpoint is < ~1KB",
            "KEP-0752 case 1",
            1e3,
            AtMost,
            "kep-0752-b1",
            LargestObject(SL, Creation),
            "",
            Some(1),
        ),
        c(
            "Service creation, Endpoints: 2.0MB x 5000 = 10GB",
            "KEP-0752 case 1",
            1e10,
            About,
            "kep-0752-b100",
            BytesDelivered(EP, Creation),
            "",
            None,
        ),
        c(
            "Service creation, 100 per slice: 10KB x 5000 x 200 = 10GB",
            "KEP-0752 case 1",
            1e10,
            About,
            "kep-0752-b100",
            BytesDelivered(SL, Creation),
            "",
            None,
        ),
        c(
            "Service creation, 1 per slice: ~10GB",
            "KEP-0752 case 1",
            1e10,
            About,
            "kep-0752-b1",
            BytesDelivered(SL, Creation),
            "the KEP's own inputs (1KB x 100,000,000 events) give 100 GB (claims.md 8.1)",
            None,
        ),
        c(
            "single endpoint update, Endpoints: ~2.0MB x 5000 = 10GB",
            "KEP-0752 case 1",
            1e10,
            About,
            "kep-0752-b100",
            BytesPerWrite(EP, SingleUpdate),
            "",
            None,
        ),
        c(
            "single endpoint update, 100 per slice: ~10k x 5000 = 50MB",
            "KEP-0752 case 1",
            5e7,
            About,
            "kep-0752-b100",
            BytesPerWrite(SL, SingleUpdate),
            "",
            None,
        ),
        c(
            "single endpoint update, 1 per slice: ~1KB x 5000 = ~5MB",
            "KEP-0752 case 1",
            5e6,
            About,
            "kep-0752-b1",
            BytesPerWrite(SL, SingleUpdate),
            "",
            None,
        ),
        c(
            "rolling update, Endpoints: 2.0MB x 5000 x 20k = 200 TB",
            "KEP-0752 case 1",
            2e14,
            About,
            "kep-0752-b100",
            BytesDelivered(EP, Rollout),
            "the KEP assumes one write per replaced pod",
            None,
        ),
        c(
            "rolling update, 100 per slice: 10KB x 5000 x 20k = 1 TB",
            "KEP-0752 case 1",
            1e12,
            About,
            "kep-0752-b100",
            BytesDelivered(SL, Rollout),
            "the KEP assumes one write per replaced pod",
            None,
        ),
        c(
            "rolling update, 1 per slice: ~1KB x 5000 x 20k = ~100 GB",
            "KEP-0752 case 1",
            1e11,
            About,
            "kep-0752-b1",
            BytesDelivered(SL, Rollout),
            "the KEP assumes one write per replaced pod",
            None,
        ),
        c(
            "etcd's 1.5MB limit can limit an Endpoints object to 5,000 Pod IPs (count)",
            "Kubernetes blog 2020-09-02; KubeCon EU 2020",
            5000.0,
            About,
            "growth",
            FitsInEtcd,
            "limit 1,572,864 B (1.5 MiB) on the stored object; etcd key and transaction \
             overhead not counted; JSON column: the count if objects were stored as JSON",
            None,
        ),
        c(
            "10k backend pods make an Endpoints object >1MB in proto",
            "kubernetes/kubernetes#73324",
            1e6,
            AtLeast,
            "growth",
            EndpointsSizeAt(10_000),
            "",
            Some(10_000),
        ),
        c(
            "5,000 pod IPs: ~250KB per Endpoints update",
            "oneuptime.com blog 2026-02-20",
            2.5e5,
            About,
            "seed-5k",
            LargestObject(EP, Creation),
            "",
            Some(5000),
        ),
        c(
            "Endpoints keep at most 1000 endpoints (truncated above) (count)",
            "kubernetes.io Service docs; endpoints_controller.go maxCapacity",
            1000.0,
            About,
            "truncation",
            MostEndpoints,
            "Service of 1,500 pods, Kubernetes 1.22+ truncation",
            None,
        ),
        c(
            "EndpointSlices brought the watch load of Services every node is in down 1000x",
            "OpenAI, Scaling Kubernetes to 7,500 nodes (2021)",
            1000.0,
            About,
            "openai-7500",
            BytesRatio(Rollout),
            "node churn as replacements of a one-pod-per-node Service's pods (a node leaving \
             removes its endpoint, one joining adds one), 10 per minute; Kubernetes before \
             1.22 (no truncation); the ratio of bytes, Endpoints to EndpointSlices, while nodes \
             come and go",
            None,
        ),
        c(
            "~300 kube-dns on Endpoints are a significant part of watch traffic next to 5,000 \
             kube-proxies on EndpointSlices (batch period 0)",
            "kubernetes/test-infra#22446",
            10.0,
            AtLeast,
            "cl2-5k-batch0",
            Share {
                part: (EP, "coredns"),
                other: (SL, "kube-proxy"),
                phase: Rollout,
            },
            "'significant' read as at least 10% of the two together; clusterloader2's load \
             test at 5,000 nodes, its scaling phase",
            None,
        ),
        c(
            "~300 kube-dns on Endpoints are a significant part of watch traffic next to 5,000 \
             kube-proxies on EndpointSlices (--endpoint-updates-batch-period=500ms)",
            "kubernetes/test-infra#22446",
            10.0,
            AtLeast,
            "cl2-5k-batch500",
            Share {
                part: (EP, "coredns"),
                other: (SL, "kube-proxy"),
                phase: Rollout,
            },
            "the flag batches the Endpoints controller only (the slice controller's is \
             --endpointslice-updates-batch-period); 'significant' read as at least 10%",
            None,
        ),
        c(
            "30 pod changes/s on 1,000 nodes ~ 90,000 watch events/s: Endpoints",
            "cilium/cilium#15153",
            90_000.0,
            About,
            "cilium-1k",
            EventsPerSecond(EP, Rollout),
            "the issue's 3 writes per pod are CiliumEndpoint writes; here the same churn's \
             Endpoints writes, to one kube-proxy per node",
            None,
        ),
        c(
            "30 pod changes/s on 1,000 nodes ~ 90,000 watch events/s: EndpointSlices",
            "cilium/cilium#15153",
            90_000.0,
            About,
            "cilium-1k",
            EventsPerSecond(SL, Rollout),
            "the issue's 3 writes per pod are CiliumEndpoint writes; here the same churn's \
             EndpointSlice writes, to one kube-proxy per node",
            None,
        ),
        c(
            "fewer than 3 endpoints per zone: ~50% probability Auto falls back to cluster-wide",
            "kubernetes.io topology-aware routing docs",
            50.0,
            About,
            "hints-few-endpoints",
            HintsActive { off: true },
            "measured as the fraction of time hints are off while a Service steps through \
             3 to 8 endpoints (1 to 2.7 per zone), one minute each",
            None,
        ),
        c(
            "11 endpoints over 3 equal zones get no Auto hints (hints on, % of time)",
            "kubernetes/kubernetes#122437",
            0.0,
            AtMost,
            "hints-11-endpoints",
            HintsActive { off: false },
            "each zone's minimum is ceil((11/3)/1.2) = 4 and 3 x 4 > 11",
            None,
        ),
    ]
}

/// One row of `claims.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClaimRow {
    pub claim: String,
    pub source: String,
    pub stated: u64,
    pub simulated_proto: u64,
    pub simulated_json: u64,
    /// stated / simulated protobuf, 3 decimals.
    pub ratio: String,
    pub assumptions: String,
    pub verdict: String,
    #[serde(skip)]
    pub unit: Unit,
}

/// One point of the size curve (`sizes.csv`): the object written with this many endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeRow {
    pub api: String,
    pub endpoints: u32,
    pub proto_bytes: u64,
    pub json_bytes: u64,
}

/// Why `reproduce` failed.
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    #[error("built-in scenario {0}")]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("{path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("claim {claim:?}: {message}")]
    Claim { claim: String, message: String },
}

/// A simulated scenario, reduced to what the claims read.
struct Outcome {
    sc: Scenario,
    summary: Vec<SummaryRow>,
    /// Per API: the writes that reached etcd (no identical PUTs).
    writes: [Vec<Write>; 2],
    /// Per API and minute: (protobuf bytes, JSON bytes) delivered.
    delivered: [Vec<(u64, u64)>; 2],
    /// Pods and Services at the start.
    pods: u64,
    services: u64,
    /// Pods deleted during the rollout phase (the pods it replaced).
    replaced: u64,
    /// Nodes of the simulated cluster.
    nodes: usize,
    /// Watchers receiving every event: (protobuf, JSON).
    watchers: (u64, u64),
    /// The watcher groups.
    groups: Vec<WatcherGroup>,
}

fn api_index(api: Api) -> usize {
    match api {
        Api::Endpoints => 0,
        Api::EndpointSlices => 1,
    }
}

fn simulate(name: &str, text: &str) -> Result<Outcome, ReproduceError> {
    let sc = Scenario::parse(
        &format!("<built-in scenarios/reproduce/{name}.yaml>"),
        name,
        text,
    )?;
    let sim = run::simulate(&sc)?;
    // The phases are whole minutes: the scenarios use one-minute buckets.
    if sc.file.bucket.value.0 != 60 * SECOND {
        return Err(ReproduceError::Claim {
            claim: name.into(),
            message: "a reproduce scenario needs `bucket: 1m`".into(),
        });
    }
    let delivered = sim
        .delivered
        .each_ref()
        .map(|d| d.iter().map(|d| (d.bytes_proto, d.bytes_json)).collect());
    let services = sc.file.services.iter().map(|s| s.count()).sum();
    let pods = sc
        .file
        .services
        .iter()
        .map(|s| u64::from(s.replicas) * s.count())
        .sum();
    let (from, _) = Phase::Rollout.window();
    let replaced = sim
        .history
        .events()
        .filter(|(t, c)| *t >= from && matches!(c, Change::Pod { deleted: true, .. }))
        .count() as u64;
    let nodes = sim.history.nodes().len();
    let groups = watch::groups(&sc, nodes);
    let watching = |enc| {
        groups
            .iter()
            .filter(|g| g.encoding == enc)
            .map(|g| g.count)
            .sum::<u64>()
    };
    let watchers = (watching(Encoding::Protobuf), watching(Encoding::Json));
    let writes = sim
        .runs
        .map(|r| r.writes.into_iter().filter(|w| w.stored()).collect());
    Ok(Outcome {
        summary: sim.summary,
        sc,
        writes,
        delivered,
        pods,
        services,
        replaced,
        nodes,
        watchers,
        groups,
    })
}

impl Outcome {
    fn in_phase(&self, api: Api, phase: Phase) -> impl Iterator<Item = &Write> {
        let (from, to) = phase.window();
        self.writes[api_index(api)]
            .iter()
            .filter(move |w| w.time >= from && w.time < to)
    }

    fn delivered(&self, api: Api, phase: Phase) -> (u64, u64) {
        let (from, to) = phase.window();
        let minute = 60 * SECOND;
        self.delivered[api_index(api)]
            .iter()
            .enumerate()
            .filter(|(m, _)| {
                let t = *m as u64 * minute;
                t >= from && t < to
            })
            .fold((0, 0), |(p, j), (_, d)| (p + d.0, j + d.1))
    }

    /// The end of a phase: the run's end for the last one.
    fn seconds(&self, phase: Phase) -> f64 {
        let (from, to) = phase.window();
        let to = to.min(self.sc.file.duration.value.0);
        to.saturating_sub(from) as f64 / SECOND as f64
    }

    /// Bytes a watcher class received in a phase, all its watchers together: (as protobuf,
    /// as JSON).
    fn class_bytes(&self, (api, class): (Api, &str), phase: Phase) -> Result<(u64, u64), String> {
        let g = self
            .groups
            .iter()
            .find(|g| g.name == class)
            .ok_or_else(|| format!("the scenario has no watcher class {class:?}"))?;
        Ok(self
            .in_phase(api, phase)
            .filter(|w| g.matches(w))
            .fold((0, 0), |(p, j), w| {
                let e = watch::event_type(w.op);
                (
                    p + g.count * w.sizes.proto_watch_for(e),
                    j + g.count * w.sizes.json_watch_for(e),
                )
            }))
    }

    /// (protobuf, JSON) value of a measure, and what it depended on.
    fn measure(&self, m: Measure) -> Result<(u64, u64, String), String> {
        let none = || "the scenario produced no write to measure".to_string();
        let (watch_p, watch_j) = self.watchers;
        let api_name = |api: Api| match api {
            Api::Endpoints => "Endpoints",
            Api::EndpointSlices => "EndpointSlice",
        };
        let to_watchers = format!(
            "to {} protobuf and {} JSON watchers",
            output::thousands(watch_p),
            output::thousands(watch_j)
        );
        Ok(match m {
            Measure::LargestObject(api, phase) => {
                let w = self
                    .in_phase(api, phase)
                    .max_by_key(|w| (w.sizes.proto, w.endpoints))
                    .ok_or_else(none)?;
                (
                    w.sizes.proto,
                    w.sizes.json,
                    format!(
                        "largest {} written: {} endpoints",
                        api_name(api),
                        output::thousands(u64::from(w.endpoints))
                    ),
                )
            }
            Measure::BytesDelivered(api, phase) => {
                let (p, j) = self.delivered(api, phase);
                let n = self.in_phase(api, phase).count() as u64;
                let writes = match phase {
                    Phase::Rollout => format!(
                        "{} {} writes for {} replaced pods ({:.2} per pod)",
                        output::thousands(n),
                        api_name(api),
                        output::thousands(self.replaced),
                        n as f64 / self.replaced.max(1) as f64
                    ),
                    _ => format!("{} {} writes", output::thousands(n), api_name(api)),
                };
                (p, j, format!("{writes}, {to_watchers}"))
            }
            Measure::BytesPerWrite(api, phase) => {
                let (p, j) = self.delivered(api, phase);
                let n = self.in_phase(api, phase).count() as u64;
                if n == 0 {
                    return Err(none());
                }
                (
                    p / n,
                    j / n,
                    format!(
                        "one pod removed = {n} {} write(s), value per write, {to_watchers}",
                        api_name(api)
                    ),
                )
            }
            Measure::FitsInEtcd => {
                let fits = |size: fn(&Write) -> u64| {
                    self.writes[0]
                        .iter()
                        .filter(|w| size(w) <= ETCD_MAX_REQUEST_BYTES)
                        .map(|w| u64::from(w.endpoints))
                        .max()
                        .unwrap_or(0)
                };
                (
                    fits(|w| w.sizes.proto),
                    fits(|w| w.sizes.json),
                    "Endpoints written for every pod change while the Service grows".into(),
                )
            }
            Measure::EndpointsSizeAt(n) => {
                let w = self.writes[0]
                    .iter()
                    .find(|w| w.endpoints >= n)
                    .ok_or_else(none)?;
                (
                    w.sizes.proto,
                    w.sizes.json,
                    format!("first Endpoints write with {} endpoints", w.endpoints),
                )
            }
            Measure::BytesRatio(phase) => {
                let (ep, sl) = (self.delivered(EP, phase), self.delivered(SL, phase));
                if sl.0 == 0 || sl.1 == 0 {
                    return Err(none());
                }
                let ratio = |a: u64, b: u64| (a as f64 / b as f64).round() as u64;
                (
                    ratio(ep.0, sl.0),
                    ratio(ep.1, sl.1),
                    format!(
                        "Endpoints {} / EndpointSlices {} protobuf ({} / {} writes), {to_watchers}",
                        human_bytes(ep.0),
                        human_bytes(sl.0),
                        output::thousands(self.in_phase(EP, phase).count() as u64),
                        output::thousands(self.in_phase(SL, phase).count() as u64),
                    ),
                )
            }
            Measure::Share { part, other, phase } => {
                let (a, b) = (
                    self.class_bytes(part, phase)?,
                    self.class_bytes(other, phase)?,
                );
                let pct = |a: u64, b: u64| {
                    if a + b == 0 {
                        0
                    } else {
                        (100.0 * a as f64 / (a + b) as f64).round() as u64
                    }
                };
                let who = |(api, class): (Api, &str)| {
                    let n = self
                        .groups
                        .iter()
                        .find(|g| g.name == class)
                        .map_or(0, |g| g.count);
                    format!("{} {class} on {}", output::thousands(n), api_name(api))
                };
                (
                    pct(a.0, b.0),
                    pct(a.1, b.1),
                    format!(
                        "{} receive {}, {} receive {} (protobuf)",
                        who(part),
                        human_bytes(a.0),
                        who(other),
                        human_bytes(b.0)
                    ),
                )
            }
            Measure::EventsPerSecond(api, phase) => {
                let events: u64 = self.groups.iter().fold(0, |n, g| {
                    n + g.count * self.in_phase(api, phase).filter(|w| g.matches(w)).count() as u64
                });
                let secs = self.seconds(phase);
                if secs <= 0.0 {
                    return Err(none());
                }
                let rate = (events as f64 / secs).round() as u64;
                let writes = self.in_phase(api, phase).count() as f64;
                let churn = match phase {
                    Phase::Rollout => format!(
                        "{:.1} pods replaced/s, {:.2} {} writes per replaced pod",
                        self.replaced as f64 / secs,
                        writes / self.replaced.max(1) as f64,
                        api_name(api)
                    ),
                    _ => format!("{:.1} {} writes/s", writes / secs, api_name(api)),
                };
                (rate, rate, format!("{churn}, {to_watchers}"))
            }
            Measure::HintsActive { off } => {
                let row = self
                    .summary
                    .iter()
                    .find(|r| r.api == Api::EndpointSlices.as_str())
                    .ok_or_else(none)?;
                let on = row.hints_active_fraction;
                let pct = (100.0 * if off { 1.0 - on } else { on }).round() as u64;
                (
                    pct,
                    pct,
                    format!(
                        "topology_mode: Auto, three zones of equal CPU; hints in effect for \
                         {:.1}% of the requests",
                        100.0 * on
                    ),
                )
            }
            Measure::MostEndpoints => {
                let most = self.writes[0]
                    .iter()
                    .map(|w| u64::from(w.endpoints))
                    .max()
                    .ok_or_else(none)?;
                (
                    most,
                    most,
                    "addresses in the largest Endpoints object".into(),
                )
            }
        })
    }

    /// What every claim on this scenario assumed.
    fn setting(&self) -> String {
        let f = &self.sc.file;
        let zones = f.cluster.zones.value.len();
        let naming = match f.cluster.node_naming {
            crate::scenario::NodeNaming::Cloud => "cloud-style node names (ip-10-...internal)",
            crate::scenario::NodeNaming::Short => "short node names",
        };
        let services = match f.services.as_slice() {
            [s] if self.services == 1 => {
                let name = &s.name.value;
                format!(
                    "Service {}/{name}, pods named {name}-<10-char hash>-<5 chars>",
                    s.namespace
                )
            }
            _ => format!(
                "{} Services, pods named <Service>-<10-char hash>-<5 chars>",
                output::thousands(self.services)
            ),
        };
        format!(
            "scenario {}: {} pods on {} nodes in {zones} zones, {naming}; {services}; IPv4, 1 \
             port; managedFields {}; all pods ready at creation",
            self.sc.name,
            output::thousands(self.pods),
            output::thousands(self.nodes as u64),
            if f.realism.managed_fields {
                "included"
            } else {
                "omitted"
            },
        ) + if f.etcd.max_request_bytes.is_none() {
            "; etcd's request limit lifted (objects past 1.5 MiB, which etcd would refuse, are \
             kept to show their cost)"
        } else {
            ""
        }
    }
}

/// The verdict on a claim: `holds`, `holds within 25%`, `overstated xN`, `understated xN`.
pub fn verdict(stated: f64, simulated: f64, bound: Bound) -> String {
    let on_side = match bound {
        Bound::About => false,
        Bound::AtLeast => simulated >= stated,
        Bound::AtMost => simulated <= stated,
    };
    if on_side {
        return "holds".into();
    }
    if simulated <= 0.0 {
        return "overstated (nothing simulated)".into();
    }
    let ratio = stated / simulated;
    if (0.9..=1.1).contains(&ratio) {
        "holds".into()
    } else if (0.8..=1.25).contains(&ratio) {
        "holds within 25%".into()
    } else if ratio > 1.0 {
        format!("overstated x{ratio:.1}")
    } else {
        format!("understated x{:.1}", 1.0 / ratio)
    }
}

/// What `reproduce` produced.
pub struct Reproduction {
    pub claims: Vec<ClaimRow>,
    pub sizes: Vec<SizeRow>,
    pub runs: Vec<SummaryRow>,
    pub figure: Figure,
}

/// Runs the built-in scenarios (in parallel, results in a fixed order) and judges every claim.
/// `progress` is called with each scenario's name as it finishes.
pub fn reproduce(progress: &(dyn Fn(&str) + Sync)) -> Result<Reproduction, ReproduceError> {
    let outcomes: Vec<Outcome> = SCENARIOS
        .par_iter()
        .map(|(name, text)| {
            let o = simulate(name, text);
            progress(name);
            o
        })
        .collect::<Result<_, _>>()?;
    let by_name: BTreeMap<&str, &Outcome> = SCENARIOS
        .iter()
        .map(|(n, _)| *n)
        .zip(outcomes.iter())
        .collect();
    let mut rows = Vec::new();
    let defs = claims();
    for c in &defs {
        let err = |message: String| ReproduceError::Claim {
            claim: c.claim.into(),
            message,
        };
        let o = by_name
            .get(c.scenario)
            .ok_or_else(|| err(format!("no built-in scenario {:?}", c.scenario)))?;
        let (proto, json, detail) = o.measure(c.measure).map_err(err)?;
        let mut assumptions = format!("{}; {detail}; {}", c.measure.encoding(), o.setting());
        if !c.note.is_empty() {
            assumptions.push_str("; ");
            assumptions.push_str(c.note);
        }
        let ratio = if proto > 0 {
            format!("{:.3}", c.stated / proto as f64)
        } else {
            String::new()
        };
        rows.push(ClaimRow {
            claim: c.claim.into(),
            source: c.source.into(),
            stated: c.stated as u64,
            simulated_proto: proto,
            simulated_json: json,
            ratio,
            assumptions,
            verdict: verdict(c.stated, proto as f64, c.bound),
            unit: c.measure.unit(),
        });
    }
    let growth = by_name.get("growth").ok_or_else(|| ReproduceError::Claim {
        claim: "size chart".into(),
        message: "no growth scenario".into(),
    })?;
    let sizes = size_curve(growth);
    let figure = size_figure(&sizes, &defs);
    let runs = outcomes.iter().flat_map(|o| o.summary.clone()).collect();
    Ok(Reproduction {
        claims: rows,
        sizes,
        runs,
        figure,
    })
}

/// The size curve: per API and endpoint count, the largest object written with that many
/// endpoints, thinned to about 60 points per decade.
fn size_curve(o: &Outcome) -> Vec<SizeRow> {
    let mut rows = Vec::new();
    for api in Api::BOTH {
        let mut best: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for w in &o.writes[api_index(api)] {
            if w.endpoints == 0 {
                continue;
            }
            let e = best.entry(w.endpoints).or_default();
            *e = (e.0.max(w.sizes.proto), e.1.max(w.sizes.json));
        }
        let mut last_step = None;
        for (n, (p, j)) in best {
            let step = (f64::from(n).log10() * 60.0).floor() as i64;
            if last_step == Some(step) {
                continue;
            }
            last_step = Some(step);
            rows.push(SizeRow {
                api: api.as_str().into(),
                endpoints: n,
                proto_bytes: p,
                json_bytes: j,
            });
        }
    }
    rows
}

/// Object size against endpoint count, log-log, with the claims about sizes as points.
fn size_figure(sizes: &[SizeRow], claims: &[Claim]) -> Figure {
    let curve = |api: &str, json: bool| -> Vec<(f64, f64)> {
        sizes
            .iter()
            .filter(|r| r.api == api)
            .map(|r| {
                let b = if json { r.json_bytes } else { r.proto_bytes };
                (f64::from(r.endpoints), b as f64)
            })
            .collect()
    };
    let series = |label: &str, color, style, api, json| Series {
        label: label.into(),
        color,
        style,
        points: curve(api, json),
    };
    // One point per (endpoints, size); claims on the same point share its label.
    let mut points: BTreeMap<(u32, u64), Marker> = BTreeMap::new();
    for c in claims {
        let Some(at) = c.at_endpoints else { continue };
        let source = c.tag;
        let bound = match c.bound {
            Bound::About => "~",
            Bound::AtLeast => ">",
            Bound::AtMost => "<",
        };
        points
            .entry((at, c.stated as u64))
            .and_modify(|m| m.label = format!("{source}, {}", m.label))
            .or_insert_with(|| Marker {
                label: format!("{source}: {bound}{}", human_bytes(c.stated as u64)),
                x: f64::from(at),
                y: c.stated,
                color: match c.measure {
                    Measure::LargestObject(Api::EndpointSlices, _) => charts::SLICES,
                    _ => charts::ENDPOINTS,
                },
            });
    }
    let markers = points.into_values().collect();
    Chart {
        name: "claims".into(),
        title: "Object size against endpoints: simulated (lines) and published claims (points)"
            .into(),
        x: Axis {
            label: "endpoints in the object".into(),
            quantity: Quantity::Count,
            log: true,
        },
        y: Axis {
            label: "object size".into(),
            quantity: Quantity::Bytes,
            log: true,
        },
        series: vec![
            series(
                "Endpoints, protobuf",
                charts::ENDPOINTS,
                Style::Line,
                "endpoints",
                false,
            ),
            series(
                "Endpoints, JSON",
                charts::ENDPOINTS_LIGHT,
                Style::Dashed,
                "endpoints",
                true,
            ),
            series(
                "EndpointSlice, protobuf",
                charts::SLICES,
                Style::Line,
                "endpointslices",
                false,
            ),
            series(
                "EndpointSlice, JSON",
                charts::SLICES_LIGHT,
                Style::Dashed,
                "endpointslices",
                true,
            ),
        ],
        hlines: vec![(
            ETCD_MAX_REQUEST_BYTES as f64,
            "etcd --max-request-bytes (1.5 MiB = 1,572,864 B)".into(),
        )],
        vlines: vec![(
            TRUNCATION as f64,
            "Endpoints truncated at 1,000 addresses (1.22+); slice maximum 1,000".into(),
        )],
        markers,
        footer: format!(
            "{} Simulated: scenarios/reproduce/growth.yaml (5,000 nodes, managedFields included).",
            charts::DECIMAL_UNITS
        ),
        x_range: None,
        x_categories: Vec::new(),
    }
    .into()
}

/// Writes a reproduction into `dir`: `claims.csv`, `sizes.csv`, `runs.csv`, `claims.md` (the
/// table in Markdown) and the size chart
/// (`claims.svg`, `claims.png`), each atomically.
pub fn write(rep: &Reproduction, dir: &Path) -> Result<Vec<PathBuf>, ReproduceError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReproduceError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for (file, bytes) in [
        ("claims.csv", output::csv_bytes(&rep.claims)),
        ("sizes.csv", output::csv_bytes(&rep.sizes)),
        ("runs.csv", output::csv_bytes(&rep.runs)),
        ("claims.md", Ok(markdown(&rep.claims).into_bytes())),
    ] {
        let path = dir.join(file);
        let bytes = bytes.map_err(io(&path))?;
        output::write_atomic(&path, &bytes).map_err(io(&path))?;
        written.push(path);
    }
    written.extend(charts::write_figure(&rep.figure, dir)?);
    written.push(crate::report::write_reproduce(dir)?);
    Ok(written)
}

/// A claim's value for people: bytes in decimal units, a count, a ratio, a percentage, a rate.
fn display(unit: Unit, v: u64) -> String {
    match unit {
        Unit::Bytes => human_bytes(v),
        Unit::Count => output::thousands(v),
        Unit::Ratio => format!("x{}", output::thousands(v)),
        Unit::Percent => format!("{v}%"),
        Unit::PerSecond => format!("{}/s", output::thousands(v)),
    }
}

/// The claims as a Markdown table (`claims.md`, pasted into the README).
pub fn markdown(rows: &[ClaimRow]) -> String {
    let mut out = String::from(
        "| claim | source | stated | simulated protobuf | JSON | ratio | verdict |\n\
         |---|---|--:|--:|--:|--:|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.claim,
            r.source,
            display(r.unit, r.stated),
            display(r.unit, r.simulated_proto),
            display(r.unit, r.simulated_json),
            r.ratio,
            r.verdict
        ));
    }
    out
}

/// The claims as an aligned text table.
pub fn table(rows: &[ClaimRow]) -> String {
    let mut lines: Vec<Vec<String>> = vec![vec![
        "CLAIM".into(),
        "STATED".into(),
        "SIMULATED PROTO".into(),
        "JSON".into(),
        "RATIO".into(),
        "VERDICT".into(),
    ]];
    for r in rows {
        lines.push(vec![
            r.claim.clone(),
            display(r.unit, r.stated),
            display(r.unit, r.simulated_proto),
            display(r.unit, r.simulated_json),
            r.ratio.clone(),
            r.verdict.clone(),
        ]);
    }
    // The claim and the verdict left, the figures right.
    output::aligned(&lines, |c, _| c != 0 && c != 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claims chart as `reproduce` draws it (from the committed `sizes.csv`): no marker
    /// label overlaps another, a drawn line (curves, the etcd and truncation lines) or a
    /// marker; each stays inside the plot, and the legend outside it.
    #[test]
    fn claim_labels_cover_no_line_and_no_other_label() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/reproduce/sizes.csv");
        let sizes: Vec<SizeRow> = csv::Reader::from_path(path)
            .unwrap()
            .deserialize()
            .collect::<Result<_, _>>()
            .unwrap();
        let layouts = charts::layout(&size_figure(&sizes, &claims())).unwrap();
        let l = &layouts[0];
        assert!(l.labels.len() >= 7, "{l:?}");
        for (i, a) in l.labels.iter().enumerate() {
            for b in &l.labels[i + 1..] {
                assert!(!a.intersects(b), "{a:?} overlaps {b:?}");
            }
            let hit = l.points.iter().find(|p| a.contains(**p));
            assert!(hit.is_none(), "{a:?} covers {hit:?}");
            assert!(
                a.x0 >= l.plot.x0 && a.x1 <= l.plot.x1,
                "{a:?} leaves {:?}",
                l.plot
            );
        }
        let legend = l.legend.unwrap();
        assert!(!legend.intersects(&l.plot), "{legend:?} {:?}", l.plot);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(1e6, 1e6, Bound::About), "holds");
        assert_eq!(verdict(1.05e6, 1e6, Bound::About), "holds");
        assert_eq!(verdict(1.2e6, 1e6, Bound::About), "holds within 25%");
        assert_eq!(verdict(0.8e6, 1e6, Bound::About), "holds within 25%");
        assert_eq!(verdict(1.5e6, 0.7e6, Bound::About), "overstated x2.1");
        assert_eq!(verdict(1e4, 1.7e4, Bound::About), "understated x1.7");
        assert_eq!(verdict(22e12, 30e12, Bound::AtLeast), "holds");
        assert_eq!(verdict(22e12, 11e12, Bound::AtLeast), "overstated x2.0");
        assert_eq!(verdict(1e3, 900.0, Bound::AtMost), "holds");
        assert_eq!(verdict(1e3, 3e3, Bound::AtMost), "understated x3.0");
    }

    #[test]
    fn every_claim_names_a_built_in_scenario() {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.0).collect();
        let defs = claims();
        assert!(defs.len() >= 10);
        for c in &defs {
            assert!(names.contains(&c.scenario), "{}", c.claim);
        }
    }

    #[test]
    fn built_in_scenarios_parse() {
        for (name, text) in SCENARIOS {
            Scenario::parse(name, name, text).unwrap();
        }
    }
}
