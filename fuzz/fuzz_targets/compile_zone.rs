//! Fuzz zone file compilation with any text (and any CIDR map file it names): errors or a zone, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meridian::config::compile::compile_zone;
use meridian::zone::ZoneSet;

fuzz_target!(|data: &[u8]| {
    // Zone text, then after the first NUL byte the contents of any file the zone reads.
    let (zone, aux) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(zone) else {
        return;
    };
    let aux = aux.map(String::from_utf8_lossy);
    let mut read = |name: &str| match &aux {
        Some(contents) => Ok(contents.to_string()),
        None => Err(format!("no file {name}")),
    };
    let result = compile_zone(Path::new("fuzz.toml"), text, &mut read);
    if let Ok(zone) = result {
        // A zone that compiles must be usable: its targets, and a lookup of every name.
        let zones = ZoneSet::new([zone]);
        let _ = zones.targets();
        for zone in zones.iter() {
            for name in zone.names() {
                let _ = zone.lookup(name, false);
            }
        }
    }
});
