//! How far what the EndpointSlices publish lags the registry: a pass over the registry's
//! changes and the stored slices' changes, in time order (at equal times the registry first:
//! a write at `t` can reflect a change at `t`).
//!
//! An address is *consistent* when it is published (in a stored slice, at least once) exactly
//! when its instance is healthy in the registry. *Stale*: published, not healthy (it left or
//! flapped). *Missing*: healthy, not published. The *staleness* of a registry change is the
//! time until its address is next consistent (the run's end when never: those count as
//! lasting to the end).

use std::net::Ipv4Addr;

use rustc_hash::{FxHashMap, FxHashSet};

use super::registry::{Change, Instance, address_of};
use crate::engine::Nanos;

/// Addresses one stored write took out of and put into the published set (one entry per
/// endpoint: an address in two slices counts twice).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delta {
    pub removed: Vec<Ipv4Addr>,
    pub added: Vec<Ipv4Addr>,
}

/// What [`observe`] measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub stale_peak: u64,
    pub stale_final: u64,
    /// The integral of the stale count over time, in endpoint-seconds.
    pub stale_seconds: f64,
    pub missing_final: u64,
    /// One per registry change after t = 0: its staleness.
    pub staleness: Vec<Nanos>,
}

#[derive(Default)]
struct State {
    healthy: FxHashSet<Ipv4Addr>,
    published: FxHashMap<Ipv4Addr, u32>,
    /// Registry changes of each address not yet visible, by time.
    pending: FxHashMap<Ipv4Addr, Vec<Nanos>>,
    stale: u64,
    stats: Stats,
    stale_ns: u128,
    last: Nanos,
}

impl State {
    fn published(&self, a: Ipv4Addr) -> bool {
        self.published.get(&a).is_some_and(|n| *n > 0)
    }

    fn is_stale(&self, a: Ipv4Addr) -> bool {
        self.published(a) && !self.healthy.contains(&a)
    }

    fn consistent(&self, a: Ipv4Addr) -> bool {
        self.published(a) == self.healthy.contains(&a)
    }

    /// Moves the clock to `t`: the stale count since the last change held until now (a
    /// change made good at the same instant never counts).
    fn advance(&mut self, t: Nanos) {
        if t > self.last {
            self.stats.stale_peak = self.stats.stale_peak.max(self.stale);
        }
        self.stale_ns += u128::from(self.stale) * u128::from(t.saturating_sub(self.last));
        self.last = self.last.max(t);
    }

    /// Applies `edit` to address `a` at `t`, keeping the stale count and resolving what
    /// became visible.
    fn edit(&mut self, t: Nanos, a: Ipv4Addr, edit: impl FnOnce(&mut State)) {
        let was_stale = self.is_stale(a);
        edit(self);
        match (was_stale, self.is_stale(a)) {
            (false, true) => self.stale += 1,
            (true, false) => self.stale -= 1,
            _ => {}
        }
        if self.consistent(a)
            && let Some(times) = self.pending.remove(&a)
        {
            self.stats
                .staleness
                .extend(times.into_iter().map(|t0| t - t0));
        }
    }
}

/// Measures publication against the registry from `initial` (healthy, not yet published at
/// t = 0), its `changes` and the slices' `deltas`, until `end`.
pub fn observe(
    initial: &[Instance],
    changes: &[(Nanos, Change)],
    deltas: &[(Nanos, Delta)],
    end: Nanos,
) -> Stats {
    let mut s = State::default();
    s.healthy.extend(initial.iter().map(|i| i.address));
    let (mut i, mut j) = (0, 0);
    loop {
        let registry_first = match (changes.get(i), deltas.get(j)) {
            (Some(c), Some(d)) => c.0 <= d.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if registry_first {
            let (t, c) = changes[i];
            i += 1;
            s.advance(t);
            let (a, healthy) = match c {
                Change::Join(inst) => (inst.address, true),
                Change::Up(id) => (address_of(id), true),
                Change::Leave(id) | Change::Down(id) => (address_of(id), false),
            };
            s.pending.entry(a).or_default().push(t);
            s.edit(t, a, |s| {
                if healthy {
                    s.healthy.insert(a);
                } else {
                    s.healthy.remove(&a);
                }
            });
        } else {
            let (t, d) = &deltas[j];
            j += 1;
            s.advance(*t);
            for a in &d.removed {
                s.edit(*t, *a, |s| {
                    if let Some(n) = s.published.get_mut(a) {
                        *n = n.saturating_sub(1);
                    }
                });
            }
            for a in &d.added {
                s.edit(*t, *a, |s| *s.published.entry(*a).or_default() += 1);
            }
        }
    }
    s.advance(end);
    let mut stats = std::mem::take(&mut s.stats);
    for times in s.pending.values() {
        stats
            .staleness
            .extend(times.iter().map(|t0| end.saturating_sub(*t0)));
    }
    stats.stale_final = s.stale;
    stats.stale_seconds = s.stale_ns as f64 / 1e9;
    stats.missing_final = s.healthy.iter().filter(|a| !s.published(**a)).count() as u64;
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SECOND;

    fn inst(id: u32) -> Instance {
        Instance::new(id, 1)
    }

    /// Two instances; one leaves at 10 s and is unpublished at 40 s (30 s stale); one joins
    /// at 20 s and is published at 50 s. By hand: stale peak 1, 30 endpoint-seconds, the two
    /// changes' staleness 30 s each, nothing stale or missing at the end.
    #[test]
    fn a_leave_and_a_join_seen_late() {
        let a = |id| inst(id).address;
        let changes = [
            (10 * SECOND, Change::Leave(1)),
            (20 * SECOND, Change::Join(inst(2))),
        ];
        let deltas = [
            (
                0,
                Delta {
                    removed: vec![],
                    added: vec![a(0), a(1)],
                },
            ),
            (
                40 * SECOND,
                Delta {
                    removed: vec![a(1)],
                    added: vec![],
                },
            ),
            (
                50 * SECOND,
                Delta {
                    removed: vec![],
                    added: vec![a(2)],
                },
            ),
        ];
        let s = observe(&[inst(0), inst(1)], &changes, &deltas, 100 * SECOND);
        assert_eq!(s.stale_peak, 1);
        assert_eq!(s.stale_final, 0);
        assert_eq!(s.missing_final, 0);
        assert!((s.stale_seconds - 30.0).abs() < 1e-9, "{}", s.stale_seconds);
        assert_eq!(s.staleness, [30 * SECOND, 30 * SECOND]);
    }

    /// A leave never unpublished: stale to the end, its staleness counted to the end; an
    /// address published twice stays published until both copies go.
    #[test]
    fn never_unpublished_counts_to_the_end() {
        let a = inst(0).address;
        let deltas = [
            (
                0,
                Delta {
                    removed: vec![],
                    added: vec![a, a],
                },
            ),
            (
                20 * SECOND,
                Delta {
                    removed: vec![a],
                    added: vec![],
                },
            ),
        ];
        let s = observe(
            &[inst(0)],
            &[(10 * SECOND, Change::Leave(0))],
            &deltas,
            60 * SECOND,
        );
        assert_eq!((s.stale_peak, s.stale_final), (1, 1));
        assert!((s.stale_seconds - 50.0).abs() < 1e-9);
        assert_eq!(s.staleness, [50 * SECOND]);
    }
}
