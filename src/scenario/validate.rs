//! Semantic validation of a parsed scenario: every problem found, each located at its field.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_saphyr::Spanned;

use super::*;

pub(super) struct Problems<'a> {
    file: &'a str,
    list: Vec<Problem>,
}

impl Problems<'_> {
    pub(super) fn at<T>(
        &mut self,
        span: &Spanned<T>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.list.push(Problem {
            file: self.file.to_string(),
            line: span.referenced.line(),
            column: span.referenced.column(),
            path: path.into(),
            message: message.into(),
        });
    }
}

/// A run name is one file name: letters, digits, `.`, `_` and `-`, not starting with `.`
/// (so never `..`, a hidden file, a path or an absolute path), at most 100 characters.
fn file_name_ok(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 100 {
        return Err("a name has 1 to 100 characters".into());
    }
    if name.starts_with('.') {
        return Err("it may not start with '.'".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(
            "only letters, digits, '.', '_' and '-' are allowed (it names the \
                    output directory results/<name>)"
                .into(),
        );
    }
    Ok(())
}

/// A file stem made into a safe run name: every other character becomes `-`.
fn safe_name(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    if s.is_empty() {
        "scenario".into()
    } else {
        s.chars().take(100).collect()
    }
}

/// Most copies of one Service entry (a cluster of a million Services is far past any real one).
pub const MAX_SERVICES: u32 = 1_000_000;
/// The largest factor of a `resize` (a Deployment a hundred times its size).
pub const MAX_RESIZE_FACTOR: f64 = 100.0;
/// Most namespaces of one Service entry (clusterloader2's 5,000-node test has 50).
pub const MAX_NAMESPACES: u32 = 10_000;
/// Most API server replicas (a cluster runs a handful).
pub const MAX_REPLICAS: u32 = 1000;
/// Most watchers in one custom group.
pub const MAX_WATCHERS: u64 = 1_000_000;

/// A DNS label as Kubernetes validates names: RFC 1035 (`[a-z]([-a-z0-9]*[a-z0-9])?`, Service
/// names: `ValidateServiceName`) or RFC 1123 (may start with a digit, namespaces:
/// `ValidateNamespaceName`); at most 63 characters.
pub(super) fn dns_label(name: &str, rfc1035: bool) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if name.is_empty() || name.len() > 63 {
        return Err(format!(
            "a name has 1 to 63 characters, this one {}",
            name.len()
        ));
    }
    if !name.chars().all(ok_char) {
        return Err("only lowercase letters, digits and '-' are allowed".into());
    }
    let first = name.chars().next().unwrap_or('-');
    if rfc1035 && !first.is_ascii_lowercase() {
        return Err("it must start with a lowercase letter".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("it must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Whether two Service entries (a name with its copies, named `<name>-0` .. when more than
/// one) define a common name. Decided without listing the copies.
pub(super) fn names_clash(a: &str, a_copies: u32, b: &str, b_copies: u32) -> bool {
    let numbered = |copies: u32| match copies {
        0 => None,
        1 => Some(None),
        n => Some(Some(0..=n - 1)),
    };
    match (numbered(a_copies), numbered(b_copies)) {
        (Some(a_range), Some(b_range)) => families_meet(a, a_range, b, b_range),
        _ => false,
    }
}

/// Whether two entries' namespaces (their `namespace`, or `<namespace>-1` .. `-N`) meet.
pub(super) fn namespaces_meet(a: &Service, b: &Service) -> bool {
    let numbered = |s: &Service| s.namespaces.map(|n| 1..=n);
    families_meet(&a.namespace, numbered(a), &b.namespace, numbered(b))
}

/// Whether two families of names meet: `a` itself (`None`) or `a-k` for k in a range, and the
/// same of `b`. Decided without listing them.
fn families_meet(
    a: &str,
    a_range: Option<std::ops::RangeInclusive<u32>>,
    b: &str,
    b_range: Option<std::ops::RangeInclusive<u32>>,
) -> bool {
    // `name` is `base-k` for a k in range (k written without leading zeros)?
    let is_member = |name: &str, base: &str, range: &std::ops::RangeInclusive<u32>| {
        name.strip_prefix(base)
            .and_then(|r| r.strip_prefix('-'))
            .filter(|k| !k.is_empty() && (k == &"0" || !k.starts_with('0')))
            .and_then(|k| k.parse::<u32>().ok())
            .is_some_and(|k| range.contains(&k))
    };
    match (a_range, b_range) {
        (None, None) => a == b,
        (None, Some(r)) => is_member(a, b, &r),
        (Some(r), None) => is_member(b, a, &r),
        // `a-k == b-j` with k, j numbers: the parts after the last '-' are equal, so a == b
        // and k == j.
        (Some(ra), Some(rb)) => a == b && ra.start().max(rb.start()) <= ra.end().min(rb.end()),
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
    text: &str,
    sf: ScenarioFile,
) -> Result<Scenario, ScenarioError> {
    let mut p = Problems {
        file,
        list: Vec::new(),
    };
    let plan = sf.sweep.as_ref().and_then(|block| {
        sweep::Plan::new(file, default_name, text, block)
            .map_err(|problems| p.list.extend(problems))
            .ok()
            .map(std::sync::Arc::new)
    });
    // The name is the default output directory `results/<name>`: one safe path component.
    if let Some(name) = &sf.name
        && let Err(why) = file_name_ok(&name.value)
    {
        p.at(
            name,
            "name",
            format!("{:?} cannot name a run: {why}", name.value),
        );
    }
    if sf.duration.value.0 == 0 {
        p.at(&sf.duration, "duration", "must be longer than 0s");
    }
    let price = &sf.cross_zone_price_per_gb;
    if !(price.value.is_finite() && price.value >= 0.0) {
        p.at(
            price,
            "cross_zone_price_per_gb",
            format!(
                "expected a non-negative price in USD per GB, got {}",
                price.value
            ),
        );
    }
    if sf.bucket.value.0 == 0 {
        p.at(&sf.bucket, "bucket", "must be longer than 0s");
    }
    for (field, d) in [
        ("scheduling_to_running", &sf.pods.scheduling_to_running),
        ("running_to_ready", &sf.pods.running_to_ready),
        ("termination_grace", &sf.pods.termination_grace),
    ] {
        match d.value {
            Distribution::Uniform { min, max } if min > max => p.at(
                d,
                format!("pods.{field}.uniform"),
                format!("min ({min}) is above max ({max})"),
            ),
            Distribution::Lognormal { median, p99 } if p99 < median => p.at(
                d,
                format!("pods.{field}.lognormal"),
                format!("p99 ({p99}) is below the median ({median})"),
            ),
            Distribution::Lognormal { median, .. } if median.0 == 0 => p.at(
                d,
                format!("pods.{field}.lognormal.median"),
                "a log-normal median must be longer than 0s",
            ),
            _ => {}
        }
    }
    let start_unix = match sf.start.value.parse::<k8s_openapi::jiff::Timestamp>() {
        Ok(t) => t.as_second(),
        Err(e) => {
            p.at(
                &sf.start,
                "start",
                format!("expected an RFC 3339 time, got {:?}: {e}", sf.start.value),
            );
            0
        }
    };

    // Cluster.
    let mut zones = BTreeSet::new();
    if sf.cluster.zones.value.is_empty() {
        p.at(
            &sf.cluster.zones,
            "cluster.zones",
            "needs at least one zone",
        );
    }
    let mut nodes_total: u64 = 0;
    for (i, z) in sf.cluster.zones.value.iter().enumerate() {
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
        // Millicores of a node: the hint ratios sum them over the cluster.
        if !(z.cpu > 0.0 && z.cpu <= 1e6) {
            p.at(
                &z.name,
                format!("cluster.zones[{i}].cpu"),
                format!(
                    "expected a positive number of cores up to 1,000,000, got {}",
                    z.cpu
                ),
            );
        }
        nodes_total += u64::from(z.nodes);
    }
    // A CIDR's address is its network's, host bits cleared, as Go's `net.ParseCIDR` gives the
    // controller manager's `--cluster-cidr` (so `10.1.2.3/16` is `10.1.0.0/16`).
    let cidr = |p: &mut Problems, s: &Spanned<String>, field: &str, want_v4: bool| match parse_cidr(
        &s.value,
    ) {
        Some((ip, len)) if ip.is_ipv4() == want_v4 => {
            let network = cidr_range(ip, len).0;
            Some((
                if want_v4 {
                    IpAddr::V4(Ipv4Addr::from(network as u32))
                } else {
                    IpAddr::V6(Ipv6Addr::from(network))
                },
                len,
            ))
        }
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
    let uses_v6 = sf
        .services
        .iter()
        .any(|s| s.ip_families.value.contains(&IpFamily::IPv6));
    if let Some((_, len)) = v6
        && len <= 64
        && uses_v6
        && 64 - u32::from(len) < 64
        && (1u64 << (64 - len)) < nodes_total
    {
        p.at(
            &sf.cluster.pod_cidr_v6,
            "cluster.pod_cidr_v6",
            format!(
                "{} has room for {} node /64s, the cluster has {nodes_total} nodes",
                sf.cluster.pod_cidr_v6.value,
                1u64 << (64 - len)
            ),
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
    let max_pods = &sf.cluster.max_pods_per_node;
    if !(1..=250).contains(&max_pods.value.0) {
        p.at(
            max_pods,
            "cluster.max_pods_per_node",
            format!(
                "expected 1 to 250 (a node's /24 holds 254 addresses), got {}",
                max_pods.value.0
            ),
        );
    }
    let capacity = nodes_total * u64::from(max_pods.value.0);
    // The first Service whose pods pass the cluster's capacity is blamed.
    let mut overflowing: Option<usize> = None;

    // Services.
    let mut total_pods: u64 = 0;
    for (i, s) in sf.services.iter().enumerate() {
        let at = format!("services[{i}]");
        // The longest name: the last copy's.
        let longest = match s.copies {
            0 | 1 => s.name.value.clone(),
            n => format!("{}-{}", s.name.value, n - 1),
        };
        if let Err(why) = dns_label(&longest, true) {
            p.at(
                &s.name,
                format!("{at}.name"),
                format!("{longest:?} is not a valid Service name: {why}"),
            );
        }
        // The longest namespace: the last numbered one's.
        let namespace = match s.namespaces {
            None => s.namespace.clone(),
            Some(n) => format!("{}-{n}", s.namespace),
        };
        if let Err(why) = dns_label(&namespace, false) {
            p.at(
                &s.name,
                format!("{at}.namespace"),
                format!("{namespace:?} is not a valid namespace: {why}"),
            );
        }
        if let Some(n) = s.namespaces
            && !(1..=MAX_NAMESPACES).contains(&n)
        {
            p.at(
                &s.name,
                format!("{at}.namespaces"),
                format!(
                    "expected 1 to {} namespaces, got {}",
                    thousands(u64::from(MAX_NAMESPACES)),
                    thousands(u64::from(n))
                ),
            );
        }
        // Copies are checked for clashes without listing them (no work per copy).
        if let Some(j) = (0..i).find(|&j| {
            let o = &sf.services[j];
            namespaces_meet(o, s) && names_clash(&o.name.value, o.copies, &s.name.value, s.copies)
        }) {
            let o = &sf.services[j];
            let message = if s.copies == 1 && o.copies == 1 {
                format!(
                    "Service {}/{} is defined twice (also services[{j}])",
                    s.namespace, s.name.value
                )
            } else {
                format!(
                    "a Service name is defined twice, here and in services[{j}] (copies are \
                     named <name>-0, <name>-1, ...)"
                )
            };
            p.at(&s.name, format!("{at}.name"), message);
        }
        if !(1..=MAX_SERVICES).contains(&s.copies) {
            p.at(
                &s.name,
                format!("{at}.copies"),
                format!(
                    "expected 1 to {} copies, got {}",
                    thousands(u64::from(MAX_SERVICES)),
                    thousands(u64::from(s.copies))
                ),
            );
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
            zone_weights(&mut p, w, &format!("{at}.zone_weights"), &zones);
        }
        let rps = &s.traffic.requests_per_second;
        if !(rps.value >= 0.0 && rps.value <= MAX_RPS) {
            p.at(
                rps,
                format!("{at}.traffic.requests_per_second"),
                format!(
                    "expected 0 to 1,000,000,000 requests per second, got {}",
                    rps.value
                ),
            );
        }
        if let Some(w) = &s.traffic.clients {
            zone_weights(&mut p, w, &format!("{at}.traffic.clients"), &zones);
        }
        // At most 2^32 * 2^32: fits, and so does the sum over entries that fit in memory;
        // saturating keeps an absurd total absurd (it is refused below).
        total_pods = total_pods.saturating_add(u64::from(s.replicas).saturating_mul(s.count()));
        if total_pods > capacity && overflowing.is_none() {
            overflowing = Some(i);
        }
    }
    if let Some(i) = overflowing {
        let s = &sf.services[i];
        let field = if s.copies > 1 { "copies" } else { "replicas" };
        p.at(
            &s.name,
            format!("services[{i}].{field}"),
            format!(
                "{} pods do not fit on {} nodes of {} pods each (cluster.max_pods_per_node)",
                thousands(total_pods),
                thousands(nodes_total),
                max_pods.value.0
            ),
        );
    }
    let service_known = |name: &str| {
        sf.services
            .iter()
            .any(|s| names_clash(&s.name.value, s.copies, name, 1))
    };

    external::validate(&sf, &mut p);

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

    if let Some(a) = &sf.apiserver
        && !(1..=MAX_REPLICAS).contains(&a.value.replicas)
    {
        p.at(
            a,
            "apiserver.replicas",
            format!(
                "expected 1 to {MAX_REPLICAS} replicas, got {}",
                a.value.replicas
            ),
        );
    }

    // Churn. Errors about an action point at the action.
    let end = sf.duration.value;
    if let Churn::Actions(actions) = &sf.churn {
        for (i, spanned) in actions.iter().enumerate() {
            let a = &spanned.value;
            let at = format!("churn[{i}].{}", a.kind());
            let here = |p: &mut Problems, field: &str, message: String| {
                let path = if field.is_empty() {
                    at.clone()
                } else {
                    format!("{at}.{field}")
                };
                p.at(spanned, path, message);
            };
            // node_delete and node_drain name their nodes or count them, within the cluster.
            let check_nodes =
                |p: &mut Problems, count: Option<u32>, nodes: &[Spanned<String>], verb: &str| {
                    if count.is_none() == nodes.is_empty() {
                        here(p, "", "give either count or nodes".into());
                    }
                    if let Some(c) = count
                        && u64::from(c) > nodes_total
                    {
                        here(
                            p,
                            "count",
                            format!("{c} nodes to {verb}, the cluster has {nodes_total}"),
                        );
                    }
                };
            let check_service = |p: &mut Problems, s: &Spanned<String>| {
                if !service_known(&s.value) {
                    p.at(
                        s,
                        format!("{at}.service"),
                        format!("unknown service {:?}", s.value),
                    );
                }
            };
            // A rate (pod_failures, readiness_flaps): non-negative, of a known Service, over
            // a window that does not end before it starts.
            let check_rate = |p: &mut Problems,
                              r: &Spanned<f64>,
                              service: &Option<Spanned<String>>,
                              from: Duration,
                              until: Option<Duration>| {
                if !r.value.is_finite() || r.value < 0.0 {
                    p.at(
                        r,
                        format!("{at}.per_hour"),
                        format!("expected a non-negative rate, got {}", r.value),
                    );
                }
                if let Some(s) = service {
                    check_service(p, s);
                }
                if until.is_some_and(|u| u < from) {
                    here(p, "until", "ends before it starts (until < from)".into());
                }
            };
            let start = a.start();
            if start > end {
                let field = match a {
                    Action::PodFailures(_) | Action::ReadinessFlaps(_) => "from",
                    _ => "at",
                };
                here(
                    &mut p,
                    field,
                    format!("starts at {start}, after the end of the run (duration: {end})"),
                );
            }
            match a {
                Action::Rollout(r) => {
                    check_service(&mut p, &r.service);
                    if r.max_surge.is_zero() && r.max_unavailable.is_zero() {
                        // apps/v1 validation: "may not be 0 when `maxSurge` is 0".
                        here(
                            &mut p,
                            "max_unavailable",
                            "max_surge and max_unavailable cannot both be 0 (Kubernetes rejects \
                             such a Deployment: the rollout could never make progress)"
                                .into(),
                        );
                    }
                }
                Action::Scale(s) => check_service(&mut p, &s.service),
                Action::Resize(r) => {
                    if let Some(s) = &r.service {
                        check_service(&mut p, s);
                    }
                    for (f, name) in [(&r.min_factor, "min_factor"), (&r.max_factor, "max_factor")]
                    {
                        if !f.value.is_finite() || !(0.0..=MAX_RESIZE_FACTOR).contains(&f.value) {
                            p.at(
                                f,
                                format!("{at}.{name}"),
                                format!(
                                    "expected a factor from 0 to {MAX_RESIZE_FACTOR}, got {}",
                                    f.value
                                ),
                            );
                        }
                    }
                    if r.max_factor.value < r.min_factor.value {
                        p.at(
                            &r.max_factor,
                            format!("{at}.max_factor"),
                            format!(
                                "is below min_factor ({} < {})",
                                r.max_factor.value, r.min_factor.value
                            ),
                        );
                    }
                }
                Action::ServiceUpdate(u) => check_service(&mut p, &u.service),
                Action::ServiceDelete(d) => check_service(&mut p, &d.service),
                Action::PodFailures(f) => {
                    check_rate(&mut p, &f.per_hour, &f.service, f.from, f.until);
                }
                Action::ReadinessFlaps(f) => {
                    check_rate(&mut p, &f.per_hour, &f.service, f.from, f.until);
                    if f.down.0 == 0 && f.per_hour.value > 0.0 {
                        here(
                            &mut p,
                            "down",
                            "a flap keeps its pod not ready for a while: expected a duration \
                             longer than 0s"
                                .into(),
                        );
                    }
                }
                Action::ZoneOutage(z) => {
                    if !zones.contains(&z.zone.value) {
                        p.at(
                            &z.zone,
                            format!("{at}.zone"),
                            format!("unknown zone {:?} (zones: {})", z.zone.value, join(&zones)),
                        );
                    }
                }
                Action::NodeDelete(d) => {
                    check_nodes(&mut p, d.count, &d.nodes, "delete");
                    match d.replace_after {
                        Some(r) if r.0 < d.pod_gc_after.0 => here(
                            &mut p,
                            "replace_after",
                            format!(
                                "a replacement joins after the pod garbage collector has \
                                 deleted the old Node's pods: expected at least pod_gc_after \
                                 ({}), got {}",
                                d.pod_gc_after, r
                            ),
                        ),
                        None if d.zone_label_after.0 > 0 => here(
                            &mut p,
                            "zone_label_after",
                            "only a replacement Node waits for its zone label: give \
                             replace_after too"
                                .into(),
                        ),
                        _ => {}
                    }
                }
                Action::NodeDrain(d) => check_nodes(&mut p, d.count, &d.nodes, "drain"),
                Action::ApiserverRestart(r) => {
                    let replicas = sf.apiserver.as_ref().map_or(1, |a| a.value.replicas);
                    if let Some(n) = r.replica
                        && n >= replicas
                    {
                        here(
                            &mut p,
                            "replica",
                            format!(
                                "no replica {n}: replicas are numbered 0 to {} (apiserver.replicas)",
                                replicas.saturating_sub(1)
                            ),
                        );
                    }
                }
            }
        }
    }
    let classes: Vec<&str> = ["kube-proxy", "coredns"]
        .into_iter()
        .chain(sf.watchers.custom.iter().map(|c| c.value.name.as_str()))
        .collect();
    for (name, r) in &sf.watchers.receive {
        if !classes.contains(&name.as_str()) {
            p.at(
                r,
                format!("watchers.receive.{name}"),
                format!("unknown watcher class (classes: {})", classes.join(", ")),
            );
        }
    }
    for (i, w) in sf.watchers.custom.iter().enumerate() {
        if !(1..=MAX_WATCHERS).contains(&u64::from(w.value.count)) {
            p.at(
                w,
                format!("watchers.custom[{i}].count"),
                format!(
                    "expected 1 to {} watchers, got {}",
                    thousands(MAX_WATCHERS),
                    thousands(u64::from(w.value.count))
                ),
            );
        }
    }

    if !p.list.is_empty() {
        return Err(ScenarioError { problems: p.list });
    }
    Ok(Scenario {
        sweep: plan,
        name: sf
            .name
            .as_ref()
            .map_or_else(|| safe_name(default_name), |n| n.value.clone()),
        source: file.to_string(),
        text: text.to_string(),
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

/// Weights per zone: known zones, finite and non-negative, one positive.
fn zone_weights(
    p: &mut Problems<'_>,
    w: &Spanned<BTreeMap<String, f64>>,
    at: &str,
    zones: &BTreeSet<String>,
) {
    for (zone, weight) in &w.value {
        if !zones.contains(zone) {
            p.at(
                w,
                at,
                format!("unknown zone {zone:?} (zones: {})", join(zones)),
            );
        }
        if !(weight.is_finite() && *weight >= 0.0) {
            p.at(
                w,
                format!("{at}.{zone}"),
                "weights are non-negative numbers",
            );
        }
    }
    if !w.value.values().any(|v| *v > 0.0) {
        p.at(w, at, "at least one weight must be positive");
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_namespaces_meet_their_members_only() {
        let svc = |ns: &str, n: Option<u32>| {
            format!(
                "  - {{name: web, namespace: {ns}{}}}\n",
                n.map_or(String::new(), |n| format!(", namespaces: {n}"))
            )
        };
        for (a, b, clash) in [
            (svc("test", Some(5)), svc("test-3", None), true),
            (svc("test", Some(5)), svc("test-6", None), false),
            (svc("test", Some(5)), svc("test", Some(2)), true),
            (svc("test", Some(5)), svc("test-1", Some(5)), false),
            (svc("test", Some(5)), svc("test", None), false),
        ] {
            let text = format!("services:\n{a}{b}");
            let r = Scenario::parse("x.yaml", "x", &text);
            assert_eq!(
                r.is_err(),
                clash,
                "{text}: {:?}",
                r.err().map(|e| e.to_string())
            );
        }
        let long = format!("services:\n{}", svc(&"n".repeat(60), Some(1000)));
        let err = Scenario::parse("x.yaml", "x", &long)
            .unwrap_err()
            .to_string();
        assert!(err.contains("services[0].namespace: \""), "{err}");
    }

    #[test]
    fn resize_factors_are_checked() {
        let text = "services: [{name: web}]\nchurn:\n  - resize: {over: 1m, min_factor: 2, max_factor: 1}\n  - resize: {over: 1m, max_factor: 1000, service: nope}\n";
        let err = Scenario::parse("x.yaml", "x", text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("churn[0].resize.max_factor: is below min_factor (1 < 2)"),
            "{err}"
        );
        assert!(
            err.contains("churn[1].resize.max_factor: expected a factor from 0 to 100"),
            "{err}"
        );
        assert!(
            err.contains("churn[1].resize.service: unknown service \"nope\""),
            "{err}"
        );
    }
}
