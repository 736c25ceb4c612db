//! The `external_services:` section: Services whose instances live in a registry outside the
//! cluster (Consul, Eureka, external DNS), behind a headless, selector-less Service, and the
//! controller that publishes them.
//!
//! ```yaml
//! external_services:
//!   - name: payments
//!     instances: 250
//!     zones: [us-east-1a, us-east-1b]
//!     ports: [{name: http, port: 8080}]
//!     registry: {join_per_hour: 120, leave_per_hour: 120, scale: [{at: 5m, instances: 150}]}
//!     controller: {strategy: naive, poll_interval: 30s}
//! ```

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validate::{Problems, dns_label, names_clash};
use super::{Duration, SECOND, ScenarioFile, thousands, unspanned};

/// Most instances a registry holds at once (its addresses come from 10.200.0.0/16).
pub const MAX_INSTANCES: i64 = 60_000;
/// Most registry changes per hour of each kind.
pub const MAX_PER_HOUR: f64 = 1e6;

/// One external Service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalService {
    pub name: Spanned<String>,
    #[serde(default = "super::default_namespace")]
    pub namespace: String,
    /// Instances in the registry at t = 0.
    pub instances: Spanned<i64>,
    /// The instances' zones, spread evenly (instance k in zone k mod n); default: the
    /// cluster's zones.
    #[serde(default)]
    pub zones: Option<Spanned<Vec<String>>>,
    #[serde(default = "default_ports")]
    pub ports: Spanned<Vec<ExternalPort>>,
    #[serde(default)]
    pub registry: RegistryChurn,
    #[serde(default)]
    pub controller: ExternalController,
}

impl ExternalService {
    /// The zone names, given or the cluster's.
    pub fn zone_names(&self, sf: &ScenarioFile) -> Vec<String> {
        match &self.zones {
            Some(z) => z.value.clone(),
            None => sf
                .cluster
                .zones
                .value
                .iter()
                .map(|z| z.name.value.clone())
                .collect(),
        }
    }
}

/// A port of the instances (an EndpointSlice port).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalPort {
    #[serde(default)]
    pub name: String,
    pub port: Spanned<i64>,
    #[serde(default = "super::default_protocol")]
    pub protocol: String,
}

fn default_ports() -> Spanned<Vec<ExternalPort>> {
    unspanned(vec![ExternalPort {
        name: "http".into(),
        port: unspanned(80),
        protocol: super::default_protocol(),
    }])
}

/// How the registry changes: Poisson joins, leaves and flaps, and scale steps.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryChurn {
    #[serde(default = "zero")]
    pub join_per_hour: Spanned<f64>,
    #[serde(default = "zero")]
    pub leave_per_hour: Spanned<f64>,
    /// An instance turns unhealthy for `flap_down`, then healthy again.
    #[serde(default = "zero")]
    pub flaps_per_hour: Spanned<f64>,
    #[serde(default = "default_flap_down")]
    pub flap_down: Spanned<Duration>,
    /// The registry resized to `instances` at `at` (the last-listed leave; joins append).
    #[serde(default)]
    pub scale: Vec<ScaleStep>,
    /// The registry's own seed: registries with the same seed and the same churn have the
    /// same history (to compare strategies side by side in one run). Default: drawn from the
    /// run's seed and the Service's place in the list.
    #[serde(default)]
    pub seed: Option<u64>,
}

impl Default for RegistryChurn {
    fn default() -> Self {
        RegistryChurn {
            join_per_hour: zero(),
            leave_per_hour: zero(),
            flaps_per_hour: zero(),
            flap_down: default_flap_down(),
            scale: Vec::new(),
            seed: None,
        }
    }
}

fn zero() -> Spanned<f64> {
    unspanned(0.0)
}

fn default_flap_down() -> Spanned<Duration> {
    unspanned(Duration(20 * SECOND))
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleStep {
    pub at: Duration,
    pub instances: Spanned<i64>,
}

/// How the instances reach the API server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The teaching material's controller: poll, chunks of 100 in registry order, Create then
    /// Update every chunk every poll, never delete.
    #[default]
    Naive,
    /// Stable placement, writes only what changed, deletes what is empty, owns its slices,
    /// reacts to registry events.
    Diffing,
    /// The upstream EndpointSlice reconciler's packing over the registry's instances.
    Upstream,
    /// One Endpoints object, mirrored into slices by the EndpointSliceMirroring controller.
    Mirroring,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::Naive,
        Strategy::Diffing,
        Strategy::Upstream,
        Strategy::Mirroring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Naive => "naive",
            Strategy::Diffing => "diffing",
            Strategy::Upstream => "upstream",
            Strategy::Mirroring => "mirroring",
        }
    }
}

/// The publishing controller.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalController {
    #[serde(default)]
    pub strategy: Strategy,
    /// `naive`: how often it lists the registry.
    #[serde(default = "default_poll")]
    pub poll_interval: Spanned<Duration>,
    /// `diffing`, `upstream`, `mirroring`: from a registry change to the controller's sync
    /// (a watch's delivery plus any debounce).
    #[serde(default = "default_delay")]
    pub delay: Spanned<Duration>,
    /// `naive`: instances per slice (the material's 100).
    #[serde(default = "default_chunk")]
    pub chunk: Spanned<i64>,
    /// `diffing`: endpoints per slice.
    #[serde(default = "default_chunk")]
    pub max_endpoints_per_slice: Spanned<i64>,
    /// `mirroring`: kube-controller-manager's `--mirroring-max-endpoints-per-subset`
    /// (`endpointslicemirroring`, `reconciler.reconcile`): addresses past it in one Endpoints
    /// subset are not mirrored.
    #[serde(default = "default_mirroring_max")]
    pub mirroring_max_endpoints_per_subset: Spanned<i64>,
    /// `mirroring`: the Endpoints object carries `endpointslice.kubernetes.io/skip-mirror:
    /// "true"`, so the mirroring controller leaves it alone (nothing is published).
    #[serde(default)]
    pub skip_mirror: bool,
}

impl Default for ExternalController {
    fn default() -> Self {
        ExternalController {
            strategy: Strategy::default(),
            poll_interval: default_poll(),
            delay: default_delay(),
            chunk: default_chunk(),
            max_endpoints_per_slice: default_chunk(),
            mirroring_max_endpoints_per_subset: default_mirroring_max(),
            skip_mirror: false,
        }
    }
}

fn default_poll() -> Spanned<Duration> {
    unspanned(Duration(30 * SECOND))
}

fn default_delay() -> Spanned<Duration> {
    unspanned(Duration(SECOND))
}

fn default_chunk() -> Spanned<i64> {
    unspanned(100)
}

fn default_mirroring_max() -> Spanned<i64> {
    unspanned(1000)
}

/// Most external Services in one scenario (each has its own RNG streams).
pub const MAX_EXTERNAL: usize = 500;

/// Checks the section; every problem is added to `p`.
pub(super) fn validate(sf: &ScenarioFile, p: &mut Problems<'_>) {
    if let Some(e) = sf.external_services.get(MAX_EXTERNAL) {
        p.at(
            &e.name,
            format!("external_services[{MAX_EXTERNAL}]"),
            format!("at most {MAX_EXTERNAL} external Services"),
        );
    }
    for (i, e) in sf.external_services.iter().enumerate() {
        let at = format!("external_services[{i}]");
        if let Err(why) = dns_label(&e.name.value, true) {
            p.at(
                &e.name,
                format!("{at}.name"),
                format!("{:?} is not a valid Service name: {why}", e.name.value),
            );
        }
        if let Err(why) = dns_label(&e.namespace, false) {
            p.at(
                &e.name,
                format!("{at}.namespace"),
                format!("{:?} is not a valid namespace: {why}", e.namespace),
            );
        }
        let same = |ns: &str, name: &str| ns == e.namespace && name == e.name.value;
        if let Some(j) = (0..i).find(|&j| {
            let o = &sf.external_services[j];
            same(&o.namespace, &o.name.value)
        }) {
            p.at(
                &e.name,
                format!("{at}.name"),
                format!(
                    "Service {}/{} is defined twice (also external_services[{j}])",
                    e.namespace, e.name.value
                ),
            );
        }
        if let Some(j) = sf.services.iter().position(|s| {
            s.namespace_names().contains(&e.namespace)
                && names_clash(&s.name.value, s.copies, &e.name.value, 1)
        }) {
            p.at(
                &e.name,
                format!("{at}.name"),
                format!(
                    "Service {}/{} is also services[{j}] (an external Service has no pods; \
                     give it its own name)",
                    e.namespace, e.name.value
                ),
            );
        }
        let instances = |p: &mut Problems<'_>, v: &Spanned<i64>, path: String| {
            if !(0..=MAX_INSTANCES).contains(&v.value) {
                p.at(
                    v,
                    path,
                    format!(
                        "expected 0 to {} instances, got {}",
                        thousands(MAX_INSTANCES as u64),
                        v.value
                    ),
                );
            }
        };
        instances(p, &e.instances, format!("{at}.instances"));
        let zones = e.zone_names(sf);
        if let Some(z) = &e.zones {
            if zones.is_empty() || zones.len() > usize::from(u16::MAX) {
                p.at(z, format!("{at}.zones"), "list 1 to 65,535 zones");
            }
            if let Some(bad) = zones.iter().find(|n| n.is_empty()) {
                p.at(
                    z,
                    format!("{at}.zones"),
                    format!("{bad:?} is not a zone name"),
                );
            }
        }
        if e.ports.value.is_empty() {
            p.at(&e.ports, format!("{at}.ports"), "list at least one port");
        }
        for (k, port) in e.ports.value.iter().enumerate() {
            if !(1..=65535).contains(&port.port.value) {
                p.at(
                    &port.port,
                    format!("{at}.ports[{k}].port"),
                    format!("expected a port from 1 to 65535, got {}", port.port.value),
                );
            }
        }
        let r = &e.registry;
        for (rate, name) in [
            (&r.join_per_hour, "join_per_hour"),
            (&r.leave_per_hour, "leave_per_hour"),
            (&r.flaps_per_hour, "flaps_per_hour"),
        ] {
            if !(0.0..=MAX_PER_HOUR).contains(&rate.value) {
                p.at(
                    rate,
                    format!("{at}.registry.{name}"),
                    format!("expected 0 to 1,000,000 per hour, got {}", rate.value),
                );
            }
        }
        if r.flaps_per_hour.value > 0.0 && r.flap_down.value.0 == 0 {
            p.at(
                &r.flap_down,
                format!("{at}.registry.flap_down"),
                "a flap lasts longer than 0s",
            );
        }
        for (k, step) in r.scale.iter().enumerate() {
            instances(
                p,
                &step.instances,
                format!("{at}.registry.scale[{k}].instances"),
            );
        }
        let c = &e.controller;
        if c.poll_interval.value.0 == 0 {
            p.at(
                &c.poll_interval,
                format!("{at}.controller.poll_interval"),
                "must be longer than 0s",
            );
        }
        for (v, name) in [
            (&c.chunk, "chunk"),
            (&c.max_endpoints_per_slice, "max_endpoints_per_slice"),
            (
                &c.mirroring_max_endpoints_per_subset,
                "mirroring_max_endpoints_per_subset",
            ),
        ] {
            if !(1..=1000).contains(&v.value) {
                p.at(
                    v,
                    format!("{at}.controller.{name}"),
                    format!(
                        "expected 1 to 1,000 (an EndpointSlice holds at most 1,000), got {}",
                        v.value
                    ),
                );
            }
        }
    }
}
