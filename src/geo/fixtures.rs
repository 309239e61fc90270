//! Helpers of the geo tests: the committed test database's directory and source, and
//! databases built from it.

use std::path::{Path, PathBuf};

use super::testdb::{self, Layout, Source};

pub(super) fn geoip_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip")
}

pub(super) fn source() -> Source {
    let path = geoip_dir().join("test-city.toml");
    let text = std::fs::read_to_string(&path).expect("test-city.toml is readable");
    testdb::parse(&text).expect("test-city.toml parses")
}

/// Builds `layout` from the source into `dir/name` and returns the path.
pub(super) fn build_into(dir: &Path, name: &str, layout: Layout, epoch: u64) -> PathBuf {
    let mut source = source();
    source.build_epoch = epoch;
    let path = dir.join(name);
    std::fs::write(&path, testdb::build(&source, layout).expect("builds")).expect("writes");
    path
}
