//! Wire encoding: the objects and the exact number of bytes they take.
//!
//! * [`model`]: Endpoints and EndpointSlice as Go-shaped Rust types.
//! * [`reference`]: the reference encoders. They convert a model object into the real Kubernetes
//!   types (`k8s-openapi` for JSON, `k8s-pb` for protobuf) and encode those, applying Go's
//!   emission rules where the Rust types differ.
//! * [`fast`]: the incremental size model the simulator calls on every write: O(1) per endpoint
//!   or address edit, proven equal to [`reference`] by property tests.
//! * [`gojson`]: Go's JSON string escaping.
//!
//! The four sizes of an object ([`ObjectSizes`]) are what the API server really sends
//! (`../shared/spec/wire-format.md`):
//! * `proto`: `k8s\0` + `runtime.Unknown{typeMeta, raw}`: what etcd stores and a protobuf GET returns;
//! * `proto_watch`: one frame of a protobuf watch stream: 4-byte big-endian length, then
//!   `metav1.WatchEvent{type, object: RawExtension{raw: <the enveloped object>}}`;
//! * `json`: compact JSON, without the trailing newline `json.Encoder` adds to a GET response;
//! * `json_watch`: one line of a JSON watch stream, `{"type":...,"object":...}\n`.

pub mod fast;
pub mod gojson;
pub mod model;
pub mod reference;

pub use model::Object;

/// The type of a watch event (`metav1.WatchEvent.Type`, `apimachinery/pkg/watch/watch.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub const ALL: [EventType; 3] = [EventType::Added, EventType::Modified, EventType::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// The four encoded sizes of one object, in bytes. Watch sizes are for a `MODIFIED` event (the
/// common case: an update); [`ObjectSizes::proto_watch_for`] and [`ObjectSizes::json_watch_for`]
/// give the other event types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectSizes {
    pub proto: u64,
    pub proto_watch: u64,
    pub json: u64,
    pub json_watch: u64,
}

impl ObjectSizes {
    /// Builds the four sizes from the enveloped protobuf size and the compact JSON size.
    pub fn from_object_sizes(proto: u64, json: u64) -> ObjectSizes {
        ObjectSizes {
            proto,
            proto_watch: fast::proto_watch_frame_len(EventType::Modified, proto),
            json,
            json_watch: fast::json_watch_line_len(EventType::Modified, json),
        }
    }

    /// Bytes of a protobuf watch frame of this event type.
    pub fn proto_watch_for(&self, event: EventType) -> u64 {
        fast::proto_watch_frame_len(event, self.proto)
    }

    /// Bytes of a JSON watch line of this event type.
    pub fn json_watch_for(&self, event: EventType) -> u64 {
        fast::json_watch_line_len(event, self.json)
    }
}

/// Errors of the wire layer.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("managedFields[].fieldsV1 is not valid JSON: {0}")]
    FieldsV1(serde_json::Error),
    #[error("JSON encoding failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("YAML export failed: {0}")]
    Export(String),
}
