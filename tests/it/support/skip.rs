//! What a test may find missing (a tool, a kernel permission): under `CI=true` the test fails
//! naming it; elsewhere the test is skipped, said on stderr at once and counted in a summary
//! printed when the harness exits.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, Once};

/// The skips of this run: (test, reason).
static SKIPPED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static SUMMARY: Once = Once::new();

/// Whether this run is CI's (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Give up on the calling test because `reason`: a panic under `CI=true`, else a counted skip.
/// The caller returns right after.
pub fn skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?").to_string();
    assert!(
        !in_ci(),
        "{test}: {reason}. CI=true, so a missing prerequisite fails the test instead of skipping it"
    );
    // Straight to the process's stderr: the test harness captures print! of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
    SKIPPED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((test, reason.to_string()));
    SUMMARY.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function with no arguments, as atexit expects.
        unsafe { libc::atexit(summary) };
    });
}

/// Printed when the harness exits, after its own result line.
extern "C" fn summary() {
    let skipped = SKIPPED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = format!(
        "\n{} test(s) SKIPPED for a missing prerequisite (CI=true makes them fail):\n",
        skipped.len()
    );
    for (test, reason) in skipped.iter() {
        let _ = writeln!(out, "  {test}: {reason}");
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

/// Where a system binary lives: PATH, then the sbin directories PATH may lack.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Where `tool` is installed, or a [`skip`] naming it and the Debian `package` that ships it.
pub fn need_tool(tool: &str, package: &str) -> Option<PathBuf> {
    let found = find_tool(tool);
    if found.is_none() {
        skip(&format!(
            "`{tool}` is not installed (apt-get install {package})"
        ));
    }
    found
}
