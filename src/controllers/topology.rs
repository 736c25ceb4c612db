//! Topology-aware hints, as the EndpointSlice controller computes them after packing:
//! the `service.kubernetes.io/topology-mode: Auto` annotation's proportional allocation
//! (`staging/src/k8s.io/endpointslice/topologycache/`: `topologycache.go`, `utils.go`,
//! `sliceinfo.go`, `event.go`) and `trafficDistribution`'s same-zone (and same-node) hints
//! (`trafficdist/trafficdist.go`); `../shared/spec/k8s-controllers.md` §3.
//!
//! The functions here decide; the controller applies what they decide to its slices (whose
//! sizes it keeps up to date). Where upstream iterates a Go map (random order), zones are taken
//! in sorted order.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::fmt;

use crate::engine::Nanos;
use crate::wire::model::ForName;

/// `overloadThreshold` (`topologycache.go`): the most an endpoint may be overloaded, 20 %.
pub const OVERLOAD_THRESHOLD: f64 = 0.2;

/// A Node as `SetNodes` reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeInfo<'a> {
    /// `topology.kubernetes.io/zone`, if set.
    pub zone: Option<&'a str>,
    /// `status.allocatable.cpu` in millicores.
    pub cpu_milli: u64,
    pub ready: bool,
    /// Labelled `node-role.kubernetes.io/control-plane` or `.../master`.
    pub control_plane: bool,
}

/// Each zone's share of the allocatable CPU of the ready, non-control-plane Nodes (`SetNodes`);
/// `None` when the information is insufficient: a counted Node without a zone or CPU, no CPU
/// at all, or fewer than two zones.
pub fn cpu_ratios<'a>(
    nodes: impl IntoIterator<Item = NodeInfo<'a>>,
) -> Option<BTreeMap<String, f64>> {
    let mut by_zone: BTreeMap<&str, u64> = BTreeMap::new();
    let mut total = 0u64;
    for n in nodes {
        if n.control_plane || !n.ready {
            continue;
        }
        match n.zone {
            Some(z) if !z.is_empty() && n.cpu_milli > 0 => {
                *by_zone.entry(z).or_default() += n.cpu_milli;
                total += n.cpu_milli;
            }
            _ => return None,
        }
    }
    if total == 0 || by_zone.len() < 2 {
        return None;
    }
    Some(
        by_zone
            .into_iter()
            .map(|(z, cpu)| (z.to_string(), cpu as f64 / total as f64))
            .collect(),
    )
}

/// Why hints are off: the reasons (and messages) of upstream's `TopologyAwareHintsDisabled`
/// events (`event.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disabled {
    InsufficientNodeInfo,
    NodesReadyInOneZoneOnly,
    InsufficientNumberOfEndpoints {
        endpoints: usize,
        zones: usize,
    },
    MinAllocationExceedsOverloadThreshold {
        endpoints: usize,
        zones: usize,
    },
    NoZoneSpecified,
    NoAllocatedHintsForZones,
    /// The annotation was removed (or changed from Auto) while hints were populated.
    AnnotationChanged,
}

impl fmt::Display for Disabled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disabled::InsufficientNodeInfo => f.write_str(
                "Insufficient Node information: allocatable CPU or zone not specified on one or \
                 more nodes",
            ),
            Disabled::NodesReadyInOneZoneOnly => f.write_str("Nodes only ready in one zone"),
            Disabled::InsufficientNumberOfEndpoints { endpoints, zones } => write!(
                f,
                "Insufficient number of endpoints ({endpoints} endpoints, {zones} zones)"
            ),
            Disabled::MinAllocationExceedsOverloadThreshold { endpoints, zones } => write!(
                f,
                "Unable to allocate minimum required endpoints to each zone without exceeding \
                 overload threshold ({endpoints} endpoints, {zones} zones)"
            ),
            Disabled::NoZoneSpecified => {
                f.write_str("One or more endpoints do not have a zone specified")
            }
            Disabled::NoAllocatedHintsForZones => f.write_str("No hints allocated for zones"),
            Disabled::AnnotationChanged => f.write_str("Topology Aware Hints has been disabled"),
        }
    }
}

/// A change of a Service's hints (per address type), as the controller's events report it:
/// `TopologyAwareHintsEnabled`, or `TopologyAwareHintsDisabled` with its message. Only
/// changes are recorded — of the state, or of the reason hints are off — and the first
/// evaluation (upstream repeats the warning at every sync that fails).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HintEvent {
    pub time: Nanos,
    pub service: u32,
    /// `None`: enabled.
    pub disabled: Option<Disabled>,
}

/// No zone, or no zone hint, in a [`ZoneMix`].
pub const NO_ZONE: u16 = u16::MAX;

/// A Service's ready endpoints (of its primary address type) by (zone, zone hint), zones as
/// indices into the cluster's zones: all kube-proxy's zone routing depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneMix(pub BTreeMap<(u16, u16), u32>);

impl ZoneMix {
    /// One more (`by` = 1) or one fewer (-1) endpoint of this (zone, hint).
    pub fn count(&mut self, key: (u16, u16), by: i32) {
        let n = self.0.entry(key).or_default();
        *n = n.saturating_add_signed(by);
        if *n == 0 {
            self.0.remove(&key);
        }
    }

    pub fn sub(&mut self, other: &ZoneMix) {
        for (k, n) in &other.0 {
            if let Some(m) = self.0.get_mut(k) {
                *m -= n;
                if *m == 0 {
                    self.0.remove(k);
                }
            }
        }
    }
}

/// How a Service's ready endpoints sit on Nodes, as far as node-local routing (node hints,
/// `internalTrafficPolicy: Local`) depends on it: per zone, how many Nodes hold `k` of them.
/// A histogram, not a list of Nodes, so that a sample costs the same at any Service size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeHist {
    /// (zone, k ≥ 1) → Nodes of that zone with exactly k ready endpoints.
    pub by_zone: BTreeMap<(u16, u32), u32>,
    /// Ready endpoints without a node hint (node-hint routing needs none).
    pub unhinted: u32,
}

/// A family's ready endpoints per Node, kept with their [`NodeHist`].
#[derive(Clone, Debug, Default)]
pub struct NodeCounts {
    per_node: HashMap<u32, u32>,
    pub hist: NodeHist,
}

impl NodeCounts {
    /// One more (`by` = 1) or one fewer (-1) ready endpoint on `node` of `zone`.
    pub fn count(&mut self, node: u32, zone: u16, node_hinted: bool, by: i32) {
        let n = self.per_node.entry(node).or_default();
        let before = *n;
        *n = n.saturating_add_signed(by);
        let after = *n;
        if after == 0 {
            self.per_node.remove(&node);
        }
        let hist = &mut self.hist.by_zone;
        for (k, d) in [(before, -1), (after, 1)] {
            if k > 0 && before != after {
                let c = hist.entry((zone, k)).or_default();
                *c = c.saturating_add_signed(d);
                if *c == 0 {
                    hist.remove(&(zone, k));
                }
            }
        }
        if !node_hinted {
            self.hist.unhinted = self.hist.unhinted.saturating_add_signed(by);
        }
    }
}

/// A Service's routing state from `time` on (after a sync that changed it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingSample {
    pub time: Nanos,
    pub service: u32,
    pub mix: ZoneMix,
    /// Kept only for Services that may route node-locally (`PreferSameNode`, `Local`).
    pub nodes: Option<NodeHist>,
}

/// What one zone should get of a Service's ready endpoints (`allocation`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Allocation {
    pub minimum: usize,
    pub maximum: usize,
    pub desired: f64,
}

/// `getAllocations`: per zone, desired = ratio × N, minimum = ⌈desired / (1 + threshold)⌉,
/// maximum = minimum + (N − Σ minimum); or why none is possible.
pub fn allocations(
    ratios: Option<&BTreeMap<String, f64>>,
    endpoints: usize,
    threshold: f64,
) -> Result<BTreeMap<String, Allocation>, Disabled> {
    let ratios = ratios.ok_or(Disabled::InsufficientNodeInfo)?;
    let zones = ratios.len();
    if zones < 2 {
        return Err(Disabled::NodesReadyInOneZoneOnly);
    }
    if zones > endpoints {
        return Err(Disabled::InsufficientNumberOfEndpoints { endpoints, zones });
    }
    let mut out = BTreeMap::new();
    let mut min_total = 0usize;
    for (zone, ratio) in ratios {
        let desired = ratio * endpoints as f64;
        let minimum = (desired * (1.0 / (1.0 + threshold))).ceil() as usize;
        min_total += minimum;
        if min_total > endpoints {
            return Err(Disabled::MinAllocationExceedsOverloadThreshold { endpoints, zones });
        }
        out.insert(
            zone.clone(),
            Allocation {
                minimum,
                maximum: 0,
                desired: desired.max(minimum as f64),
            },
        );
    }
    for a in out.values_mut() {
        a.maximum = a.minimum + endpoints - min_total;
    }
    Ok(out)
}

/// `getGivingAndReceivingZones`: whole endpoints each zone gives and receives so that the
/// tallies approach the desired numbers. The largest surplus gives to the largest deficit, one
/// at a time, while both are at least 0.5 and one of them at least 1 (`getMost`: the first
/// zone of the largest value).
pub fn giving_and_receiving(
    allocations: &BTreeMap<String, Allocation>,
    tallies: &BTreeMap<String, usize>,
) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut surplus: BTreeMap<&str, f64> = BTreeMap::new();
    let mut deficit: BTreeMap<&str, f64> = BTreeMap::new();
    for (zone, a) in allocations {
        let have = tallies.get(zone).copied().unwrap_or(0) as f64;
        if have > a.desired {
            surplus.insert(zone, have - a.desired);
        } else if have < a.desired {
            deficit.insert(zone, a.desired - have);
        }
    }
    fn most<'z>(m: &BTreeMap<&'z str, f64>) -> Option<(&'z str, f64)> {
        m.iter()
            .fold(None, |best: Option<(&str, f64)>, (z, n)| match best {
                Some((_, b)) if *n <= b => best,
                _ if *n > 0.0 => Some((z, *n)),
                _ => best,
            })
    }
    let (mut giving, mut receiving) = (BTreeMap::new(), BTreeMap::new());
    while let (Some((g, give)), Some((r, receive))) = (most(&surplus), most(&deficit)) {
        if (give < 1.0 && receive < 1.0) || give < 0.5 || receive < 0.5 {
            break;
        }
        *giving.entry(g.to_string()).or_default() += 1;
        *surplus.get_mut(g).expect("a zone of the map") -= 1.0;
        *receiving.entry(r.to_string()).or_default() += 1;
        *deficit.get_mut(r).expect("a zone of the map") -= 1.0;
    }
    (giving, receiving)
}

/// An endpoint as the hint logic reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen<'a> {
    pub ready: bool,
    pub zone: Option<&'a str>,
    /// Its zone hints (`hints.forZones`), as stored.
    pub hinted: &'a [ForName],
}

/// `getHintsByZone`: an unchanged slice's hints per zone, if they may stay: every ready
/// endpoint hinted, for zones that have an allocation, without taking any zone past its
/// maximum with what is `accepted` already.
pub fn valid_hints(
    slice: &[Seen<'_>],
    accepted: &BTreeMap<String, usize>,
    allocations: &BTreeMap<String, Allocation>,
) -> Option<BTreeMap<String, usize>> {
    let mut by_zone: BTreeMap<String, usize> = BTreeMap::new();
    for e in slice.iter().filter(|e| e.ready) {
        if e.hinted.is_empty() {
            return None;
        }
        for z in e.hinted {
            if !allocations.contains_key(&z.name) {
                return None;
            }
            *by_zone.entry(z.name.clone()).or_default() += 1;
        }
    }
    for (zone, n) in &by_zone {
        let a = allocations.get(zone)?;
        if n + accepted.get(zone).copied().unwrap_or(0) > a.maximum {
            return None;
        }
    }
    Some(by_zone)
}

/// What `AddHints` decided for one sync of one address type.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Unchanged slices (by index) whose hints are no longer valid: they join the updates.
    pub rewrite: Vec<usize>,
    /// Per written slice (the creates, the updates, then the rewritten unchanged slices, in
    /// that order) and endpoint: the zone hint it gets, `None` for none. A not-ready endpoint
    /// keeps what it has (`keep`).
    pub hints: Vec<Vec<Hint>>,
    /// Hints in effect per zone after this sync (`EndpointZoneInfo`); empty when off.
    pub tallies: BTreeMap<String, usize>,
    /// Why hints were removed, when they were.
    pub disabled: Option<Disabled>,
}

/// What an endpoint's zone hint becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// Left as it is (not-ready endpoints: upstream's local-copy bug leaves them alone).
    Keep,
    None,
    Zone(String),
}

/// `AddHints`: `written` are the slices the sync creates or updates, `unchanged` the others,
/// each a list of endpoints. On failure every written slice loses its hints and every
/// unchanged slice that has any is rewritten without them (`RemoveHintsFromSlices`).
pub fn add_hints(
    ratios: Option<&BTreeMap<String, f64>>,
    threshold: f64,
    written: &[Vec<Seen<'_>>],
    unchanged: &[Vec<Seen<'_>>],
) -> Decision {
    let ready = |s: &Vec<Seen<'_>>| s.iter().filter(|e| e.ready).count();
    let total: usize = written.iter().chain(unchanged).map(ready).sum();
    let allocations = match allocations(ratios, total, threshold) {
        Ok(a) => a,
        Err(why) => return remove_hints(written, unchanged, &[], why),
    };
    // Unchanged slices keep valid hints; the others are written too.
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    let mut rewrite = Vec::new();
    for (i, s) in unchanged.iter().enumerate() {
        match valid_hints(s, &accepted, &allocations) {
            Some(by_zone) => {
                for (z, n) in by_zone {
                    *accepted.entry(z).or_default() += n;
                }
            }
            None => rewrite.push(i),
        }
    }
    let slices: Vec<&Vec<Seen<'_>>> = written
        .iter()
        .chain(rewrite.iter().map(|i| &unchanged[*i]))
        .collect();
    // Step 1: every ready endpoint hinted for its own zone.
    let mut hints: Vec<Vec<Hint>> = Vec::with_capacity(slices.len());
    for s in &slices {
        let mut row = Vec::with_capacity(s.len());
        for e in s.iter() {
            if !e.ready {
                row.push(Hint::Keep);
                continue;
            }
            match e.zone.filter(|z| !z.is_empty()) {
                Some(z) => {
                    *accepted.entry(z.to_string()).or_default() += 1;
                    row.push(Hint::Zone(z.to_string()));
                }
                None => {
                    return remove_hints(written, unchanged, &rewrite, Disabled::NoZoneSpecified);
                }
            }
        }
        hints.push(row);
    }
    // Steps 2 and 3: surplus zones give endpoints of the written slices to deficit zones.
    let (mut giving, mut receiving) = giving_and_receiving(&allocations, &accepted);
    'slices: for (s, row) in slices.iter().zip(hints.iter_mut()) {
        for (e, hint) in s.iter().zip(row.iter_mut()) {
            if !e.ready {
                continue;
            }
            if giving.is_empty() || receiving.is_empty() {
                break 'slices;
            }
            let Some(zone) = e.zone else { continue };
            if giving.get(zone).is_some_and(|n| *n > 0) {
                let Some(to) = receiving
                    .iter()
                    .find(|(_, n)| **n > 0)
                    .map(|(z, _)| z.clone())
                else {
                    continue;
                };
                *hint = Hint::Zone(to.clone());
                for (map, z) in [(&mut giving, zone), (&mut receiving, to.as_str())] {
                    let n = map.get_mut(z).expect("a zone of the map");
                    *n -= 1;
                    if *n == 0 {
                        map.remove(z);
                    }
                }
                *accepted.entry(to).or_default() += 1;
                *accepted.get_mut(zone).expect("tallied in step 1") -= 1;
            }
        }
    }
    if accepted.is_empty() {
        return remove_hints(
            written,
            unchanged,
            &rewrite,
            Disabled::NoAllocatedHintsForZones,
        );
    }
    Decision {
        rewrite,
        hints,
        tallies: accepted,
        disabled: None,
    }
}

/// `RemoveHintsFromSlices`: the written slices (with the unchanged ones already moved to the
/// writes, `moved`) lose every hint; each other unchanged slice that has any is rewritten
/// without them.
pub fn remove_hints(
    written: &[Vec<Seen<'_>>],
    unchanged: &[Vec<Seen<'_>>],
    moved: &[usize],
    why: Disabled,
) -> Decision {
    let mut rewrite = moved.to_vec();
    rewrite.extend(
        unchanged
            .iter()
            .enumerate()
            .filter(|(i, s)| !moved.contains(i) && s.iter().any(|e| !e.hinted.is_empty()))
            .map(|(i, _)| i),
    );
    let hints = written
        .iter()
        .chain(rewrite.iter().map(|i| &unchanged[*i]))
        .map(|s| vec![Hint::None; s.len()])
        .collect();
    Decision {
        rewrite,
        hints,
        tallies: BTreeMap::new(),
        disabled: Some(why),
    }
}

/// `serviceOverloaded`: after the Nodes change, a Service whose hints are in effect needs a
/// sync when the ratios are gone, a zone has no hinted endpoint, or a zone has fewer than
/// ⌈total × ratio / (1 + threshold)⌉.
pub fn overloaded(
    tallies: &BTreeMap<String, usize>,
    ratios: Option<&BTreeMap<String, f64>>,
    threshold: f64,
) -> bool {
    if tallies.is_empty() {
        return false;
    }
    let Some(ratios) = ratios.filter(|r| !r.is_empty()) else {
        return true;
    };
    let total: usize = tallies.values().sum();
    ratios.iter().any(|(zone, ratio)| match tallies.get(zone) {
        None => true,
        Some(n) => (*n as f64) < (total as f64 * ratio * (1.0 / (1.0 + threshold))).ceil(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratios(r: &[(&str, f64)]) -> BTreeMap<String, f64> {
        r.iter().map(|(z, v)| (z.to_string(), *v)).collect()
    }

    fn counts(c: &[(&str, usize)]) -> BTreeMap<String, usize> {
        c.iter().map(|(z, v)| (z.to_string(), *v)).collect()
    }

    fn node(zone: &str, cpu_milli: u64) -> NodeInfo<'_> {
        NodeInfo {
            zone: Some(zone),
            cpu_milli,
            ready: true,
            control_plane: false,
        }
    }

    fn ready(zone: &str) -> Seen<'_> {
        Seen {
            ready: true,
            zone: Some(zone),
            hinted: &[],
        }
    }

    /// V26 (`topologycache_test`, SetNodes): a 1000 + 1000 + 1000 + 2000 m, b 3000 + 1500 m,
    /// c 500 m → 0.5 / 0.45 / 0.05; one zone, or a zone whose only node is unready or control
    /// plane → insufficient; an extra unready node does not count.
    #[test]
    fn v26_set_nodes() {
        let nodes = [
            node("a", 1000),
            node("a", 1000),
            node("a", 1000),
            node("a", 2000),
            node("b", 3000),
            node("b", 1500),
            node("c", 500),
        ];
        let r = cpu_ratios(nodes).unwrap();
        assert_eq!(r, ratios(&[("a", 0.5), ("b", 0.45), ("c", 0.05)]));
        assert_eq!(cpu_ratios([node("a", 1000)]), None);
        assert_eq!(cpu_ratios([node("a", 1000), node("a", 2000)]), None);
        for off in [
            NodeInfo {
                ready: false,
                ..node("b", 1000)
            },
            NodeInfo {
                control_plane: true,
                ..node("b", 1000)
            },
        ] {
            assert_eq!(cpu_ratios([node("a", 1000), off]), None);
            let r = cpu_ratios([node("a", 1000), node("b", 1000), off]).unwrap();
            assert_eq!(r, ratios(&[("a", 0.5), ("b", 0.5)]));
        }
        let no_zone = NodeInfo {
            zone: None,
            ..node("x", 1000)
        };
        assert_eq!(cpu_ratios([node("a", 1), node("b", 1), no_zone]), None);
        assert_eq!(cpu_ratios([node("a", 1), node("b", 1), node("c", 0)]), None);
    }

    /// V25 (`utils_test`, getGivingAndReceivingZones).
    #[test]
    fn v25_giving_and_receiving() {
        let alloc = |d: &[(&str, f64)]| -> BTreeMap<String, Allocation> {
            d.iter()
                .map(|(z, desired)| {
                    let a = Allocation {
                        minimum: 0,
                        maximum: 0,
                        desired: *desired,
                    };
                    (z.to_string(), a)
                })
                .collect()
        };
        for (desired, tallies, giving, receiving) in [
            (
                alloc(&[("a", 5.1), ("b", 5.1), ("c", 5.8)]),
                counts(&[("a", 16)]),
                counts(&[("a", 10)]),
                counts(&[("b", 5), ("c", 5)]),
            ),
            (
                alloc(&[("a", 5.0), ("b", 5.6), ("c", 5.4)]),
                counts(&[("a", 16)]),
                counts(&[("a", 11)]),
                counts(&[("b", 6), ("c", 5)]),
            ),
            (
                alloc(&[("a", 5.0), ("b", 5.6), ("c", 5.4)]),
                counts(&[("b", 8), ("c", 8)]),
                counts(&[("b", 2), ("c", 3)]),
                counts(&[("a", 5)]),
            ),
            (
                alloc(&[("a", 1.2), ("b", 1.1), ("c", 1.0)]),
                counts(&[("a", 1), ("b", 1), ("c", 1)]),
                counts(&[]),
                counts(&[]),
            ),
        ] {
            assert_eq!(
                giving_and_receiving(&desired, &tallies),
                (giving, receiving)
            );
        }
    }

    /// V23 ("slices to create and update within 3 zone threshold"): ratios .35/.35/.30, ten
    /// ready endpoints a 5, b 2, c 3, the first (of the first slice to create) in zone a:
    /// desired 3.5/3.5/3.0, one endpoint moves a → b, and it is that first one.
    #[test]
    fn v23_redistribution() {
        let r = ratios(&[("a", 0.35), ("b", 0.35), ("c", 0.30)]);
        let create = vec![ready("a"), ready("a"), ready("b"), ready("c")];
        let update = vec![
            ready("a"),
            ready("a"),
            ready("a"),
            ready("b"),
            ready("c"),
            ready("c"),
        ];
        let d = add_hints(Some(&r), OVERLOAD_THRESHOLD, &[create, update], &[]);
        assert_eq!(d.disabled, None);
        assert_eq!(d.hints[0][0], Hint::Zone("b".into()));
        assert_eq!(d.hints[0][1], Hint::Zone("a".into()));
        assert_eq!(d.tallies, counts(&[("a", 4), ("b", 3), ("c", 3)]));
    }

    /// V24: 3 zones and 2 endpoints → "Insufficient number of endpoints"; 2 zones (.45/.55)
    /// and one endpoint in each → each hinted for its own zone, the not-ready ones left alone.
    #[test]
    fn v24_rejections() {
        let r = ratios(&[("a", 0.3), ("b", 0.4), ("c", 0.3)]);
        let d = add_hints(
            Some(&r),
            OVERLOAD_THRESHOLD,
            &[vec![ready("a"), ready("b")]],
            &[],
        );
        assert_eq!(
            d.disabled,
            Some(Disabled::InsufficientNumberOfEndpoints {
                endpoints: 2,
                zones: 3
            })
        );
        assert_eq!(d.hints, vec![vec![Hint::None, Hint::None]]);
        assert_eq!(
            d.disabled.unwrap().to_string(),
            "Insufficient number of endpoints (2 endpoints, 3 zones)"
        );

        let r = ratios(&[("a", 0.45), ("b", 0.55)]);
        let not_ready = Seen {
            ready: false,
            zone: Some("a"),
            hinted: &[],
        };
        let d = add_hints(
            Some(&r),
            OVERLOAD_THRESHOLD,
            &[vec![ready("a"), ready("b"), not_ready]],
            &[],
        );
        assert_eq!(
            d.hints,
            vec![vec![
                Hint::Zone("a".into()),
                Hint::Zone("b".into()),
                Hint::Keep
            ]]
        );
    }

    /// V19: 3 equal zones, 3 endpoints all in zone c → desired 1 each; one endpoint stays,
    /// two are hinted across zones. V20: 4 endpoints over 3 zones → minimum 2 per zone, 6 > 4.
    #[test]
    fn v19_v20_allocation() {
        let third = 1.0 / 3.0;
        let r = ratios(&[("a", third), ("b", third), ("c", third)]);
        let d = add_hints(
            Some(&r),
            OVERLOAD_THRESHOLD,
            &[vec![ready("c"), ready("c"), ready("c")]],
            &[],
        );
        assert_eq!(d.tallies, counts(&[("a", 1), ("b", 1), ("c", 1)]));
        let cross = d.hints[0]
            .iter()
            .filter(|h| **h != Hint::Zone("c".into()))
            .count();
        assert_eq!(cross, 2);

        let four = vec![ready("a"), ready("a"), ready("c"), ready("c")];
        let d = add_hints(Some(&r), OVERLOAD_THRESHOLD, &[four], &[]);
        assert_eq!(
            d.disabled,
            Some(Disabled::MinAllocationExceedsOverloadThreshold {
                endpoints: 4,
                zones: 3
            })
        );
    }

    /// #122437: 11 endpoints over 3 equal zones → minimum ⌈(11/3)/1.2⌉ = 4 per zone, 12 > 11:
    /// no hints; 12 endpoints → minimum 4, 12 ≤ 12: hints.
    #[test]
    fn eleven_endpoints_over_three_equal_zones_get_no_hints() {
        let third = 1.0 / 3.0;
        let r = ratios(&[("a", third), ("b", third), ("c", third)]);
        let a = allocations(Some(&r), 11, OVERLOAD_THRESHOLD);
        assert_eq!(
            a,
            Err(Disabled::MinAllocationExceedsOverloadThreshold {
                endpoints: 11,
                zones: 3
            })
        );
        let a = allocations(Some(&r), 12, OVERLOAD_THRESHOLD).unwrap();
        assert!(a.values().all(|a| a.minimum == 4 && a.maximum == 4));
    }

    /// Valid hints of unchanged slices stay and count; invalid ones (a ready endpoint without
    /// a hint, a zone past its maximum) make the slice a write.
    #[test]
    fn unchanged_slices_keep_valid_hints_only() {
        let r = ratios(&[("a", 0.5), ("b", 0.5)]);
        let for_name = |z: &str| {
            vec![ForName {
                name: z.to_string(),
            }]
        };
        let (ha, hb) = (&for_name("a")[..], &for_name("b")[..]);
        let hinted = |zone, hinted| Seen {
            ready: true,
            zone: Some(zone),
            hinted,
        };
        let good = vec![hinted("a", ha), hinted("b", hb)];
        let unhinted = vec![ready("a"), ready("b")];
        let d = add_hints(Some(&r), OVERLOAD_THRESHOLD, &[], &[good.clone(), unhinted]);
        assert_eq!(d.rewrite, vec![1]);
        assert_eq!(d.tallies, counts(&[("a", 2), ("b", 2)]));
        // 4 endpoints, minimum 2 per zone, maximum 2: a slice with three a-hints cannot stay.
        let skewed = vec![hinted("a", ha), hinted("a", ha), hinted("a", ha)];
        let d = add_hints(
            Some(&r),
            OVERLOAD_THRESHOLD,
            &[],
            &[skewed, vec![ready("b")]],
        );
        assert_eq!(d.rewrite, vec![0, 1]);
    }

    /// A Service is overloaded when a zone falls below its minimum or has no hinted endpoint.
    #[test]
    fn overload_check() {
        let r = ratios(&[("a", 0.5), ("b", 0.5)]);
        assert!(!overloaded(&counts(&[("a", 5), ("b", 5)]), Some(&r), 0.2));
        assert!(overloaded(&counts(&[("a", 8), ("b", 2)]), Some(&r), 0.2));
        assert!(overloaded(&counts(&[("a", 10)]), Some(&r), 0.2));
        assert!(overloaded(&counts(&[("a", 5), ("b", 5)]), None, 0.2));
        assert!(!overloaded(&counts(&[]), None, 0.2));
    }
}
