//! Semantic validation of a parsed scenario: every problem found, each located at its field.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_saphyr::Spanned;

use super::*;

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

pub(super) fn validate(
    file: &str,
    default_name: &str,
    sf: ScenarioFile,
) -> Result<Scenario, ScenarioError> {
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
