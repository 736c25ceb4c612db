//! Scenario files: the schema, its defaults, parsing and validation.
//!
//! A scenario is YAML read with serde-saphyr (maintained, panic-free; the YAML crate kube-rs
//! moved to). Unknown fields are errors. Type errors stop parsing and name file, line, column and
//! field path; semantic errors (ranges, references to zones and services, CIDR overlaps) are all
//! collected and reported together. The result is an immutable [`Scenario`]; the simulator never
//! sees raw YAML.
//!
//! The reference with every field, default and an example is the README's "Scenario reference".

mod estimate;
pub mod external;
mod storage;
pub mod sweep;
mod traffic;
mod units;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

pub use estimate::{Estimate, check_memory, default_memory_limit, estimate, parse_memory};
pub use storage::{
    Apiserver, ApiserverRestart, DEFAULT_MAX_REQUEST_BYTES, Etcd, Receive, Retry, RetryPolicy,
};
pub use traffic::{MAX_RPS, Traffic};
pub use units::{
    Bandwidth, Bytes, Count, Duration, IntOrPercent, Nanos, SECOND, human_bytes, thousands,
};
use units::{count, optional_count};
use validate::validate;

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
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_duration")]
    pub duration: Spanned<Duration>,
    /// Width of a `timeseries.csv` bucket.
    #[serde(default = "default_bucket")]
    pub bucket: Spanned<Duration>,
    /// Wall-clock time of t = 0 (RFC 3339), which timestamps in objects count from.
    #[serde(default = "default_start")]
    pub start: Spanned<String>,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub services: Vec<Service>,
    /// Services outside the cluster and the controllers that publish them.
    #[serde(default)]
    pub external_services: Vec<external::ExternalService>,
    #[serde(default)]
    pub pods: PodTiming,
    #[serde(default)]
    pub churn: Churn,
    #[serde(default)]
    pub controllers: Controllers,
    #[serde(default)]
    pub watchers: Watchers,
    /// The API servers' egress; none: watch events arrive as they are written.
    #[serde(default)]
    pub apiserver: Option<Spanned<Apiserver>>,
    #[serde(default)]
    pub etcd: Etcd,
    /// USD per GB crossing zones, charged in each direction.
    #[serde(default = "traffic::default_price")]
    pub cross_zone_price_per_gb: Spanned<f64>,
    #[serde(default)]
    pub realism: Realism,
    /// A grid of variants of this scenario (`slicesim run` runs them all).
    #[serde(default)]
    pub sweep: Option<sweep::SweepBlock>,
}

fn default_seed() -> u64 {
    1
}
fn default_duration() -> Spanned<Duration> {
    unspanned(Duration(10 * 60 * SECOND))
}
fn default_bucket() -> Spanned<Duration> {
    unspanned(Duration(10 * SECOND))
}
fn default_start() -> Spanned<String> {
    unspanned("2026-01-01T00:00:00Z".to_string())
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
    pub zones: Spanned<Vec<Zone>>,
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
    #[serde(default = "default_max_pods")]
    pub max_pods_per_node: Spanned<Count>,
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

fn default_zones() -> Spanned<Vec<Zone>> {
    unspanned(
        ["us-west-2a", "us-west-2b", "us-west-2c"]
            .iter()
            .map(|z| Zone {
                name: unspanned(z.to_string()),
                nodes: 10,
                cpu: 4.0,
            })
            .collect(),
    )
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
fn default_max_pods() -> Spanned<Count> {
    unspanned(Count(110))
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

/// `spec.trafficDistribution`: every ready endpoint hinted for its own zone (and, for
/// `PreferSameNode`, its node). `PreferClose` is `PreferSameZone`'s deprecated alias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum TrafficDistribution {
    PreferClose,
    PreferSameZone,
    PreferSameNode,
}

/// `spec.internalTrafficPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum TrafficPolicy {
    /// Every ready endpoint of the cluster (or of the hints' choice).
    #[default]
    Cluster,
    /// Only the ready endpoints on the client's own Node; none there: the request fails.
    Local,
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
    /// The `service.kubernetes.io/topology-mode` annotation: `Auto` (or `auto`) turns on
    /// topology-aware hints; any other value leaves them off.
    #[serde(default)]
    pub topology_mode: Option<String>,
    /// `spec.trafficDistribution`.
    #[serde(default)]
    pub traffic_distribution: Option<TrafficDistribution>,
    /// `spec.internalTrafficPolicy`: `Cluster` (the default) or `Local`.
    #[serde(default)]
    pub internal_traffic_policy: TrafficPolicy,
    /// What its clients send (the cross-zone figures).
    #[serde(default)]
    pub traffic: Traffic,
    /// Relative weight of each zone for this Service's pods (default: even over all zones).
    #[serde(default)]
    pub zone_weights: Option<Spanned<BTreeMap<String, f64>>>,
    /// How many Services like this one: `N` copies named `<name>-0` .. `<name>-(N-1)`.
    #[serde(default = "default_copies", deserialize_with = "count")]
    pub copies: u32,
    /// The entry (with its copies) in each of `N` namespaces named `<namespace>-1` ..
    /// `<namespace>-N`, as clusterloader2 numbers the namespaces it manages.
    #[serde(default, deserialize_with = "optional_count")]
    pub namespaces: Option<u32>,
}

impl Service {
    /// The topology-mode annotation turns on topology-aware hints (`Auto` or `auto`).
    pub fn auto_hints(&self) -> bool {
        matches!(self.topology_mode.as_deref(), Some("Auto" | "auto"))
    }

    /// The namespaces of the entry: its `namespace`, or `<namespace>-1` .. `-N`.
    pub fn namespace_names(&self) -> Vec<String> {
        match self.namespaces {
            None => vec![self.namespace.clone()],
            Some(n) => (1..=n).map(|k| format!("{}-{k}", self.namespace)).collect(),
        }
    }

    /// The Services of the entry: (namespace, name), namespace by namespace, copy by copy.
    pub fn instances(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.namespace_names().into_iter().flat_map(move |ns| {
            (0..self.copies).map(move |k| {
                let name = if self.copies == 1 {
                    self.name.value.clone()
                } else {
                    format!("{}-{k}", self.name.value)
                };
                (ns.clone(), name)
            })
        })
    }

    /// How many Services the entry stands for: copies times namespaces.
    pub fn count(&self) -> u64 {
        u64::from(self.copies) * u64::from(self.namespaces.unwrap_or(1))
    }
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
    pub scheduling_to_running: Spanned<Distribution>,
    #[serde(default = "default_ready")]
    pub running_to_ready: Spanned<Distribution>,
    #[serde(default = "default_grace")]
    pub termination_grace: Spanned<Distribution>,
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

fn default_sched() -> Spanned<Distribution> {
    unspanned(Distribution::Lognormal {
        median: Duration(2 * SECOND),
        p99: Duration(10 * SECOND),
    })
}
fn default_ready() -> Spanned<Distribution> {
    unspanned(Distribution::Uniform {
        min: Duration(2 * SECOND),
        max: Duration(8 * SECOND),
    })
}
fn default_grace() -> Spanned<Distribution> {
    unspanned(Distribution::Uniform {
        min: Duration(SECOND),
        max: Duration(5 * SECOND),
    })
}

/// The churn: timed actions (a list), or a recorded pod history to replay (`{trace: FILE}`).
#[derive(Clone, Debug)]
pub enum Churn {
    /// Each action with where it is written (errors about an action point at it).
    Actions(Vec<Spanned<Action>>),
    Trace {
        trace: Spanned<String>,
    },
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
                while let Some(a) = seq.next_element::<Spanned<Action>>()? {
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
                    trace = Some(map.next_value::<Spanned<String>>()?);
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
    Resize(Resize),
    ApiserverRestart(ApiserverRestart),
}

impl Action {
    /// When the action starts (`at`, or `from` for rates).
    pub fn start(&self) -> Duration {
        match self {
            Action::Rollout(r) => r.at,
            Action::Scale(s) => s.at,
            Action::PodFailures(f) => f.from,
            Action::ReadinessFlaps(f) => f.from,
            Action::NodeDrain(d) => d.at,
            Action::ZoneOutage(z) => z.at,
            Action::ServiceUpdate(u) => u.at,
            Action::ServiceDelete(d) => d.at,
            Action::NodeDelete(d) => d.at,
            Action::Resize(r) => r.from,
            Action::ApiserverRestart(r) => r.at,
        }
    }

    /// The action's key as written (`rollout`, `pod_failures`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Rollout(_) => "rollout",
            Action::Scale(_) => "scale",
            Action::PodFailures(_) => "pod_failures",
            Action::ReadinessFlaps(_) => "readiness_flaps",
            Action::NodeDrain(_) => "node_drain",
            Action::ZoneOutage(_) => "zone_outage",
            Action::ServiceUpdate(_) => "service_update",
            Action::ServiceDelete(_) => "service_delete",
            Action::NodeDelete(_) => "node_delete",
            Action::Resize(_) => "resize",
            Action::ApiserverRestart(_) => "apiserver_restart",
        }
    }
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

/// Every Deployment (or those of one Service name) resized, each at its own random time:
/// clusterloader2's "scaling and updating objects" phase (`RandomizedTimeLimitedLoad`: each
/// object at a uniformly random moment of the window; `RandIntRange(MultiplyInt(X, 0.5),
/// MultiplyInt(X, 1.5))`: a uniform size from X/2 to 3X/2, rounded down, both ends included).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resize {
    /// Start of the window.
    #[serde(default)]
    pub from: Duration,
    /// Length of the window: each Deployment at a uniformly random time in [from, from + over).
    pub over: Duration,
    /// The new size is uniform in [⌊min_factor·X⌋, ⌊max_factor·X⌋], X the Service's
    /// `replicas` as written.
    #[serde(default = "default_min_factor")]
    pub min_factor: Spanned<f64>,
    #[serde(default = "default_max_factor")]
    pub max_factor: Spanned<f64>,
    /// Also replace the pods (a rolling update with 25% surge and unavailability).
    #[serde(default)]
    pub rollout: bool,
    /// Only the Services of this name (default: every Service).
    #[serde(default)]
    pub service: Option<Spanned<String>>,
}

fn default_min_factor() -> Spanned<f64> {
    unspanned(0.5)
}
fn default_max_factor() -> Spanned<f64> {
    unspanned(1.5)
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
    /// A replacement joins after this long (a spot or autoscaled group replacing the
    /// instance): Ready, schedulable, with the same name and zone; none when omitted.
    #[serde(default)]
    pub replace_after: Option<Duration>,
    /// The replacement is Ready this long before it has its `topology.kubernetes.io/zone`
    /// label (a cloud provider's node controller sets it; kubernetes#123401).
    #[serde(default)]
    pub zone_label_after: Duration,
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
    /// How a failed sync is retried (default: upstream's [`RetryPolicy::ENDPOINTS`]).
    #[serde(default)]
    pub retry: Retry,
}

impl Default for EndpointsController {
    fn default() -> Self {
        EndpointsController {
            batch_period: Duration(0),
            truncate: true,
            retry: Retry::default(),
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
    /// How a failed sync is retried (default: upstream's [`RetryPolicy::ENDPOINTSLICES`]).
    #[serde(default)]
    pub retry: Retry,
}

impl Default for SliceController {
    fn default() -> Self {
        SliceController {
            max_endpoints_per_slice: default_max_eps(),
            batch_period: Duration(0),
            retry: Retry::default(),
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
    pub custom: Vec<Spanned<CustomWatcher>>,
    /// kube-proxy's sync loop.
    #[serde(default)]
    pub kube_proxy_sync: ProxySync,
    /// How fast each class of watchers (`kube-proxy`, `coredns`, a custom name) takes its
    /// events; unlisted classes take them as fast as they come.
    #[serde(default)]
    pub receive: BTreeMap<String, Spanned<Receive>>,
}

impl Default for Watchers {
    fn default() -> Self {
        Watchers {
            kube_proxy: true,
            coredns: default_coredns(),
            custom: Vec::new(),
            kube_proxy_sync: ProxySync::default(),
            receive: BTreeMap::new(),
        }
    }
}

/// kube-proxy's `BoundedFrequencyRunner` (see [`crate::kubeproxy`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySync {
    /// `--iptables-min-sync-period` (default 1s): syncs at most this often after a burst.
    #[serde(default = "default_min_sync")]
    pub min_sync_period: Duration,
    /// `burstSyncs` (2, `pkg/proxy/iptables/proxier.go`).
    #[serde(default = "default_burst_syncs", deserialize_with = "count")]
    pub burst_syncs: u32,
}

impl Default for ProxySync {
    fn default() -> Self {
        ProxySync {
            min_sync_period: default_min_sync(),
            burst_syncs: default_burst_syncs(),
        }
    }
}

fn default_min_sync() -> Duration {
    Duration(SECOND)
}

fn default_burst_syncs() -> u32 {
    2
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
        // Line 0: about the whole file (it cannot be read), no position to point at.
        if self.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        }
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
    /// The text it was read from (written beside a run's results as `scenario.yaml`).
    pub text: String,
    /// Relative paths in the scenario (a trace) are resolved against this directory.
    pub base_dir: std::path::PathBuf,
    pub file: ScenarioFile,
    /// Start of the simulation in Unix seconds.
    pub start_unix: i64,
    pub pod_cidr_v4: (Ipv4Addr, u8),
    pub pod_cidr_v6: (Ipv6Addr, u8),
    pub max_endpoints_per_slice: usize,
    /// The sweep the file describes, checked (its points are checked when they are built).
    pub sweep: Option<std::sync::Arc<sweep::Plan>>,
}

impl Scenario {
    /// Some Service asks for topology-aware hints by annotation (`hints.csv` is written).
    pub fn requests_auto_hints(&self) -> bool {
        self.file.services.iter().any(Service::auto_hints)
    }

    /// Some Service routes by topology: hints of any kind, or the `Local` policy.
    pub fn routes_by_topology(&self) -> bool {
        self.file.services.iter().any(|s| {
            s.auto_hints()
                || s.traffic_distribution.is_some()
                || s.internal_traffic_policy == TrafficPolicy::Local
        })
    }

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
        let parsed: Result<ScenarioFile, _> = serde_saphyr::with_deserializer_from_str_with_options(
            text,
            crate::yaml::options(text.len()),
            |de| {
                serde_path_to_error::deserialize(de).map_err(|e| {
                    path = e.path().to_string();
                    e.into_inner()
                })
            },
        );
        let sf = parsed.map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            ScenarioError {
                problems: vec![Problem {
                    file: file.to_string(),
                    line: line.max(1),
                    column,
                    path: field_path(&path),
                    message: crate::yaml::message(&e),
                }],
            }
        })?;
        validate(file, default_name, text, sf)
    }
}

/// A field path as serde_path_to_error prints it, as the user wrote it: without the `value`
/// of our `Spanned` wrappers, and empty for the top level or an unknown position (`?`).
fn field_path(raw: &str) -> String {
    let parts: Vec<&str> = raw
        .split('.')
        .filter(|p| !matches!(*p, "value" | "?" | ""))
        .collect();
    parts.join(".").replace(".[", "[")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_a_valid_scenario_with_defaults() {
        let s = Scenario::parse("x.yaml", "x", "{}").unwrap();
        assert_eq!(s.name, "x");
        assert_eq!(s.max_endpoints_per_slice, 100);
        assert_eq!(s.file.cluster.zones.value.len(), 3);
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
