//! kube-proxy's sync loop: when each kube-proxy programs the changes it received.
//!
//! The proxier does not apply a change when it arrives: the informer's handler marks the
//! Service's endpoints changed and asks the `BoundedFrequencyRunner` for a sync
//! (`pkg/proxy/iptables/proxier.go`: `syncRunner = async.NewBoundedFrequencyRunner(
//! "sync-runner", proxier.syncProxyRules, minSyncPeriod, time.Hour, burstSyncs)` with
//! `burstSyncs = 2`; `pkg/util/async/bounded_frequency_runner.go`). The runner syncs at once
//! if its token bucket (one token per `minSyncPeriod`, `--iptables-min-sync-period`, default
//! 1 s; burst 2) has a token (`tryRun`: `limiter.TryAccept()`); otherwise it schedules the
//! sync at the last sync's time plus `minSyncPeriod`, and every change arriving before then
//! rides on that sync. A sync applies every change received so far; the network programming
//! latency of a change is from its trigger time (the `last-change-trigger-time` annotation)
//! to the sync (`network_programming_duration_seconds`, observed at the end of
//! `syncProxyRules`). Syncs are taken as instant; the hourly resync is left out.

use crate::apiserver::{Delivery, Received};
use crate::controllers::Write;
use crate::engine::Nanos;
use crate::watch::WatcherGroup;

/// The runner's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncPolicy {
    pub min_sync_period: Nanos,
    pub burst: u32,
}

/// One kube-proxy's syncs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Syncs {
    pub count: u64,
    /// For each received change, in order: the time it was programmed.
    pub programmed: Vec<Nanos>,
}

/// The syncs of a kube-proxy that received changes at these times (in order).
pub fn syncs_of(received: &Received, policy: SyncPolicy) -> Syncs {
    let period = policy.min_sync_period;
    let burst = i128::from(policy.burst.max(1));
    // Tokens in units of 1/period: one token is `period` units, refilled one unit per ns.
    let full = burst * i128::from(period);
    let mut tokens = full;
    let mut refilled: Nanos = 0;
    let mut last_run: Option<Nanos> = None;
    let mut pending: Option<Nanos> = None;
    let mut out = Syncs {
        count: 0,
        programmed: Vec::with_capacity(received.len()),
    };
    let take = |t: Nanos, tokens: &mut i128, refilled: &mut Nanos| {
        *tokens = (*tokens + i128::from(t - *refilled)).min(full);
        *refilled = t;
        if *tokens >= i128::from(period) {
            *tokens -= i128::from(period);
            true
        } else {
            false
        }
    };
    for &(_, at) in received {
        if let Some(s) = pending {
            if s >= at {
                out.programmed.push(s);
                continue;
            }
            // The scheduled sync ran before this change arrived.
            pending = None;
        }
        let when = if period == 0 || take(at, &mut tokens, &mut refilled) {
            at
        } else {
            // `tryRun`: no token; the timer fires at lastRun + minSyncPeriod, when the bucket
            // has refilled at least one token since that run.
            let s = last_run.map_or(at, |l| l + period).max(at);
            take(s, &mut tokens, &mut refilled);
            pending = Some(s);
            s
        };
        out.count += 1;
        last_run = Some(when);
        out.programmed.push(when);
    }
    out
}

/// What every kube-proxy did: the mean number of syncs per kube-proxy, the changes received
/// (summed over kube-proxies), and the network programming latencies of the writes that carry
/// a trigger time (latency, kube-proxies).
pub struct Programming {
    pub syncs_per_proxy: f64,
    pub changes: u64,
    pub samples: Vec<(Nanos, u64)>,
}

/// [`Programming`] over every kube-proxy.
pub fn programming(
    writes: &[Write],
    d: &Delivery,
    groups: &[WatcherGroup],
    policy: SyncPolicy,
) -> Programming {
    let mut samples: Vec<(Nanos, u64)> = Vec::new();
    let (mut syncs, mut proxies, mut changes) = (0u128, 0u128, 0u64);
    for (c, received) in d.cohorts.iter().zip(&d.received) {
        if !groups[c.group].proxy {
            continue;
        }
        let s = syncs_of(received, policy);
        syncs += u128::from(s.count) * u128::from(c.members);
        proxies += u128::from(c.members);
        changes = changes.saturating_add(c.members.saturating_mul(received.len() as u64));
        for (&(i, _), &at) in received.iter().zip(&s.programmed) {
            if let Some(trigger) = writes[i as usize].trigger {
                samples.push((at.saturating_sub(trigger), c.members));
            }
        }
    }
    let mean = if proxies == 0 {
        0.0
    } else {
        syncs as f64 / proxies as f64
    };
    Programming {
        syncs_per_proxy: mean,
        changes,
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SECOND;

    const MS: Nanos = SECOND / 1000;

    fn at(times: &[Nanos]) -> Received {
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| (i as u32, t))
            .collect()
    }

    /// By hand, min-sync-period 1 s, burst 2: changes at 0 and 100 ms sync at once (the two
    /// burst tokens); at 200 ms the bucket holds 0.2 tokens, so the sync waits for the last
    /// run + 1 s = 1.1 s, and the changes at 500 ms and 1.05 s ride on it; at 1.1 s the bucket
    /// had 1.1 tokens, 0.1 after. At 1.5 s (0.5 tokens) the sync waits for 2.1 s.
    #[test]
    fn syncs_are_bounded_by_the_min_sync_period() {
        let policy = SyncPolicy {
            min_sync_period: SECOND,
            burst: 2,
        };
        let s = syncs_of(
            &at(&[0, 100 * MS, 200 * MS, 500 * MS, 1050 * MS, 1500 * MS]),
            policy,
        );
        assert_eq!(
            s.programmed,
            [0, 100 * MS, 1100 * MS, 1100 * MS, 1100 * MS, 2100 * MS]
        );
        assert_eq!(s.count, 4);
    }

    /// Changes a second or more apart sync at once, one sync each.
    #[test]
    fn sparse_changes_sync_at_once() {
        let policy = SyncPolicy {
            min_sync_period: SECOND,
            burst: 2,
        };
        let times = [0, 5 * SECOND, 6 * SECOND, 7 * SECOND];
        let s = syncs_of(&at(&times), policy);
        assert_eq!(s.programmed, times);
        assert_eq!(s.count, 4);
    }
}
