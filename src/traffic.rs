//! Where requests go: kube-proxy's choice of endpoints per client Node, from each Service's
//! ready endpoints by zone and zone hint (and, for Services that may route by Node, how they
//! sit on Nodes) over time (the EndpointSlice controller's routing samples), and what
//! crossing zones costs.
//!
//! kube-proxy (`pkg/proxy/topology.go`, `CategorizeEndpoints` / `topologyModeFromHints`)
//! uses node hints when every ready endpoint has one and one is for the client's Node, else
//! zone hints when every ready endpoint has one and one is for its zone, else every ready
//! endpoint; `internalTrafficPolicy: Local` takes the Node's own ready endpoints only, hints
//! aside. Clients spread evenly over their zone's Nodes; a Node's requests spread evenly over
//! what it picks. The Endpoints API has no hints: its row routes the same ready endpoints
//! cluster-wide (or, for `Local`, by the addresses' nodeName). Terminating endpoints, the
//! fallback when no endpoint is ready, are left out.

use std::collections::BTreeMap;

use crate::cluster::{self, Hints, Node, ServiceSpec};
use crate::controllers::topology::{NO_ZONE, NodeHist, RoutingSample, ZoneMix};
use crate::engine::Nanos;
use crate::scenario::{SECOND, Scenario};

/// kube-proxy's routing of one Service's requests at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Route {
    /// The fraction of requests that go to an endpoint in another zone.
    pub cross: f64,
    /// The busiest endpoint's share of the requests over the mean share of those served.
    pub load_ratio: f64,
    /// Topology hints (zone or node) choose the endpoints of some client.
    pub hinted: bool,
    /// The fraction of requests that find no endpoint: `Local` policy on a Node without one.
    pub dropped: f64,
}

/// Where a Service's clients are: a weight per zone, spread evenly over the zone's Nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Clients {
    pub by_zone: Vec<f64>,
    pub nodes_per_zone: Vec<f64>,
}

/// How kube-proxy may choose: with the slices' hints or without (the Endpoints API), and
/// under which internal traffic policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub use_hints: bool,
    /// `internalTrafficPolicy: Local`.
    pub local: bool,
}

/// Routes the requests of `clients` to the ready endpoints of `mix` (by zone and zone hint;
/// `by_node`, how they sit on Nodes, for Services kept per Node), as `pkg/proxy/topology.go`
/// decides per client Node: `Local` → the Node's own endpoints, or none; else the Node's own
/// when every ready endpoint has a node hint and one is for it; else its zone's when every
/// ready endpoint has a zone hint and one is for the zone; else every ready endpoint. `None`
/// without ready endpoints.
pub fn route(
    mix: &ZoneMix,
    by_node: Option<&NodeHist>,
    clients: &Clients,
    policy: Policy,
) -> Option<Route> {
    let total: u32 = mix.0.values().sum();
    let weight: f64 = clients.by_zone.iter().sum();
    if total == 0 || weight <= 0.0 {
        return None;
    }
    // Node-level choice: for Local always, for node hints when every endpoint has one.
    let node_level = by_node.filter(|h| policy.local || (policy.use_hints && h.unhinted == 0));
    let nodes_of = |z: usize| {
        clients
            .nodes_per_zone
            .get(z)
            .copied()
            .unwrap_or(0.0)
            .max(1.0)
    };
    // Per zone: the weight of its clients on a Node with an endpoint, and of the others.
    let mut rest = clients.by_zone.clone();
    let mut busiest_local = Vec::new();
    if let Some(h) = node_level {
        for ((z, k), n) in &h.by_zone {
            let z = usize::from(*z);
            let (Some(w), Some(r)) = (clients.by_zone.get(z), rest.get_mut(z)) else {
                continue;
            };
            let per_node = w / nodes_of(z);
            *r = (*r - per_node * f64::from(*n)).max(0.0);
            busiest_local.push((z as u16, per_node / f64::from(*k)));
        }
    }
    let dropped = if policy.local {
        std::mem::take(&mut rest).iter().sum()
    } else {
        0.0
    };
    let zone_hinted =
        policy.use_hints && !policy.local && mix.0.keys().all(|(_, hint)| *hint != NO_ZONE);
    let mut load = vec![0.0; mix.0.len()];
    let mut cross = 0.0;
    for (z, w) in rest.iter().enumerate().filter(|(_, w)| **w > 0.0) {
        let z = z as u16;
        let for_zone = zone_hinted && mix.0.keys().any(|(_, hint)| *hint == z);
        let picked = |hint: u16| !for_zone || hint == z;
        let size: u32 = mix
            .0
            .iter()
            .filter(|((_, hint), _)| picked(*hint))
            .map(|(_, n)| n)
            .sum();
        let away: u32 = mix
            .0
            .iter()
            .filter(|((zone, hint), _)| picked(*hint) && *zone != z)
            .map(|(_, n)| n)
            .sum();
        cross += w * f64::from(away) / f64::from(size);
        for (l, ((_, hint), _)) in load.iter_mut().zip(&mix.0) {
            if picked(*hint) {
                *l += w / f64::from(size);
            }
        }
    }
    // The busiest endpoint: of the shared choice alone, or on a Node with its own clients
    // too (plus the most the shared choice gives an endpoint of that zone).
    let shared = |zone: u16| {
        load.iter()
            .zip(mix.0.keys())
            .filter(|(_, (z, _))| *z == zone)
            .map(|(l, _)| *l)
            .fold(0.0, f64::max)
    };
    let busiest = busiest_local
        .iter()
        .map(|(z, l)| l + shared(*z))
        .chain(load.iter().copied())
        .fold(0.0, f64::max);
    let served = weight - dropped;
    Some(Route {
        cross: cross / weight,
        load_ratio: if served > 0.0 {
            busiest / (served / f64::from(total))
        } else {
            0.0
        },
        hinted: zone_hinted || (node_level.is_some() && !policy.local),
        dropped: dropped / weight,
    })
}

/// Requests and what became of them, summed over Services (and time).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flow {
    pub requests: f64,
    pub cross: f64,
    /// Bytes of the requests that crossed zones (request and response).
    pub cross_bytes: f64,
    /// Σ requests × the busiest endpoint's load ratio.
    pub load: f64,
    /// Σ requests routed by hints.
    pub hinted: f64,
    /// Σ requests that found no endpoint.
    pub dropped: f64,
}

/// A [`Flow`] per request.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fractions {
    /// Of the requests, those that crossed zones.
    pub cross: f64,
    /// The busiest endpoint's load ratio, averaged over the requests.
    pub load: f64,
    /// Of the requests, those routed by hints.
    pub hinted: f64,
    /// Of the requests, those that found no endpoint.
    pub dropped: f64,
}

impl Flow {
    fn add(&mut self, route: Route, requests: f64, bytes: f64) {
        self.requests += requests;
        self.cross += requests * route.cross;
        self.cross_bytes += requests * route.cross * bytes;
        self.load += requests * route.load_ratio;
        self.hinted += if route.hinted { requests } else { 0.0 };
        self.dropped += requests * route.dropped;
    }

    pub fn sum<'a>(flows: impl IntoIterator<Item = &'a Flow>) -> Flow {
        let mut s = Flow::default();
        for f in flows {
            s.requests += f.requests;
            s.cross += f.cross;
            s.cross_bytes += f.cross_bytes;
            s.load += f.load;
            s.hinted += f.hinted;
            s.dropped += f.dropped;
        }
        s
    }

    pub fn fractions(&self) -> Fractions {
        if self.requests <= 0.0 {
            return Fractions::default();
        }
        let r = self.requests;
        Fractions {
            cross: self.cross / r,
            load: self.load / r,
            hinted: self.hinted / r,
            dropped: self.dropped / r,
        }
    }
}

/// How kube-proxy routes a Service's requests over slices: its group in `zones.csv`.
pub fn routing_kind(spec: &ServiceSpec) -> &'static str {
    match spec.hints {
        _ if spec.local_traffic => "Local",
        Hints::Off => "no hints",
        Hints::Auto => "Auto",
        Hints::Close { same_node: false } => "PreferSameZone",
        Hints::Close { same_node: true } => "PreferSameNode",
    }
}

/// The flows per time bucket.
pub struct Flows {
    /// For the Endpoints API (cluster-wide, or Local) and the EndpointSlice API (with hints).
    pub per_api: [Vec<Flow>; 2],
    /// The EndpointSlice API's, per [`routing_kind`] of the Services.
    pub by_kind: BTreeMap<&'static str, Vec<Flow>>,
}

/// The flows per time bucket, from the routing samples of the slice controller.
pub fn flows(
    sc: &Scenario,
    nodes: &[Node],
    services: &[ServiceSpec],
    samples: &[RoutingSample],
    bucket: Nanos,
    buckets: usize,
) -> Flows {
    let zones = cluster::zone_names(nodes);
    let nodes_per_zone: Vec<f64> = zones
        .iter()
        .map(|z| nodes.iter().filter(|n| n.zone == *z).count() as f64)
        .collect();
    // Each Service's scenario entry, in the order the cluster builds them.
    let entries: Vec<&crate::scenario::Service> = sc
        .file
        .services
        .iter()
        .flat_map(|s| s.instances().map(move |_| s))
        .collect();
    let clients: Vec<Clients> = entries
        .iter()
        .map(|s| Clients {
            by_zone: match &s.traffic.clients {
                None => nodes_per_zone.clone(),
                Some(w) => zones
                    .iter()
                    .map(|z| w.value.get(&**z).copied().unwrap_or(0.0))
                    .collect(),
            },
            nodes_per_zone: nodes_per_zone.clone(),
        })
        .collect();
    let end = sc.file.duration.value.0;
    let mut per_api = [
        vec![Flow::default(); buckets],
        vec![Flow::default(); buckets],
    ];
    let mut by_kind: BTreeMap<&'static str, Vec<Flow>> = BTreeMap::new();
    // Each Service's samples, in time order: its state holds until its next sample.
    let mut by_service: Vec<Vec<&RoutingSample>> = vec![Vec::new(); services.len()];
    for s in samples {
        if let Some(v) = by_service.get_mut(s.service as usize) {
            v.push(s);
        }
    }
    for (service, states) in by_service.iter().enumerate() {
        let (Some(entry), Some(clients), Some(spec)) = (
            entries.get(service),
            clients.get(service),
            services.get(service),
        ) else {
            continue;
        };
        let rps = entry.traffic.requests_per_second.value;
        let kind = by_kind
            .entry(routing_kind(spec))
            .or_insert_with(|| vec![Flow::default(); buckets]);
        let bytes = (entry.traffic.request_bytes.0 + entry.traffic.response_bytes.0) as f64;
        for (i, s) in states.iter().enumerate() {
            let from = s.time.min(end);
            let to = states.get(i + 1).map_or(end, |n| n.time.min(end));
            for (api, use_hints) in [(0, false), (1, true)] {
                let policy = Policy {
                    use_hints,
                    local: spec.local_traffic,
                };
                let Some(route) = route(&s.mix, s.nodes.as_ref(), clients, policy) else {
                    continue;
                };
                spread(&mut per_api[api], from, to, bucket, |flow, secs| {
                    flow.add(route, rps * secs, bytes)
                });
                if api == 1 {
                    spread(kind, from, to, bucket, |flow, secs| {
                        flow.add(route, rps * secs, bytes)
                    });
                }
            }
        }
    }
    Flows { per_api, by_kind }
}

/// Calls `f` for each bucket overlapping [from, to) with the seconds of the overlap.
fn spread(
    buckets: &mut [Flow],
    from: Nanos,
    to: Nanos,
    bucket: Nanos,
    mut f: impl FnMut(&mut Flow, f64),
) {
    let mut t = from;
    while t < to {
        let b = (t / bucket) as usize;
        let Some(flow) = buckets.get_mut(b.min(buckets.len().saturating_sub(1))) else {
            return;
        };
        let next = ((b as u64 + 1) * bucket).min(to);
        f(flow, (next - t) as f64 / SECOND as f64);
        t = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(entries: &[((u16, u16), u32)]) -> ZoneMix {
        ZoneMix(entries.iter().copied().collect())
    }

    /// Clients weighted per zone, one Node per zone.
    fn zones(w: &[f64]) -> Clients {
        Clients {
            by_zone: w.to_vec(),
            nodes_per_zone: vec![1.0; w.len()],
        }
    }

    const HINTS: Policy = Policy {
        use_hints: true,
        local: false,
    };
    const PLAIN: Policy = Policy {
        use_hints: false,
        local: false,
    };
    const LOCAL: Policy = Policy {
        use_hints: true,
        local: true,
    };

    /// Three equal zones, 2 endpoints in each: cluster-wide, a client reaches its own zone for
    /// 2 of 6 endpoints, so 2/3 of the requests cross; with every endpoint hinted for its own
    /// zone none does, and each endpoint carries the mean load.
    #[test]
    fn three_balanced_zones() {
        let n = NO_ZONE;
        let plain = mix(&[((0, n), 2), ((1, n), 2), ((2, n), 2)]);
        let r = route(&plain, None, &zones(&[1.0, 1.0, 1.0]), HINTS).unwrap();
        assert!((r.cross - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.load_ratio - 1.0).abs() < 1e-12);
        assert!(!r.hinted);
        let hinted = mix(&[((0, 0), 2), ((1, 1), 2), ((2, 2), 2)]);
        let r = route(&hinted, None, &zones(&[1.0, 1.0, 1.0]), HINTS).unwrap();
        assert_eq!(r.cross, 0.0);
        assert!((r.load_ratio - 1.0).abs() < 1e-12);
        assert!(r.hinted);
        // The Endpoints API ignores hints.
        let r = route(&hinted, None, &zones(&[1.0, 1.0, 1.0]), PLAIN).unwrap();
        assert!((r.cross - 2.0 / 3.0).abs() < 1e-12);
    }

    /// Clients 50/45/5 % and one endpoint per zone hinted for its own zone: the zone-c endpoint
    /// gets 5 % of the requests, zone a's 50 %: 1.5 times the mean (1/3). One endpoint without
    /// a hint turns hints off for everyone.
    #[test]
    fn unbalanced_clients_overload_an_endpoint() {
        let hinted = mix(&[((0, 0), 1), ((1, 1), 1), ((2, 2), 1)]);
        let r = route(&hinted, None, &zones(&[0.5, 0.45, 0.05]), HINTS).unwrap();
        assert!((r.load_ratio - 1.5).abs() < 1e-12);
        let partly = mix(&[((0, 0), 1), ((1, 1), 1), ((2, NO_ZONE), 1)]);
        let r = route(&partly, None, &zones(&[0.5, 0.45, 0.05]), HINTS).unwrap();
        assert!(!r.hinted);
        assert!((r.cross - 2.0 / 3.0).abs() < 1e-12);
    }

    /// A zone whose clients have no endpoint hinted for it uses every endpoint.
    #[test]
    fn a_zone_without_hinted_endpoints_goes_cluster_wide() {
        let hinted = mix(&[((0, 0), 1), ((1, 0), 1)]);
        let r = route(&hinted, None, &zones(&[0.0, 1.0]), HINTS).unwrap();
        // Zone-1 clients: both endpoints, one in zone 0.
        assert!((r.cross - 0.5).abs() < 1e-12);
    }

    /// One zone of 4 Nodes (clients 1/4 on each); node A holds 1 endpoint, node B 3, every
    /// endpoint hinted for its zone and node. A's and B's clients stay on their Node; the
    /// other half spreads over all 4 endpoints (1/8 each): A's endpoint carries 1/4 + 1/8,
    /// 1.5 times the mean (1/4). Without the hints (the Endpoints API) each carries 1/4.
    #[test]
    fn node_hints_keep_requests_on_their_node() {
        let m = mix(&[((0, 0), 4)]);
        let hist = NodeHist {
            by_zone: [((0, 1), 1), ((0, 3), 1)].into_iter().collect(),
            unhinted: 0,
        };
        let clients = Clients {
            by_zone: vec![1.0],
            nodes_per_zone: vec![4.0],
        };
        let r = route(&m, Some(&hist), &clients, HINTS).unwrap();
        assert!((r.load_ratio - 1.5).abs() < 1e-12, "{r:?}");
        assert!(r.hinted);
        assert_eq!((r.cross, r.dropped), (0.0, 0.0));
        let r = route(&m, Some(&hist), &clients, PLAIN).unwrap();
        assert!((r.load_ratio - 1.0).abs() < 1e-12, "{r:?}");
        assert!(!r.hinted);
        // One endpoint without a node hint: zone hints only, even load.
        let partly = NodeHist {
            unhinted: 1,
            ..hist.clone()
        };
        let r = route(&m, Some(&partly), &clients, HINTS).unwrap();
        assert!((r.load_ratio - 1.0).abs() < 1e-12, "{r:?}");
        // Local: the clients of the 2 Nodes without an endpoint find none; A's endpoint takes
        // all of A's (1/4), twice the mean of what is served (1/2 over 4).
        let r = route(&m, Some(&hist), &clients, LOCAL).unwrap();
        assert!((r.dropped - 0.5).abs() < 1e-12, "{r:?}");
        assert!((r.load_ratio - 2.0).abs() < 1e-12, "{r:?}");
        assert!(!r.hinted);
        // The Endpoints API routes Local the same (its addresses carry nodeName).
        assert_eq!(
            route(
                &m,
                Some(&hist),
                &clients,
                Policy {
                    use_hints: false,
                    ..LOCAL
                }
            ),
            Some(r)
        );
    }

    /// Two zones of 2 Nodes; the only endpoint is on a Node of zone 0, node-hinted. Zone 0's
    /// other Node falls back to zone hints (the same endpoint); zone 1 has none hinted for it
    /// and goes cluster-wide: its half of the requests crosses.
    #[test]
    fn nodes_without_an_endpoint_fall_back_to_zones() {
        let m = mix(&[((0, 0), 1)]);
        let hist = NodeHist {
            by_zone: [((0, 1), 1)].into_iter().collect(),
            unhinted: 0,
        };
        let clients = Clients {
            by_zone: vec![1.0, 1.0],
            nodes_per_zone: vec![2.0, 2.0],
        };
        let r = route(&m, Some(&hist), &clients, HINTS).unwrap();
        assert!((r.cross - 0.5).abs() < 1e-12, "{r:?}");
        assert!((r.load_ratio - 1.0).abs() < 1e-12, "{r:?}");
    }

    /// A state that spans buckets is cut at their edges.
    #[test]
    fn flows_spread_over_buckets() {
        let mut b = vec![Flow::default(); 3];
        let mut seen = Vec::new();
        spread(&mut b, 5 * SECOND, 25 * SECOND, 10 * SECOND, |_, s| {
            seen.push(s)
        });
        assert_eq!(seen, [5.0, 10.0, 5.0]);
    }
}
