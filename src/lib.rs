//! slicesim: what service discovery costs, with the legacy Endpoints API and with EndpointSlices.
//!
//! This crate is the library behind the `slicesim` binary. Its foundation is [`wire`]: exact,
//! byte-for-byte sizes of Endpoints and EndpointSlice objects as the API server stores and sends
//! them, computed by reference encoders (the real Kubernetes types) and by an O(1)-per-edit fast
//! path proven equal to them. [`input`] reads objects as `kubectl` prints them, and [`size`]
//! measures them (the `slicesim size` command).

pub mod apiserver;
pub mod charts;
pub mod cluster;
pub mod compare;
pub mod controllers;
pub mod digits;
pub mod engine;
pub mod etcd;
pub mod external;
pub mod input;
pub mod kubeproxy;
pub mod lint;
pub mod metrics;
pub mod outdir;
pub mod output;
pub mod rank;
pub mod report;
pub mod reproduce;
pub mod run;
pub mod scenario;
pub mod size;
pub mod stream;
pub mod sweep;
pub mod trace;
pub mod traffic;
pub mod watch;
pub mod wire;
pub mod yaml;
