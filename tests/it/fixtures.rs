//! The upstream round-trip fixtures (`k8s.io/api` `testdata/HEAD`, copied into `tests/data/`):
//! the same object as `.json`, `.yaml` and `.pb`. Our encoders must reproduce the `.pb` byte for
//! byte and the JSON's compact length, from either text form.

use slicesim::input::{self, Item};

use crate::common::root;
use slicesim::wire::{EventType, Object, fast, reference};

const FIXTURES: [&str; 3] = [
    "core.v1.Endpoints",
    "discovery.k8s.io.v1.EndpointSlice",
    "discovery.k8s.io.v1beta1.EndpointSlice",
];

fn data(name: &str) -> String {
    root().join("tests/data").join(name).display().to_string()
}

fn read_object(file: &str) -> Object {
    let text = std::fs::read_to_string(data(file)).unwrap();
    let items = input::read_str(file, &text).unwrap();
    assert_eq!(items.len(), 1, "{file}");
    match items.into_iter().next().unwrap() {
        Item::Object { object, .. } => *object,
        other => panic!("{file}: unexpected {other:?}"),
    }
}

/// The fixture's JSON re-encoded compactly, independently of our encoders.
fn compact_json_len(fixture: &str) -> u64 {
    let text = std::fs::read_to_string(data(&format!("{fixture}.json"))).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    serde_json::to_vec(&value).unwrap().len() as u64
}

#[test]
fn protobuf_is_byte_identical_to_the_fixture() {
    for fixture in FIXTURES {
        let pb = std::fs::read(data(&format!("{fixture}.pb"))).unwrap();
        for ext in ["json", "yaml"] {
            let obj = read_object(&format!("{fixture}.{ext}"));
            assert_eq!(reference::proto(&obj), pb, "{fixture}.{ext}");
        }
    }
}

#[test]
fn json_length_equals_the_compact_fixture() {
    for fixture in FIXTURES {
        let expected = compact_json_len(fixture);
        for ext in ["json", "yaml"] {
            let obj = read_object(&format!("{fixture}.{ext}"));
            assert_eq!(
                reference::json(&obj).unwrap().len() as u64,
                expected,
                "{fixture}.{ext}"
            );
        }
    }
}

#[test]
fn fast_path_equals_the_fixtures() {
    for fixture in FIXTURES {
        let pb_len = std::fs::metadata(data(&format!("{fixture}.pb")))
            .unwrap()
            .len();
        let obj = read_object(&format!("{fixture}.json"));
        let sizes = fast::sizes(&obj);
        assert_eq!(sizes.proto, pb_len, "{fixture}");
        assert_eq!(sizes.json, compact_json_len(fixture), "{fixture}");
        assert_eq!(sizes, reference::sizes(&obj).unwrap(), "{fixture}");
    }
}

/// Watch framing, by hand from `wire-format.md`: for an enveloped object of E bytes,
/// 128 <= E <= 16,380, a MODIFIED frame adds 20 bytes (4 length + `0a 08 MODIFIED` +
/// `12 <2-byte len>` + `0a <2-byte len>`); ADDED is 3 bytes shorter, DELETED 1 byte shorter.
/// A JSON watch line adds `{"type":"MODIFIED","object":` + `}` + newline = 30 bytes.
#[test]
fn watch_framing_matches_the_spec() {
    for fixture in FIXTURES {
        let pb_len = std::fs::metadata(data(&format!("{fixture}.pb")))
            .unwrap()
            .len();
        let obj = read_object(&format!("{fixture}.yaml"));
        let proto = reference::proto(&obj);
        let json = reference::json(&obj).unwrap();
        let frame = |e| reference::proto_watch_frame(e, &proto).len() as u64;
        assert_eq!(frame(EventType::Modified), pb_len + 20);
        assert_eq!(frame(EventType::Added), pb_len + 17);
        assert_eq!(frame(EventType::Deleted), pb_len + 19);
        let line = reference::json_watch_line(EventType::Modified, &json);
        assert_eq!(line.len(), json.len() + 30);
        assert!(line.ends_with(b"}\n"));
        let sizes = fast::sizes(&obj);
        for e in EventType::ALL {
            assert_eq!(sizes.proto_watch_for(e), frame(e));
            assert_eq!(
                sizes.json_watch_for(e),
                reference::json_watch_line(e, &json).len() as u64
            );
        }
    }
}

/// The frame really is what client-go's decoder reads: a 4-byte big-endian length of the rest.
#[test]
fn watch_frame_length_prefix_is_big_endian() {
    let obj = read_object("core.v1.Endpoints.json");
    let frame = reference::proto_watch_frame(EventType::Modified, &reference::proto(&obj));
    let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(len, frame.len() - 4);
    // WatchEvent.type = "MODIFIED" comes first.
    assert_eq!(&frame[4..14], b"\x0a\x08MODIFIED");
}
