//! Scenario files: the schema, its defaults, parsing and validation.
//!
//! A scenario is YAML read with serde-saphyr (maintained, panic-free; the YAML crate kube-rs
//! moved to). Unknown fields are errors. Type errors stop parsing and name file, line, column and
//! field path; semantic errors (ranges, references to zones and services, CIDR overlaps) are all
//! collected and reported together. The result is an immutable [`Scenario`]; the simulator never
//! sees raw YAML.
//!
//! The reference with every field, default and an example is the README's "Scenario reference".

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// Nanoseconds: the simulator's only unit of time.
pub type Nanos = u64;

pub const SECOND: Nanos = 1_000_000_000;

/// A duration written as `500ms`, `30s`, `5m`, `1h30m` or `0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub Nanos);

impl Duration {
    pub fn parse(s: &str) -> Result<Duration, String> {
        let s = s.trim();
        if s == "0" {
            return Ok(Duration(0));
        }
        let bad = || format!("expected a duration such as 500ms, 30s, 5m or 1h30m, got {s:?}");
        let mut total: u128 = 0;
        let mut rest = s;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            if digits == 0 {
                return Err(bad());
            }
            let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale: f64 = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total += (number * scale).round() as u128;
        }
        u64::try_from(total)
            .map(Duration)
            .map_err(|_| format!("duration {s:?} is too long"))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return write!(f, "0s");
        }
        if !ns.is_multiple_of(SECOND) {
            return write!(f, "{}ms", ns as f64 / 1e6);
        }
        let s = ns / SECOND;
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if sec > 0 || (h == 0 && m == 0) {
            write!(f, "{sec}s")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(0) => Ok(Duration(0)),
            Raw::Int(n) => Err(serde::de::Error::custom(format!(
                "expected a duration with a unit (e.g. {n}s), got {n}"
            ))),
            Raw::Str(s) => Duration::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// A count: a non-negative integer, with a clear message for anything else.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Float(f64),
        Str(String),
    }
    let bad = |got: String| {
        serde::de::Error::custom(format!("expected a non-negative integer, got {got}"))
    };
    match Raw::deserialize(d)? {
        Raw::Int(n) => u32::try_from(n).map_err(|_| bad(n.to_string())),
        Raw::Float(f) => Err(bad(f.to_string())),
        Raw::Str(s) => Err(bad(format!("{s:?}"))),
    }
}

fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    count(d).map(Some)
}

/// A count or a percentage, as in a Deployment's `maxSurge`: `1` or `"25%"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(u32),
    Percent(u32),
}

impl IntOrPercent {
    /// Resolves against `total`: percentages round up for surge and down for unavailable
    /// (Deployment controller, `ResolveFenceposts`).
    pub fn resolve(self, total: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let x = u64::from(total) * u64::from(p);
                (if round_up { x.div_ceil(100) } else { x / 100 }) as u32
            }
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u32),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(IntOrPercent::Int(n)),
            Raw::Str(s) => s
                .strip_suffix('%')
                .and_then(|p| p.parse::<u32>().ok())
                .filter(|p| *p <= 100)
                .map(IntOrPercent::Percent)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "expected a non-negative count or a percentage from 0% to 100%, got {s:?}"
                    ))
                }),
        }
    }
}

/// A delay distribution (`rand_distr`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Always the same delay.
    Constant(Duration),
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// Exponential with this mean.
    Exponential { mean: Duration },
    /// Log-normal given its median and 99th percentile.
    Lognormal { median: Duration, p99: Duration },
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution::Constant(Duration(0))
    }
}

/// Top level of a scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Shown in outputs; defaults to the file name without extension.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_duration")]
    pub duration: Duration,
    /// Width of a `timeseries.csv` bucket.
    #[serde(default = "default_bucket")]
    pub bucket: Spanned<Duration>,
    /// Wall-clock time of t = 0 (RFC 3339), which timestamps in objects count from.
    #[serde(default = "default_start")]
    pub start: String,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub pods: PodTiming,
    #[serde(default)]
    pub churn: Churn,
    #[serde(default)]
    pub controllers: Controllers,
    #[serde(default)]
    pub watchers: Watchers,
    #[serde(default)]
    pub realism: Realism,
}

fn default_seed() -> u64 {
    1
}
fn default_duration() -> Duration {
    Duration(10 * 60 * SECOND)
}
fn default_bucket() -> Spanned<Duration> {
    unspanned(Duration(10 * SECOND))
}
fn default_start() -> String {
    "2026-01-01T00:00:00Z".to_string()
}

fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(
        value,
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    #[serde(default = "default_zones")]
    pub zones: Vec<Zone>,
    /// `cloud` (`ip-10-0-12-34.us-west-2.compute.internal`) or `short` (`node-17`).
    #[serde(default)]
    pub node_naming: NodeNaming,
    #[serde(default = "default_cidr_v4")]
    pub pod_cidr_v4: Spanned<String>,
    #[serde(default = "default_cidr_v6")]
    pub pod_cidr_v6: Spanned<String>,
    /// Cluster IPs of Services; must not overlap the pod CIDRs.
    #[serde(default = "default_service_cidr")]
    pub service_cidr: Spanned<String>,
    #[serde(default = "default_max_pods", deserialize_with = "count")]
    pub max_pods_per_node: u32,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            zones: default_zones(),
            node_naming: NodeNaming::default(),
            pod_cidr_v4: default_cidr_v4(),
            pod_cidr_v6: default_cidr_v6(),
            service_cidr: default_service_cidr(),
            max_pods_per_node: default_max_pods(),
        }
    }
}

fn default_zones() -> Vec<Zone> {
    ["us-west-2a", "us-west-2b", "us-west-2c"]
        .iter()
        .map(|z| Zone {
            name: unspanned(z.to_string()),
            nodes: 10,
            cpu: 4.0,
        })
        .collect()
}
fn default_cidr_v4() -> Spanned<String> {
    unspanned("10.64.0.0/10".to_string())
}
fn default_cidr_v6() -> Spanned<String> {
    unspanned("fd00:10:64::/48".to_string())
}
fn default_service_cidr() -> Spanned<String> {
    unspanned("172.20.0.0/16".to_string())
}
fn default_max_pods() -> u32 {
    110
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeNaming {
    #[default]
    Cloud,
    Short,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub name: Spanned<String>,
    #[serde(deserialize_with = "count")]
    pub nodes: u32,
    /// Allocatable CPU cores per node.
    #[serde(default = "default_cpu")]
    pub cpu: f64,
}

fn default_cpu() -> f64 {
    4.0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum IpFamily {
    IPv4,
    IPv6,
}

impl IpFamily {
    pub fn address_type(self) -> &'static str {
        match self {
            IpFamily::IPv4 => "IPv4",
            IpFamily::IPv6 => "IPv6",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: Spanned<String>,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Service labels; slices and Endpoints copy them.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "default_ports")]
    pub ports: Vec<ServicePort>,
    /// Named container ports of the pods, for `target_port` given by name.
    #[serde(default)]
    pub container_ports: BTreeMap<String, i32>,
    #[serde(default = "default_replicas", deserialize_with = "count")]
    pub replicas: u32,
    /// `[IPv4]`, `[IPv6]`, or both (dual-stack; the first is primary).
    #[serde(default = "default_families")]
    pub ip_families: Spanned<Vec<IpFamily>>,
    /// `clusterIP: None`.
    #[serde(default)]
    pub headless: bool,
    #[serde(default)]
    pub publish_not_ready_addresses: bool,
    /// Relative weight of each zone for this Service's pods (default: even over all zones).
    #[serde(default)]
    pub zone_weights: Option<Spanned<BTreeMap<String, f64>>>,
    /// How many Services like this one: `N` copies named `<name>-0` .. `<name>-(N-1)`.
    #[serde(default = "default_copies", deserialize_with = "count")]
    pub copies: u32,
}

fn default_namespace() -> String {
    "default".to_string()
}
fn default_ports() -> Vec<ServicePort> {
    vec![ServicePort {
        name: "http".into(),
        protocol: "TCP".into(),
        port: 80,
        target_port: TargetPort::Number(8080),
        app_protocol: None,
    }]
}
fn default_replicas() -> u32 {
    3
}
fn default_families() -> Spanned<Vec<IpFamily>> {
    unspanned(vec![IpFamily::IPv4])
}
fn default_copies() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePort {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    pub port: i32,
    pub target_port: TargetPort,
    #[serde(default)]
    pub app_protocol: Option<String>,
}

fn default_protocol() -> String {
    "TCP".to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TargetPort {
    Number(i32),
    Name(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodTiming {
    #[serde(default = "default_sched")]
    pub scheduling_to_running: Distribution,
    #[serde(default = "default_ready")]
    pub running_to_ready: Distribution,
    #[serde(default = "default_grace")]
    pub termination_grace: Distribution,
}

impl Default for PodTiming {
    fn default() -> Self {
        PodTiming {
            scheduling_to_running: default_sched(),
            running_to_ready: default_ready(),
            termination_grace: default_grace(),
        }
    }
}

fn default_sched() -> Distribution {
    Distribution::Lognormal {
        median: Duration(2 * SECOND),
        p99: Duration(10 * SECOND),
    }
}
fn default_ready() -> Distribution {
    Distribution::Uniform {
        min: Duration(2 * SECOND),
        max: Duration(8 * SECOND),
    }
}
fn default_grace() -> Distribution {
    Distribution::Uniform {
        min: Duration(SECOND),
        max: Duration(5 * SECOND),
    }
}

/// The churn: timed actions (a list), or a recorded pod history to replay (`{trace: FILE}`).
#[derive(Clone, Debug)]
pub enum Churn {
    Actions(Vec<Action>),
    Trace { trace: String },
}

impl<'de> Deserialize<'de> for Churn {
    /// A hand-written visitor rather than `untagged`, so that errors inside an action keep
    /// their line and column.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Churn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of churn actions, or {trace: FILE}")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Churn, A::Error> {
                let mut actions = Vec::new();
                while let Some(a) = seq.next_element::<Action>()? {
                    actions.push(a);
                }
                Ok(Churn::Actions(actions))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Churn, A::Error> {
                let mut trace = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "trace" {
                        return Err(serde::de::Error::unknown_field(&key, &["trace"]));
                    }
                    trace = Some(map.next_value::<String>()?);
                }
                trace
                    .map(|trace| Churn::Trace { trace })
                    .ok_or_else(|| serde::de::Error::missing_field("trace"))
            }
            fn visit_unit<E>(self) -> Result<Churn, E> {
                Ok(Churn::default())
            }
        }
        d.deserialize_any(V)
    }
}

impl Default for Churn {
    fn default() -> Self {
        Churn::Actions(Vec::new())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Rollout(Rollout),
    Scale(Scale),
    PodFailures(PodFailures),
    ReadinessFlaps(ReadinessFlaps),
    NodeDrain(NodeDrain),
    ZoneOutage(ZoneOutage),
    ServiceUpdate(ServiceUpdate),
    ServiceDelete(ServiceDelete),
    NodeDelete(NodeDelete),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    pub at: Duration,
    pub service: Spanned<String>,
    #[serde(default = "default_surge")]
    pub max_surge: IntOrPercent,
    #[serde(default = "default_surge")]
    pub max_unavailable: IntOrPercent,
    /// New named container ports of the pod template (e.g. `{http: 9090}`): pods of the new
    /// ReplicaSet resolve a named `target_port` to these.
    #[serde(default)]
    pub container_ports: Option<BTreeMap<String, i32>>,
}

fn default_surge() -> IntOrPercent {
    IntOrPercent::Percent(25)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    pub at: Duration,
    pub service: Spanned<String>,
    #[serde(deserialize_with = "count")]
    pub replicas: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodFailures {
    /// Failures per hour over all pods of the Service (or of all Services when omitted).
    pub per_hour: Spanned<f64>,
    #[serde(default)]
    pub service: Option<Spanned<String>>,
    #[serde(default)]
    pub from: Duration,
    #[serde(default)]
    pub until: Option<Duration>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessFlaps {
    pub per_hour: Spanned<f64>,
    /// How long a pod stays not ready.
    pub down: Duration,
    #[serde(default)]
    pub service: Option<Spanned<String>>,
    #[serde(default)]
    pub from: Duration,
    #[serde(default)]
    pub until: Option<Duration>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDrain {
    pub at: Duration,
    #[serde(default, deserialize_with = "optional_count")]
    pub count: Option<u32>,
    #[serde(default)]
    pub nodes: Vec<Spanned<String>>,
    /// Time between two nodes of the drain.
    #[serde(default)]
    pub interval: Duration,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneOutage {
    pub zone: Spanned<String>,
    pub at: Duration,
    pub duration: Duration,
    /// Delay between the nodes going NotReady and their pods being evicted
    /// (`--default-not-ready-toleration-seconds`, 300 s by default).
    #[serde(default = "default_eviction")]
    pub eviction_after: Duration,
}

fn default_eviction() -> Duration {
    Duration(300 * SECOND)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceUpdate {
    pub at: Duration,
    pub service: Spanned<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub ports: Option<Vec<ServicePort>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDelete {
    pub at: Duration,
    #[serde(default, deserialize_with = "optional_count")]
    pub count: Option<u32>,
    #[serde(default)]
    pub nodes: Vec<Spanned<String>>,
    /// How long the pods of a deleted Node live on before the pod garbage collector deletes
    /// them (`gcCheckPeriod`, 20 s, plus its reaction).
    #[serde(default = "default_pod_gc")]
    pub pod_gc_after: Duration,
}

fn default_pod_gc() -> Duration {
    Duration(40 * SECOND)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDelete {
    pub at: Duration,
    pub service: Spanned<String>,
    /// How long the Service keeps its deletionTimestamp before it is gone (a finalizer such
    /// as a load balancer's cleanup); 0: gone at once.
    #[serde(default)]
    pub finalizer_for: Duration,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controllers {
    #[serde(default)]
    pub endpoints: EndpointsController,
    #[serde(default)]
    pub endpointslices: SliceController,
    #[serde(default)]
    pub deployment: DeploymentController,
}

/// The Deployment controller (with the ReplicaSet controller behind it).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentController {
    /// Time from a pod becoming ready to the controllers acting on it (during a rollout:
    /// deleting an old pod). Informer delivery, a ReplicaSet status write, the Deployment sync
    /// and the ReplicaSet sync: an assumption, not an upstream constant.
    #[serde(default = "default_reaction")]
    pub reaction_delay: Duration,
}

impl Default for DeploymentController {
    fn default() -> Self {
        DeploymentController {
            reaction_delay: default_reaction(),
        }
    }
}

fn default_reaction() -> Duration {
    Duration(100 * SECOND / 1000)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsController {
    /// `--endpoint-updates-batch-period`.
    #[serde(default)]
    pub batch_period: Duration,
    /// Truncate to 1,000 addresses (Kubernetes 1.22+); `false` models older clusters.
    #[serde(default = "yes")]
    pub truncate: bool,
}

impl Default for EndpointsController {
    fn default() -> Self {
        EndpointsController {
            batch_period: Duration(0),
            truncate: true,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SliceController {
    /// `--max-endpoints-per-slice`, 1 to 1000.
    #[serde(default = "default_max_eps")]
    pub max_endpoints_per_slice: Spanned<i64>,
    /// `--endpointslice-updates-batch-period`.
    #[serde(default)]
    pub batch_period: Duration,
}

impl Default for SliceController {
    fn default() -> Self {
        SliceController {
            max_endpoints_per_slice: default_max_eps(),
            batch_period: Duration(0),
        }
    }
}

fn default_max_eps() -> Spanned<i64> {
    unspanned(100)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watchers {
    /// One kube-proxy per node (protobuf; non-headless Services only).
    #[serde(default = "yes")]
    pub kube_proxy: bool,
    /// CoreDNS replicas (protobuf; all Services).
    #[serde(default = "default_coredns", deserialize_with = "count")]
    pub coredns: u32,
    #[serde(default)]
    pub custom: Vec<CustomWatcher>,
}

impl Default for Watchers {
    fn default() -> Self {
        Watchers {
            kube_proxy: true,
            coredns: default_coredns(),
            custom: Vec::new(),
        }
    }
}

fn default_coredns() -> u32 {
    2
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomWatcher {
    pub name: String,
    #[serde(default = "default_copies", deserialize_with = "count")]
    pub count: u32,
    #[serde(default)]
    pub encoding: Encoding,
    /// Only objects in this namespace (default: all).
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[default]
    Protobuf,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Realism {
    /// Objects carry `metadata.managedFields`, as watch events do.
    #[serde(default = "yes")]
    pub managed_fields: bool,
}

impl Default for Realism {
    fn default() -> Self {
        Realism {
            managed_fields: true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading and validation
// ---------------------------------------------------------------------------------------------

/// One problem in a scenario file: `file:line:column: path: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)
    }
}

/// A scenario that could not be loaded: every problem found.
#[derive(Debug, thiserror::Error)]
pub struct ScenarioError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    /// The file it came from, for error messages.
    pub source: String,
    /// Relative paths in the scenario (a trace) are resolved against this directory.
    pub base_dir: std::path::PathBuf,
    pub file: ScenarioFile,
    /// Start of the simulation in Unix seconds.
    pub start_unix: i64,
    pub pod_cidr_v4: (Ipv4Addr, u8),
    pub pod_cidr_v6: (Ipv6Addr, u8),
    pub max_endpoints_per_slice: usize,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            problems: vec![Problem {
                file: file.clone(),
                line: 0,
                column: 0,
                path: String::new(),
                message: format!("cannot read: {e}"),
            }],
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
        let mut sc = Scenario::parse(&file, &stem, &text)?;
        sc.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(sc)
    }

    /// Parses and validates scenario text; `file` names it in errors, `default_name` is the
    /// name when the file sets none.
    pub fn parse(file: &str, default_name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let mut path = String::new();
        let parsed: Result<ScenarioFile, _> =
            serde_saphyr::with_deserializer_from_str(text, |de| {
                serde_path_to_error::deserialize(de).map_err(|e| {
                    path = e.path().to_string();
                    e.into_inner()
                })
            });
        let sf = parsed.map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let raw = e.without_snippet().to_string();
            let message = raw.lines().next().unwrap_or_default();
            let message = message.split(" at line ").next().unwrap_or(message);
            ScenarioError {
                problems: vec![Problem {
                    file: file.to_string(),
                    line: line.max(1),
                    column,
                    path: if path == "." {
                        String::new()
                    } else {
                        path.clone()
                    },
                    message: message.to_string(),
                }],
            }
        })?;
        validate(file, default_name, sf)
    }
}

struct Problems<'a> {
    file: &'a str,
    list: Vec<Problem>,
}

impl Problems<'_> {
    fn at<T>(&mut self, span: &Spanned<T>, path: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem {
            file: self.file.to_string(),
            line: span.referenced.line(),
            column: span.referenced.column(),
            path: path.into(),
            message: message.into(),
        });
    }

    fn top(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem {
            file: self.file.to_string(),
            line: 1,
            column: 1,
            path: path.into(),
            message: message.into(),
        });
    }
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn cidr_range(ip: IpAddr, len: u8) -> (u128, u128) {
    let (v, bits) = match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let host = bits - u32::from(len);
    let mask = if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    (v & !mask, (v & !mask) | mask)
}

fn validate(file: &str, default_name: &str, sf: ScenarioFile) -> Result<Scenario, ScenarioError> {
    let mut p = Problems {
        file,
        list: Vec::new(),
    };
    if sf.duration.0 == 0 {
        p.top("duration", "must be longer than 0s");
    }
    if sf.bucket.value.0 == 0 {
        p.at(&sf.bucket, "bucket", "must be longer than 0s");
    }
    let start_unix = match sf.start.parse::<k8s_openapi::jiff::Timestamp>() {
        Ok(t) => t.as_second(),
        Err(e) => {
            p.top(
                "start",
                format!("expected an RFC 3339 time, got {:?}: {e}", sf.start),
            );
            0
        }
    };

    // Cluster.
    let mut zones = BTreeSet::new();
    if sf.cluster.zones.is_empty() {
        p.top("cluster.zones", "needs at least one zone");
    }
    let mut nodes_total: u64 = 0;
    for (i, z) in sf.cluster.zones.iter().enumerate() {
        if !zones.insert(z.name.value.clone()) {
            p.at(
                &z.name,
                format!("cluster.zones[{i}].name"),
                format!("zone {:?} is listed twice", z.name.value),
            );
        }
        if z.nodes == 0 {
            p.at(
                &z.name,
                format!("cluster.zones[{i}].nodes"),
                "a zone needs at least one node",
            );
        }
        if z.cpu.is_nan() || z.cpu <= 0.0 {
            p.at(
                &z.name,
                format!("cluster.zones[{i}].cpu"),
                format!("expected a positive number of cores, got {}", z.cpu),
            );
        }
        nodes_total += u64::from(z.nodes);
    }
    let cidr = |p: &mut Problems, s: &Spanned<String>, field: &str, want_v4: bool| match parse_cidr(
        &s.value,
    ) {
        Some((ip, len)) if ip.is_ipv4() == want_v4 => Some((ip, len)),
        _ => {
            p.at(
                s,
                format!("cluster.{field}"),
                format!(
                    "expected an {} CIDR such as {}, got {:?}",
                    if want_v4 { "IPv4" } else { "IPv6" },
                    if want_v4 {
                        "10.64.0.0/10"
                    } else {
                        "fd00:10:64::/48"
                    },
                    s.value
                ),
            );
            None
        }
    };
    let v4 = cidr(&mut p, &sf.cluster.pod_cidr_v4, "pod_cidr_v4", true);
    let v6 = cidr(&mut p, &sf.cluster.pod_cidr_v6, "pod_cidr_v6", false);
    // Each node gets a /24 (IPv4) or /64 (IPv6) of the pod CIDR.
    if let Some((_, len)) = v4
        && (len > 24 || (1u64 << (24 - len)) < nodes_total)
    {
        {
            p.at(
                &sf.cluster.pod_cidr_v4,
                "cluster.pod_cidr_v4",
                format!(
                    "{} has room for {} node /24s, the cluster has {nodes_total} nodes",
                    sf.cluster.pod_cidr_v4.value,
                    if len > 24 { 0 } else { 1u64 << (24 - len) }
                ),
            );
        }
    }
    if let Some((_, len)) = v6
        && len > 64
    {
        p.at(
            &sf.cluster.pod_cidr_v6,
            "cluster.pod_cidr_v6",
            "must be /64 or shorter (each node gets a /64)",
        );
    }
    match parse_cidr(&sf.cluster.service_cidr.value) {
        None => p.at(
            &sf.cluster.service_cidr,
            "cluster.service_cidr",
            format!(
                "expected a CIDR such as 172.20.0.0/16, got {:?}",
                sf.cluster.service_cidr.value
            ),
        ),
        Some((ip, len)) => {
            let (a0, a1) = cidr_range(ip, len);
            for (name, pod) in [("pod_cidr_v4", v4), ("pod_cidr_v6", v6)] {
                if let Some((pip, plen)) = pod
                    && pip.is_ipv4() == ip.is_ipv4()
                {
                    let (b0, b1) = cidr_range(pip, plen);
                    if a0 <= b1 && b0 <= a1 {
                        p.at(
                            &sf.cluster.service_cidr,
                            "cluster.service_cidr",
                            format!(
                                "{} overlaps cluster.{name} {}",
                                sf.cluster.service_cidr.value,
                                if name == "pod_cidr_v4" {
                                    &sf.cluster.pod_cidr_v4.value
                                } else {
                                    &sf.cluster.pod_cidr_v6.value
                                }
                            ),
                        );
                    }
                }
            }
        }
    }
    if sf.cluster.max_pods_per_node == 0 || sf.cluster.max_pods_per_node > 250 {
        p.top(
            "cluster.max_pods_per_node",
            format!(
                "expected 1 to 250 (a node's /24 holds 254 addresses), got {}",
                sf.cluster.max_pods_per_node
            ),
        );
    }

    // Services.
    let mut services = BTreeSet::new();
    let mut total_pods: u64 = 0;
    for (i, s) in sf.services.iter().enumerate() {
        let at = format!("services[{i}]");
        if s.name.value.is_empty() || s.name.value.len() > 63 {
            p.at(
                &s.name,
                format!("{at}.name"),
                "a Service name has 1 to 63 characters",
            );
        }
        let names: Vec<String> = if s.copies == 1 {
            vec![s.name.value.clone()]
        } else {
            (0..s.copies)
                .map(|k| format!("{}-{k}", s.name.value))
                .collect()
        };
        for n in names {
            if !services.insert((s.namespace.clone(), n.clone())) {
                p.at(
                    &s.name,
                    format!("{at}.name"),
                    format!("Service {}/{n} is defined twice", s.namespace),
                );
            }
        }
        if s.copies == 0 {
            p.at(&s.name, format!("{at}.copies"), "must be at least 1");
        }
        let fam = &s.ip_families.value;
        if fam.is_empty() || fam.len() > 2 || (fam.len() == 2 && fam[0] == fam[1]) {
            p.at(
                &s.ip_families,
                format!("{at}.ip_families"),
                "expected [IPv4], [IPv6], [IPv4, IPv6] or [IPv6, IPv4]",
            );
        }
        if fam.contains(&IpFamily::IPv6) && v6.is_none() {
            p.at(
                &s.ip_families,
                format!("{at}.ip_families"),
                "IPv6 needs a valid cluster.pod_cidr_v6",
            );
        }
        for (j, port) in s.ports.iter().enumerate() {
            if !(1..=65535).contains(&port.port) {
                p.at(
                    &s.name,
                    format!("{at}.ports[{j}].port"),
                    format!("expected 1 to 65535, got {}", port.port),
                );
            }
            if !matches!(port.protocol.as_str(), "TCP" | "UDP" | "SCTP") {
                p.at(
                    &s.name,
                    format!("{at}.ports[{j}].protocol"),
                    format!("expected TCP, UDP or SCTP, got {:?}", port.protocol),
                );
            }
            if s.ports.len() > 1 && port.name.is_empty() {
                p.at(
                    &s.name,
                    format!("{at}.ports[{j}].name"),
                    "every port of a multi-port Service needs a name",
                );
            }
        }
        if s.ports.is_empty() && !s.headless {
            p.at(
                &s.name,
                format!("{at}.ports"),
                "a Service with a cluster IP needs at least one port",
            );
        }
        if let Some(w) = &s.zone_weights {
            for (zone, weight) in &w.value {
                if !zones.contains(zone) {
                    p.at(
                        w,
                        format!("{at}.zone_weights"),
                        format!("unknown zone {zone:?} (zones: {})", join(&zones)),
                    );
                }
                if weight.is_nan() || *weight < 0.0 {
                    p.at(
                        w,
                        format!("{at}.zone_weights.{zone}"),
                        "weights are non-negative",
                    );
                }
            }
            if w.value.values().sum::<f64>() <= 0.0 {
                p.at(
                    w,
                    format!("{at}.zone_weights"),
                    "at least one weight must be positive",
                );
            }
        }
        total_pods += u64::from(s.replicas) * u64::from(s.copies);
    }
    let capacity = nodes_total * u64::from(sf.cluster.max_pods_per_node);
    if total_pods > capacity {
        p.top(
            "services",
            format!(
                "{total_pods} pods do not fit on {nodes_total} nodes of {} pods each",
                sf.cluster.max_pods_per_node
            ),
        );
    }
    let service_known = |name: &str| services.iter().any(|(_, n)| n == name);

    // Controllers.
    let max_eps = &sf.controllers.endpointslices.max_endpoints_per_slice;
    if !(1..=1000).contains(&max_eps.value) {
        p.at(
            max_eps,
            "controllers.endpointslices.max_endpoints_per_slice",
            format!(
                "expected 1 to 1000 (kube-controller-manager's allowed range), got {}",
                max_eps.value
            ),
        );
    }

    // Churn.
    if let Churn::Actions(actions) = &sf.churn {
        for (i, a) in actions.iter().enumerate() {
            let at = format!("churn[{i}]");
            let check_service = |p: &mut Problems, s: &Spanned<String>, kind: &str| {
                if !service_known(&s.value) {
                    p.at(
                        s,
                        format!("{at}.{kind}.service"),
                        format!("unknown service {:?}", s.value),
                    );
                }
            };
            let check_rate = |p: &mut Problems, r: &Spanned<f64>, kind: &str| {
                if !r.value.is_finite() || r.value < 0.0 {
                    p.at(
                        r,
                        format!("{at}.{kind}.per_hour"),
                        format!("expected a non-negative rate, got {}", r.value),
                    );
                }
            };
            match a {
                Action::Rollout(r) => check_service(&mut p, &r.service, "rollout"),
                Action::Scale(s) => check_service(&mut p, &s.service, "scale"),
                Action::ServiceUpdate(u) => check_service(&mut p, &u.service, "service_update"),
                Action::ServiceDelete(d) => check_service(&mut p, &d.service, "service_delete"),
                Action::PodFailures(f) => {
                    check_rate(&mut p, &f.per_hour, "pod_failures");
                    if let Some(s) = &f.service {
                        check_service(&mut p, s, "pod_failures");
                    }
                }
                Action::ReadinessFlaps(f) => {
                    check_rate(&mut p, &f.per_hour, "readiness_flaps");
                    if let Some(s) = &f.service {
                        check_service(&mut p, s, "readiness_flaps");
                    }
                }
                Action::ZoneOutage(z) => {
                    if !zones.contains(&z.zone.value) {
                        p.at(
                            &z.zone,
                            format!("{at}.zone_outage.zone"),
                            format!("unknown zone {:?} (zones: {})", z.zone.value, join(&zones)),
                        );
                    }
                }
                Action::NodeDelete(d) => {
                    if d.count.is_none() == d.nodes.is_empty() {
                        p.top(format!("{at}.node_delete"), "give either count or nodes");
                    }
                }
                Action::NodeDrain(d) => {
                    if d.count.is_none() == d.nodes.is_empty() {
                        p.top(format!("{at}.node_drain"), "give either count or nodes");
                    }
                    if let Some(c) = d.count
                        && u64::from(c) > nodes_total
                    {
                        p.top(
                            format!("{at}.node_drain.count"),
                            format!("{c} nodes to drain, the cluster has {nodes_total}"),
                        );
                    }
                }
            }
        }
    }
    for (i, w) in sf.watchers.custom.iter().enumerate() {
        if w.count == 0 {
            p.top(format!("watchers.custom[{i}].count"), "must be at least 1");
        }
    }

    if !p.list.is_empty() {
        return Err(ScenarioError { problems: p.list });
    }
    Ok(Scenario {
        name: sf.name.clone().unwrap_or_else(|| default_name.to_string()),
        source: file.to_string(),
        base_dir: std::path::PathBuf::new(),
        start_unix,
        pod_cidr_v4: match v4 {
            Some((IpAddr::V4(a), l)) => (a, l),
            _ => (Ipv4Addr::UNSPECIFIED, 0),
        },
        pod_cidr_v6: match v6 {
            Some((IpAddr::V6(a), l)) => (a, l),
            _ => (Ipv6Addr::UNSPECIFIED, 0),
        },
        max_endpoints_per_slice: max_eps.value as usize,
        file: sf,
    })
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("500ms"), Ok(Duration(500_000_000)));
        assert_eq!(Duration::parse("30s"), Ok(Duration(30 * SECOND)));
        assert_eq!(Duration::parse("5m"), Ok(Duration(300 * SECOND)));
        assert_eq!(Duration::parse("1h30m"), Ok(Duration(5400 * SECOND)));
        assert_eq!(Duration::parse("0"), Ok(Duration(0)));
        assert!(Duration::parse("5").is_err());
        assert!(Duration::parse("5x").is_err());
        assert!(Duration::parse("").is_err());
        assert_eq!(Duration(5400 * SECOND).to_string(), "1h30m");
    }

    #[test]
    fn percentages_resolve_like_deployments() {
        assert_eq!(IntOrPercent::Percent(25).resolve(10, true), 3);
        assert_eq!(IntOrPercent::Percent(25).resolve(10, false), 2);
        assert_eq!(IntOrPercent::Int(1).resolve(10, true), 1);
    }

    #[test]
    fn an_empty_file_is_a_valid_scenario_with_defaults() {
        let s = Scenario::parse("x.yaml", "x", "{}").unwrap();
        assert_eq!(s.name, "x");
        assert_eq!(s.max_endpoints_per_slice, 100);
        assert_eq!(s.file.cluster.zones.len(), 3);
    }

    #[test]
    fn type_errors_name_line_column_and_path() {
        let text = "services:\n  - name: web\n    replicas: -5\n";
        let err = Scenario::parse("x.yaml", "x", text).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(
            (p.line, p.path.as_str()),
            (3, "services[0].replicas"),
            "{err}"
        );
    }

    #[test]
    fn semantic_errors_are_all_reported() {
        let text = "controllers:\n  endpointslices:\n    max_endpoints_per_slice: 1001\nchurn:\n  - zone_outage: {zone: mars, at: 1m, duration: 5m}\n  - rollout: {service: nope, at: 1m}\n";
        let err = Scenario::parse("x.yaml", "x", text).unwrap_err();
        let lines: Vec<u64> = err.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![3, 5, 6], "{err}");
    }
}
