//! What the suites share: the binary under test and the repository's files.

use std::path::Path;

use assert_cmd::Command;

/// The `slicesim` binary this `cargo test` built.
pub fn slicesim() -> Command {
    Command::cargo_bin("slicesim").unwrap()
}

/// The repository's root (scenarios, results, README).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file's text; the test fails naming the file when it cannot be read.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
