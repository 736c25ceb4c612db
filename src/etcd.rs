//! etcd behind the API server: which writes it refuses, and what it holds.
//!
//! * **The request limit.** etcd refuses a raft request larger than `--max-request-bytes`
//!   (`processInternalRaftRequestOnce`, `server/etcdserver/v3_server.go`: `len(data) >
//!   MaxRequestBytes` → `ErrRequestTooLarge`, "etcdserver: request is too large"). The
//!   request is an `InternalRaftRequest` holding the API server's transaction
//!   (`apiserver/pkg/storage/etcd3/store.go`: a create is `If(mod_revision(key) == 0)
//!   .Then(Put(key, value))`; an update `If(mod_revision(key) == rev).Then(Put(key, value))
//!   .Else(Get(key))`), so the limit is met by the stored object plus the key three times
//!   and a few dozen bytes of framing ([`request_len`]).
//! * **History.** Every stored write is a revision. The API server compacts etcd every
//!   `compaction_interval` to the revision it saw one interval before
//!   (`apiserver/pkg/storage/etcd3/compact.go`), so etcd holds the revisions of the last one
//!   to two intervals ([`History`]).

use crate::controllers::{Api, Op, Write};
use crate::engine::Nanos;
use crate::wire::fast::varint_len;

/// etcd's key prefix of a resource (kube-apiserver's `--etcd-prefix` `/registry` and the
/// resource's storage path: Endpoints live under `services/endpoints`).
pub fn key_prefix(api: Api) -> &'static str {
    match api {
        Api::Endpoints => "/registry/services/endpoints/",
        Api::EndpointSlices => "/registry/endpointslices/",
    }
}

/// Bytes of an object's etcd key: the prefix, `namespace/name`.
pub fn key_len(api: Api, namespace: &str, name: &str) -> u64 {
    (key_prefix(api).len() + namespace.len() + 1 + name.len()) as u64
}

/// The request ID in the raft request's header (`idutil.Generator`: the member ID's low 16
/// bits on top, so a varint of up to 10 bytes); taken at its largest.
const REQUEST_ID_BYTES: u64 = 10;
/// The revision an update compares against (a varint; 5 bytes holds revisions up to 34
/// billion).
const REVISION_BYTES: u64 = 5;

/// A length-delimited protobuf field with a one-byte tag.
fn field(len: u64) -> u64 {
    1 + varint_len(len) + len
}

/// Bytes of the raft request that stores a `value`-byte object under a `key`-byte key, by
/// `op` (a delete's request is small and never refused: 0).
///
/// `InternalRaftRequest { header = 100: RequestHeader { ID = 1 }, txn = 7: TxnRequest {
/// compare = 1: Compare { target = 2: MOD, key = 3, mod_revision = 6 }, success = 2:
/// RequestOp { request_put = 2: PutRequest { key = 1, value = 2 } }, failure = 3 (updates):
/// RequestOp { request_range = 1: RangeRequest { key = 1 } } } }` (`etcdserverpb/rpc.proto`,
/// `raft_internal.proto`).
pub fn request_len(op: Op, key: u64, value: u64) -> u64 {
    let revision = match op {
        Op::Create => 1, // mod_revision 0, written because it is a oneof member
        Op::Update => REVISION_BYTES,
        Op::Delete => return 0,
    };
    let compare = 2 + field(key) + 1 + revision;
    let put = field(key) + field(value);
    let mut txn = field(compare) + field(field(put));
    if op == Op::Update {
        txn += field(field(field(key)));
    }
    // Field 100 takes a two-byte tag; then the length and the ID field.
    let header = 2 + 1 + 1 + REQUEST_ID_BYTES;
    header + field(txn)
}

/// etcd's request limit as one controller's writes meet it.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub api: Api,
    /// `None`: no limit.
    pub max_request_bytes: Option<u64>,
}

impl Limit {
    /// No limit (the tests of controller logic).
    pub fn none(api: Api) -> Self {
        Limit {
            api,
            max_request_bytes: None,
        }
    }

    /// Whether etcd refuses this write. The value is the object as watchers receive it, with
    /// its `resourceVersion` (the stored copy has it empty: a few bytes fewer).
    pub fn refuses(&self, w: &Write) -> bool {
        let Some(max) = self.max_request_bytes else {
            return false;
        };
        !w.noop
            && request_len(
                w.op,
                key_len(self.api, &w.namespace, &w.name),
                w.sizes.proto,
            ) > max
    }
}

/// What etcd held over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Revisions held at the fullest moment (just before a compaction).
    pub peak_revisions: u64,
    /// Their value bytes.
    pub peak_bytes: u64,
}

/// The history etcd holds given the stored writes' times and value bytes, with compactions
/// every `interval` (none when 0): at compaction k (time k × interval) everything up to the
/// revision of time (k − 1) × interval goes, so just before compaction k + 1 etcd holds the
/// writes of ((k − 1) × interval, (k + 1) × interval).
pub fn history(writes: impl Iterator<Item = (Nanos, u64)>, interval: Nanos) -> History {
    let mut per_interval: Vec<(u64, u64)> = Vec::new();
    let mut all = (0u64, 0u64);
    for (t, bytes) in writes {
        all = (all.0 + 1, all.1.saturating_add(bytes));
        if interval == 0 {
            continue;
        }
        let k = (t / interval) as usize;
        if per_interval.len() <= k {
            per_interval.resize(k + 1, (0, 0));
        }
        let e = &mut per_interval[k];
        *e = (e.0 + 1, e.1.saturating_add(bytes));
    }
    if interval == 0 {
        return History {
            peak_revisions: all.0,
            peak_bytes: all.1,
        };
    }
    let mut h = History::default();
    for k in 0..per_interval.len() {
        let prev = if k > 0 { per_interval[k - 1] } else { (0, 0) };
        let (r, b) = (prev.0 + per_interval[k].0, prev.1 + per_interval[k].1);
        h.peak_revisions = h.peak_revisions.max(r);
        h.peak_bytes = h.peak_bytes.max(b);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand from the message definitions, for a 40-byte key and a 1,000,000-byte value:
    /// Compare = target (2) + key (1 + 1 + 40) + mod_revision (1 + 5) = 50 → 52 with its tag;
    /// Put = key 42 + value (1 + 3 + 1,000,000) = 1,000,046 → RequestOp 1,000,050 → 1,000,054
    /// in the Txn; the failure Get: Range 42 → RequestOp 44 → 46; Txn = 52 + 1,000,054 + 46 =
    /// 1,000,152 → with tag and 3-byte length 1,000,156; header: tag (2) + length (1) + ID
    /// (1 + 10) = 14. Total 1,000,170. A create compares 0 (4 bytes fewer) and has no Get (46
    /// fewer): 1,000,120.
    #[test]
    fn raft_request_sizes_by_hand() {
        assert_eq!(request_len(Op::Update, 40, 1_000_000), 1_000_170);
        assert_eq!(request_len(Op::Create, 40, 1_000_000), 1_000_120);
        assert_eq!(request_len(Op::Delete, 40, 1_000_000), 0);
        assert_eq!(
            key_len(Api::Endpoints, "default", "web"),
            "/registry/services/endpoints/default/web".len() as u64
        );
    }

    /// Compactions every 10 s; writes at 1 s (100 B), 12 s (10 B), 25 s (1 B), 26 s (1 B):
    /// the intervals hold 100, 10 and 2 bytes. Just before the compaction at 20 s (which
    /// drops only what came before 10 s) etcd holds 110 bytes; just before 30 s, 3 revisions.
    #[test]
    fn history_between_compactions() {
        let s = crate::scenario::SECOND;
        let writes = [(s, 100), (12 * s, 10), (25 * s, 1), (26 * s, 1)];
        let h = history(writes.into_iter(), 10 * s);
        assert_eq!(
            h,
            History {
                peak_revisions: 3,
                peak_bytes: 110
            }
        );
        assert_eq!(history(writes.into_iter(), 0).peak_bytes, 112);
    }
}
