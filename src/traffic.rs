//! Where requests go: kube-proxy's choice of endpoints per client zone, from each Service's
//! ready endpoints by zone and zone hint over time (the EndpointSlice controller's routing
//! samples), and what crossing zones costs.
//!
//! kube-proxy (`pkg/proxy/topology.go`, `CategorizeEndpoints` / `canUseTopology`) uses a
//! Service's zone hints only when every ready endpoint has one and at least one is for the
//! client's zone; then it picks the endpoints hinted for that zone, else every ready endpoint.
//! Requests from a zone spread evenly over what it picks. The Endpoints API has no hints: its
//! row routes the same ready endpoints cluster-wide. Node hints (`PreferSameNode`) are routed
//! as zone hints (the node-local choice is left out), and the `Local` traffic policies are not
//! modelled.

use crate::cluster::{self, Node, ServiceSpec};
use crate::controllers::topology::{NO_ZONE, RoutingSample, ZoneMix};
use crate::engine::Nanos;
use crate::scenario::{SECOND, Scenario};

/// kube-proxy's routing of one Service's requests at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Route {
    /// The fraction of requests that go to an endpoint in another zone.
    pub cross: f64,
    /// The busiest endpoint's share of the requests over the mean share.
    pub load_ratio: f64,
    /// Zone hints are in use (every ready endpoint has one).
    pub hinted: bool,
}

/// Routes the requests of clients spread over zones as `clients` (weights by zone index) to
/// the ready endpoints of `mix`, with or without their hints; `None` without ready endpoints.
pub fn route(mix: &ZoneMix, clients: &[f64], use_hints: bool) -> Option<Route> {
    let total: u32 = mix.0.values().sum();
    let weight: f64 = clients.iter().sum();
    if total == 0 || weight <= 0.0 {
        return None;
    }
    let hinted = use_hints && mix.0.keys().all(|(_, hint)| *hint != NO_ZONE);
    let mut load = vec![0.0; mix.0.len()];
    let mut cross = 0.0;
    for (z, w) in clients.iter().enumerate().filter(|(_, w)| **w > 0.0) {
        let z = z as u16;
        let for_zone = hinted && mix.0.keys().any(|(_, hint)| *hint == z);
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
    let busiest = load.iter().copied().fold(0.0, f64::max);
    Some(Route {
        cross: cross / weight,
        load_ratio: busiest / (weight / f64::from(total)),
        hinted,
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
}

impl Flow {
    fn add(&mut self, route: Route, requests: f64, bytes: f64) {
        self.requests += requests;
        self.cross += requests * route.cross;
        self.cross_bytes += requests * route.cross * bytes;
        self.load += requests * route.load_ratio;
        self.hinted += if route.hinted { requests } else { 0.0 };
    }

    pub fn sum<'a>(flows: impl IntoIterator<Item = &'a Flow>) -> Flow {
        let mut s = Flow::default();
        for f in flows {
            s.requests += f.requests;
            s.cross += f.cross;
            s.cross_bytes += f.cross_bytes;
            s.load += f.load;
            s.hinted += f.hinted;
        }
        s
    }

    /// Per request: (cross-zone fraction, busiest-endpoint load ratio, hints in effect).
    pub fn fractions(&self) -> (f64, f64, f64) {
        if self.requests <= 0.0 {
            return (0.0, 0.0, 0.0);
        }
        let r = self.requests;
        (self.cross / r, self.load / r, self.hinted / r)
    }
}

/// The flows per time bucket, for the Endpoints API (cluster-wide) and the EndpointSlice API
/// (with hints), from the routing samples of the slice controller.
pub fn flows(
    sc: &Scenario,
    nodes: &[Node],
    services: &[ServiceSpec],
    samples: &[RoutingSample],
    bucket: Nanos,
    buckets: usize,
) -> [Vec<Flow>; 2] {
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
    let clients: Vec<Vec<f64>> = entries
        .iter()
        .map(|s| match &s.traffic.clients {
            None => nodes_per_zone.clone(),
            Some(w) => zones
                .iter()
                .map(|z| w.value.get(&**z).copied().unwrap_or(0.0))
                .collect(),
        })
        .collect();
    let end = sc.file.duration.value.0;
    let mut out = [
        vec![Flow::default(); buckets],
        vec![Flow::default(); buckets],
    ];
    // Each Service's samples, in time order: its state holds until its next sample.
    let mut by_service: Vec<Vec<&RoutingSample>> = vec![Vec::new(); services.len()];
    for s in samples {
        if let Some(v) = by_service.get_mut(s.service as usize) {
            v.push(s);
        }
    }
    for (service, states) in by_service.iter().enumerate() {
        let (Some(entry), Some(clients)) = (entries.get(service), clients.get(service)) else {
            continue;
        };
        let rps = entry.traffic.requests_per_second.value;
        let bytes = (entry.traffic.request_bytes.0 + entry.traffic.response_bytes.0) as f64;
        for (i, s) in states.iter().enumerate() {
            let from = s.time.min(end);
            let to = states.get(i + 1).map_or(end, |n| n.time.min(end));
            for (api, use_hints) in [(0, false), (1, true)] {
                let Some(route) = route(&s.mix, clients, use_hints) else {
                    continue;
                };
                spread(&mut out[api], from, to, bucket, |flow, secs| {
                    flow.add(route, rps * secs, bytes)
                });
            }
        }
    }
    out
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

    /// Three equal zones, 2 endpoints in each: cluster-wide, a client reaches its own zone for
    /// 2 of 6 endpoints, so 2/3 of the requests cross; with every endpoint hinted for its own
    /// zone none does, and each endpoint carries the mean load.
    #[test]
    fn three_balanced_zones() {
        let n = NO_ZONE;
        let plain = mix(&[((0, n), 2), ((1, n), 2), ((2, n), 2)]);
        let r = route(&plain, &[1.0, 1.0, 1.0], true).unwrap();
        assert!((r.cross - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.load_ratio - 1.0).abs() < 1e-12);
        assert!(!r.hinted);
        let hinted = mix(&[((0, 0), 2), ((1, 1), 2), ((2, 2), 2)]);
        let r = route(&hinted, &[1.0, 1.0, 1.0], true).unwrap();
        assert_eq!(r.cross, 0.0);
        assert!((r.load_ratio - 1.0).abs() < 1e-12);
        assert!(r.hinted);
        // The Endpoints API ignores hints.
        let r = route(&hinted, &[1.0, 1.0, 1.0], false).unwrap();
        assert!((r.cross - 2.0 / 3.0).abs() < 1e-12);
    }

    /// Clients 50/45/5 % and one endpoint per zone hinted for its own zone: the zone-c endpoint
    /// gets 5 % of the requests, zone a's 50 %: 1.5 times the mean (1/3). One endpoint without
    /// a hint turns hints off for everyone.
    #[test]
    fn unbalanced_clients_overload_an_endpoint() {
        let hinted = mix(&[((0, 0), 1), ((1, 1), 1), ((2, 2), 1)]);
        let r = route(&hinted, &[0.5, 0.45, 0.05], true).unwrap();
        assert!((r.load_ratio - 1.5).abs() < 1e-12);
        let partly = mix(&[((0, 0), 1), ((1, 1), 1), ((2, NO_ZONE), 1)]);
        let r = route(&partly, &[0.5, 0.45, 0.05], true).unwrap();
        assert!(!r.hinted);
        assert!((r.cross - 2.0 / 3.0).abs() < 1e-12);
    }

    /// A zone whose clients have no endpoint hinted for it uses every endpoint.
    #[test]
    fn a_zone_without_hinted_endpoints_goes_cluster_wide() {
        let hinted = mix(&[((0, 0), 1), ((1, 0), 1)]);
        let r = route(&hinted, &[0.0, 1.0], true).unwrap();
        // Zone-1 clients: both endpoints, one in zone 0.
        assert!((r.cross - 0.5).abs() < 1e-12);
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
