//! A service registry's instances over time: the instances at t = 0, then joins, leaves,
//! flaps (an instance unhealthy for a while) and scale steps, each a Poisson process or a
//! fixed step, drawn from the run's seed and the Service's own stream.
//!
//! The registry keeps its instances in list order, as a registry API returns them: a join
//! appends, a leave removes from wherever the instance is (every later instance moves up),
//! a scale-down removes the last-listed instances and a scale-up appends. A poll sees the
//! healthy instances in that order. A leave costs a walk of the list (it must keep the order
//! every later instance shifts in); a poll walks it anyway.

use std::net::Ipv4Addr;

use rand::Rng as _;
use rand_distr::{Distribution, Exp};

use crate::engine::{self, Nanos};

/// The RNG stream of the first external Service's registry (the cluster uses 0 to 3); the
/// `index`-th uses `STREAM_BASE + index`.
pub const STREAM_BASE: u64 = 1000;

/// How a registry changes (a scenario's `registry:` block, checked).
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Instances at t = 0.
    pub instances: u32,
    /// Zones, in order; instance k is in zone k mod n.
    pub zones: u16,
    pub join_per_hour: f64,
    pub leave_per_hour: f64,
    pub flaps_per_hour: f64,
    /// How long a flapping instance stays unhealthy.
    pub flap_down: Nanos,
    /// (time, instances): the registry is resized to that many at that time.
    pub scale: Vec<(Nanos, u32)>,
}

/// One instance: its id (in order of joining), address and zone index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    pub id: u32,
    pub address: Ipv4Addr,
    pub zone: u16,
}

impl Instance {
    /// Instance `id` of a registry over `zones` zones.
    pub fn new(id: u32, zones: u16) -> Instance {
        Instance {
            id,
            address: address_of(id),
            zone: (id % u32::from(zones.max(1))) as u16,
        }
    }
}

/// The address of instance `id`: from 10.200.0.0 upward, outside the cluster's pod ranges.
pub fn address_of(id: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a_c8_00_00u32.wrapping_add(id))
}

/// An address as text (what a slice or an Endpoints object carries), formatted without the
/// formatting machinery.
pub fn address_text(a: Ipv4Addr) -> String {
    let mut s = String::with_capacity(15);
    crate::digits::push_ipv4(&mut s, a);
    s
}

/// A change of the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Join(Instance),
    Leave(u32),
    Down(u32),
    Up(u32),
}

/// The instances at t = 0 and every change after, in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub initial: Vec<Instance>,
    pub changes: Vec<(Nanos, Change)>,
}

/// The registry as it stands: instances in list order, and which are healthy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Registry {
    list: Vec<(Instance, bool)>,
}

impl Registry {
    pub fn new(initial: &[Instance]) -> Registry {
        Registry {
            list: initial.iter().map(|i| (*i, true)).collect(),
        }
    }

    pub fn apply(&mut self, change: Change) {
        let find = |list: &[(Instance, bool)], id| list.iter().position(|(i, _)| i.id == id);
        match change {
            Change::Join(i) => self.list.push((i, true)),
            Change::Leave(id) => {
                if let Some(k) = find(&self.list, id) {
                    self.list.remove(k);
                }
            }
            Change::Down(id) | Change::Up(id) => {
                if let Some(k) = find(&self.list, id) {
                    self.list[k].1 = matches!(change, Change::Up(_));
                }
            }
        }
    }

    /// What a poll returns: the healthy instances, in list order.
    pub fn healthy(&self) -> impl Iterator<Item = &Instance> {
        self.list.iter().filter(|(_, h)| *h).map(|(i, _)| i)
    }

    /// Every instance, healthy or not, in list order.
    pub fn all(&self) -> impl Iterator<Item = &Instance> {
        self.list.iter().map(|(i, _)| i)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Draws a registry's history until `end` with `rng` (the Service's own stream).
pub fn history(spec: &Spec, mut rng: engine::Rng, end: Nanos) -> History {
    let initial: Vec<Instance> = (0..spec.instances)
        .map(|id| Instance::new(id, spec.zones))
        .collect();
    let mut next_id = spec.instances;
    // Each process's next time; a rate of 0 never fires.
    let hour = 3600e9;
    let next = |rng: &mut engine::Rng, t: Nanos, per_hour: f64| -> Option<Nanos> {
        (per_hour > 0.0).then(|| {
            let gap = Exp::new(per_hour / hour).map_or(hour, |e| e.sample(rng));
            t.saturating_add(gap.ceil() as Nanos)
        })
    };
    let mut at = [
        next(&mut rng, 0, spec.join_per_hour),
        next(&mut rng, 0, spec.leave_per_hour),
        next(&mut rng, 0, spec.flaps_per_hour),
    ];
    let mut scale = spec.scale.clone();
    scale.sort_by_key(|(t, _)| *t);
    let mut scale = scale.into_iter().peekable();
    let mut reg = Registry::new(&initial);
    // Flapped instances coming back: (time, id).
    let mut ups: Vec<(Nanos, u32)> = Vec::new();
    let mut changes = Vec::new();
    loop {
        let up = ups.iter().map(|u| u.0).min();
        let step = scale.peek().map(|s| s.0);
        let t = at.iter().flatten().copied().chain(up).chain(step).min();
        let Some(t) = t.filter(|t| *t < end) else {
            break;
        };
        let mut record = |reg: &mut Registry, c: Change| {
            reg.apply(c);
            changes.push((t, c));
        };
        if up == Some(t) {
            let k = ups.iter().position(|u| u.0 == t).unwrap_or(0);
            let (_, id) = ups.remove(k);
            if reg.all().any(|i| i.id == id) {
                record(&mut reg, Change::Up(id));
            }
        } else if step == Some(t) {
            let (_, target) = scale.next().unwrap_or((t, 0));
            while reg.len() > target as usize {
                let Some(last) = reg.all().last().map(|i| i.id) else {
                    break;
                };
                record(&mut reg, Change::Leave(last));
            }
            while reg.len() < target as usize {
                let i = Instance::new(next_id, spec.zones);
                next_id += 1;
                record(&mut reg, Change::Join(i));
            }
        } else if at[0] == Some(t) {
            let i = Instance::new(next_id, spec.zones);
            next_id += 1;
            record(&mut reg, Change::Join(i));
            at[0] = next(&mut rng, t, spec.join_per_hour);
        } else if at[1] == Some(t) {
            if !reg.is_empty() {
                let k = rng.random_range(0..reg.len());
                let id = reg.all().nth(k).map_or(0, |i| i.id);
                record(&mut reg, Change::Leave(id));
            }
            at[1] = next(&mut rng, t, spec.leave_per_hour);
        } else {
            let healthy: Vec<u32> = reg.healthy().map(|i| i.id).collect();
            if !healthy.is_empty() {
                let id = healthy[rng.random_range(0..healthy.len())];
                record(&mut reg, Change::Down(id));
                ups.push((t.saturating_add(spec.flap_down), id));
            }
            at[2] = next(&mut rng, t, spec.flaps_per_hour);
        }
    }
    History { initial, changes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SECOND;

    fn spec() -> Spec {
        Spec {
            instances: 250,
            zones: 2,
            join_per_hour: 120.0,
            leave_per_hour: 120.0,
            flaps_per_hour: 30.0,
            flap_down: 20 * SECOND,
            scale: Vec::new(),
        }
    }

    fn replay(h: &History) -> Registry {
        let mut r = Registry::new(&h.initial);
        for (_, c) in &h.changes {
            r.apply(*c);
        }
        r
    }

    #[test]
    fn the_same_seed_and_index_give_the_same_history() {
        let end = 3600 * SECOND;
        assert_eq!(
            history(&spec(), engine::rng(5, 0), end),
            history(&spec(), engine::rng(5, 0), end)
        );
        assert_ne!(
            history(&spec(), engine::rng(5, 0), end),
            history(&spec(), engine::rng(5, 1), end)
        );
    }

    /// Over 10 hours, joins and leaves come at about their rates (1,200 each expected; a
    /// Poisson count's standard deviation is about 35).
    #[test]
    fn rates_hold_over_a_long_run() {
        let h = history(&spec(), engine::rng(9, 0), 36_000 * SECOND);
        let count = |f: fn(&Change) -> bool| h.changes.iter().filter(|(_, c)| f(c)).count();
        let joins = count(|c| matches!(c, Change::Join(_)));
        let leaves = count(|c| matches!(c, Change::Leave(_)));
        let downs = count(|c| matches!(c, Change::Down(_)));
        assert!((1090..=1310).contains(&joins), "{joins}");
        assert!((1090..=1310).contains(&leaves), "{leaves}");
        assert!((240..=360).contains(&downs), "{downs}");
        // Every flap ends 20 s later, unless its instance left meanwhile or the run ended.
        let ups = count(|c| matches!(c, Change::Up(_)));
        assert!(ups <= downs && downs - ups < 10, "{downs} {ups}");
        assert!(h.changes.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    /// 250 → 150 at 5m: the last-listed 100 leave (ids 150..249), nothing else changes.
    #[test]
    fn a_scale_down_removes_the_last_listed() {
        let s = Spec {
            join_per_hour: 0.0,
            leave_per_hour: 0.0,
            flaps_per_hour: 0.0,
            scale: vec![(300 * SECOND, 150)],
            ..spec()
        };
        let h = history(&s, engine::rng(1, 0), 600 * SECOND);
        let left: Vec<u32> = h
            .changes
            .iter()
            .map(|(t, c)| {
                assert_eq!(*t, 300 * SECOND);
                match c {
                    Change::Leave(id) => *id,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(left, (150..250).rev().collect::<Vec<_>>());
        let r = replay(&h);
        assert_eq!(
            r.all().map(|i| i.id).collect::<Vec<_>>(),
            (0..150).collect::<Vec<_>>()
        );
    }

    /// A leave from the middle moves every later instance up the list; a down instance is
    /// still listed but not returned by a poll; zones alternate; addresses are distinct.
    #[test]
    fn the_registry_keeps_list_order() {
        let initial: Vec<Instance> = (0..5).map(|id| Instance::new(id, 2)).collect();
        let mut r = Registry::new(&initial);
        r.apply(Change::Leave(1));
        r.apply(Change::Down(3));
        r.apply(Change::Join(Instance::new(5, 2)));
        assert_eq!(r.all().map(|i| i.id).collect::<Vec<_>>(), [0, 2, 3, 4, 5]);
        assert_eq!(r.healthy().map(|i| i.id).collect::<Vec<_>>(), [0, 2, 4, 5]);
        r.apply(Change::Up(3));
        assert_eq!(r.healthy().count(), 5);
        assert_eq!(initial[1].zone, 1);
        assert_eq!(initial[2].zone, 0);
        assert_eq!(Instance::new(256, 2).address, Ipv4Addr::new(10, 200, 1, 0));
    }
}
