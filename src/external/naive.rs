//! The teaching material's controller, behaviour for behaviour: every `poll_interval` it lists
//! the registry's healthy instances, cuts the list into consecutive chunks of `chunk` (100),
//! names chunk *i* `<service>-<i>`, and for each chunk sends a Create and, when that fails
//! (`AlreadyExists`), an Update of the whole slice. It never deletes a slice and sets no
//! ownerReferences: a chunk the registry no longer fills keeps its last instances for good,
//! and an instance leaving from the middle shifts every later instance into another slice.

use super::store::Store;
use super::{Output, Setup, replay, tagged};
use crate::controllers::Api;

pub fn run(s: &Setup<'_>) -> Output {
    let c = &s.spec.controller;
    let interval = c.poll_interval.value.0.max(1);
    let chunk = c.chunk.value.clamp(1, 1000) as usize;
    let mut store = Store::new(&s.ctx, super::CUSTOM_CONTROLLER, s.service, false, s.rng(0));
    let polls = (0..)
        .map(|k: u64| k.saturating_mul(interval))
        .take_while(|t| *t < s.end);
    replay(s.history, polls, |t, reg| {
        let healthy: Vec<_> = reg.healthy().copied().collect();
        for (i, part) in healthy.chunks(chunk).enumerate() {
            let body = s.slice(format!("{}-{i}", s.name()), part, None);
            if store.create(t, body.clone()).is_none() {
                store.update(t, body);
            }
        }
    });
    let mut out = Output::default();
    tagged(Api::EndpointSlices, store, &mut out);
    out
}
