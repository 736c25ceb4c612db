//! What a careful engineer writes: it reacts to registry changes (`delay` after one, the
//! changes meanwhile joining the same sync), keeps each instance in the slice it was placed
//! in, puts a new instance in the first slice with room (or a new one), writes only the slices
//! that changed, deletes a slice that empties, and makes the Service the slices' owner (so
//! they go with it).

use rustc_hash::FxHashMap;

use super::registry::Instance;
use super::store::Store;
use super::{Output, Setup, replay, sync_times, tagged};
use crate::controllers::Api;

pub fn run(s: &Setup<'_>) -> Output {
    let c = &s.spec.controller;
    let max = c.max_endpoints_per_slice.value.clamp(1, 1000) as usize;
    let mut store = Store::new(&s.ctx, super::CUSTOM_CONTROLLER, s.service, false, s.rng(0));
    let owner = store.uid();
    // Slot k is slice `<service>-<k>`; `None`: no such slice now.
    let mut slots: Vec<Option<Vec<Instance>>> = Vec::new();
    let mut placed: FxHashMap<u32, usize> = FxHashMap::default();
    let times = sync_times(s.history, c.delay.value.0, s.end);
    replay(s.history, times, |t, reg| {
        let healthy: FxHashMap<u32, Instance> = reg.healthy().map(|i| (i.id, *i)).collect();
        let mut dirty = vec![false; slots.len()];
        let mut created = vec![false; slots.len()];
        placed.retain(|id, k| {
            let keep = healthy.contains_key(id);
            if !keep && let Some(slot) = slots[*k].as_mut() {
                slot.retain(|i| i.id != *id);
                dirty[*k] = true;
            }
            keep
        });
        let new: Vec<Instance> = reg
            .healthy()
            .filter(|i| !placed.contains_key(&i.id))
            .copied()
            .collect();
        for i in &new {
            let k = match slots
                .iter()
                .position(|slot| slot.as_ref().is_some_and(|v| v.len() < max))
            {
                Some(k) => k,
                None => {
                    let k = slots
                        .iter()
                        .position(Option::is_none)
                        .unwrap_or(slots.len());
                    if k == slots.len() {
                        slots.push(None);
                        dirty.push(false);
                        created.push(false);
                    }
                    slots[k] = Some(Vec::new());
                    created[k] = true;
                    k
                }
            };
            if let Some(slot) = slots[k].as_mut() {
                slot.push(*i);
            }
            placed.insert(i.id, k);
            dirty[k] = true;
        }
        for k in (0..slots.len()).filter(|k| dirty[*k]) {
            let name = format!("{}-{k}", s.name());
            match slots[k].as_ref() {
                Some(v) if v.is_empty() => {
                    store.delete(t, &name);
                    slots[k] = None;
                }
                Some(v) => {
                    let body = s.slice(name, v, Some(&owner));
                    if created[k] {
                        store.create(t, body);
                    } else {
                        store.update(t, body);
                    }
                }
                None => {}
            }
        }
    });
    let mut out = Output::default();
    tagged(Api::EndpointSlices, store, &mut out);
    out
}
