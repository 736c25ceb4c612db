//! The pod history as the controllers read it: in time order, one event at a time, either from
//! a history already recorded (a trace, a test) or from one still being generated.
//!
//! A generated history is played on its own thread while both controllers consume it
//! ([`Stream`]): the controllers borrow its pods for the whole run, so its events never move
//! once written (an append-only vector of fixed buckets, `boxcar`), and a controller that
//! catches up with the generator waits for it. The events and their order are the same as in a
//! recorded history, so the outputs are too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use crate::cluster::{Change, Sink};
use crate::engine::Nanos;

/// A history's events in time order, borrowed for `'h`.
pub trait Events<'h> {
    /// Event `i` (0, 1, 2, ... in time order; at equal times in recorded order), waiting for
    /// it while it is being generated; `None` after the last.
    fn event(&self, i: usize) -> Option<&'h (Nanos, Change)>;
}

/// A recorded history's events in time order (sorted, stably, if they were not).
#[derive(Clone)]
pub struct Recorded<'h> {
    events: &'h [(Nanos, Change)],
    order: Option<Vec<usize>>,
}

impl<'h> Recorded<'h> {
    pub fn new(events: &'h [(Nanos, Change)]) -> Self {
        let order = (!events.is_sorted_by_key(|e| e.0)).then(|| {
            let mut order: Vec<usize> = (0..events.len()).collect();
            order.sort_by_key(|&i| events[i].0);
            order
        });
        Recorded { events, order }
    }
}

impl<'h> Events<'h> for Recorded<'h> {
    fn event(&self, i: usize) -> Option<&'h (Nanos, Change)> {
        match &self.order {
            Some(order) => self.events.get(*order.get(i)?),
            None => self.events.get(i),
        }
    }
}

/// Events a generator appends (in time order) while readers consume them.
#[derive(Default)]
pub struct Stream {
    events: boxcar::Vec<(Nanos, Change)>,
    done: AtomicBool,
    /// Readers that caught up wait here; the writer wakes them every [`WAKE_EVERY`] events
    /// and when it is done.
    lock: Mutex<()>,
    wake: Condvar,
}

/// How many events a waiting reader is woken after, at most (it then reads them all without
/// waiting): often enough that it never waits long, rarely enough to cost nothing.
const WAKE_EVERY: usize = 256;

impl Stream {
    /// Appends an event; events must come in time order.
    pub fn append(&self, t: Nanos, change: Change) {
        let i = self.events.push((t, change));
        if i % WAKE_EVERY == WAKE_EVERY - 1 {
            self.wake_readers();
        }
    }

    /// No more events: readers past the last get `None`. Called when the writer returns or
    /// unwinds ([`Stream::writer`]), so no reader waits forever.
    fn finish(&self) {
        self.done.store(true, Ordering::Release);
        self.wake_readers();
    }

    fn wake_readers(&self) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.wake.notify_all();
    }

    /// The writing end: a [`Sink`] that finishes the stream when dropped.
    pub fn writer(&self) -> Writer<'_> {
        Writer(self)
    }

    /// The events written so far, in order.
    pub fn events(&self) -> impl Iterator<Item = &(Nanos, Change)> {
        self.events.iter().map(|(_, e)| e)
    }
}

impl<'s> Events<'s> for &'s Stream {
    fn event(&self, i: usize) -> Option<&'s (Nanos, Change)> {
        if let Some(e) = self.events.get(i) {
            return Some(e);
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            // Checked under the lock, which the writer takes to wake: no wake-up is missed.
            if let Some(e) = self.events.get(i) {
                return Some(e);
            }
            if self.done.load(Ordering::Acquire) {
                return self.events.get(i);
            }
            guard = self
                .wake
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The writing end of a [`Stream`].
pub struct Writer<'s>(&'s Stream);

impl Sink for Writer<'_> {
    fn push(&mut self, t: Nanos, change: Change) {
        self.0.append(t, change);
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::NodeEvent;

    fn gone(index: u32) -> Change {
        Change::Node {
            index,
            event: NodeEvent::Gone,
        }
    }

    fn index(e: Option<&(Nanos, Change)>) -> Option<u32> {
        match e? {
            (_, Change::Node { index, .. }) => Some(*index),
            _ => None,
        }
    }

    #[test]
    fn recorded_events_come_in_time_order_stably() {
        let events = vec![(3, gone(0)), (1, gone(1)), (3, gone(2)), (1, gone(3))];
        let r = Recorded::new(&events);
        let got: Vec<Option<u32>> = (0..5).map(|i| index(r.event(i))).collect();
        assert_eq!(got, [Some(1), Some(3), Some(0), Some(2), None]);
    }

    /// A reader on another thread sees every event, in order, then the end, however far
    /// ahead of or behind the writer it is.
    #[test]
    fn a_reader_sees_every_event_then_the_end() {
        let stream = Stream::default();
        let n = 10 * WAKE_EVERY as u32 + 7;
        let read = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut got = Vec::new();
                let mut i = 0;
                while let Some(e) = (&stream).event(i) {
                    got.push(index(Some(e)).unwrap());
                    i += 1;
                }
                got
            });
            let mut w = stream.writer();
            for k in 0..n {
                if k % 1000 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                w.push(Nanos::from(k), gone(k));
            }
            drop(w);
            reader.join().unwrap()
        });
        assert_eq!(read, (0..n).collect::<Vec<u32>>());
        let kept: Vec<u32> = stream.events().map(|e| index(Some(e)).unwrap()).collect();
        assert_eq!(kept, read);
    }

    /// A writer that panics still ends the stream: its readers return instead of waiting.
    #[test]
    fn a_panicking_writer_ends_the_stream() {
        let stream = Stream::default();
        std::thread::scope(|s| {
            let reader = s.spawn(|| (&stream).event(5).is_none());
            let writer = s.spawn(|| {
                let mut w = stream.writer();
                w.push(0, gone(0));
                panic!("generator bug");
            });
            assert!(writer.join().is_err());
            assert!(reader.join().unwrap());
        });
    }
}
