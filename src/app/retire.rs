//! Freeing replaced snapshots off the query path: a retired snapshot is dropped by a
//! thread of its own once the socket threads have let go of it.
//!
//! A socket thread holds the snapshot it answered its last batch from and lets go at its
//! next batch after a swap (within 100 ms on a quiet socket). If it held the last
//! reference, it would free the whole snapshot itself, and a large configuration (100k
//! services, a 1M-prefix map) takes tens of milliseconds to free, during which that socket
//! answers nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

/// How often the retiring thread checks whether it holds the last reference.
const POLL: Duration = Duration::from_millis(5);
/// After this long it lets go anyway, and whoever holds the snapshot last frees it.
const PATIENCE: Duration = Duration::from_secs(10);

/// Drop `old` on a thread of its own once no one else holds it (or after `PATIENCE`).
pub(crate) fn retire<T: Send + Sync + 'static>(old: Arc<T>) {
    let spawned = std::thread::Builder::new()
        .name("meridian-retire".into())
        .spawn(move || wait_then_drop(old, POLL, PATIENCE));
    if let Err(e) = spawned {
        // The snapshot went into the closure that was not spawned and is freed here.
        warn!("could not start a thread to free the replaced snapshot: {e}");
    }
}

fn wait_then_drop<T>(old: Arc<T>, poll: Duration, patience: Duration) {
    let deadline = Instant::now() + patience;
    while Arc::strong_count(&old) > 1 && Instant::now() < deadline {
        std::thread::sleep(poll);
    }
    drop(old);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::mpsc;

    /// Reports the name of the thread that drops it.
    struct Witness(Mutex<mpsc::Sender<Option<String>>>);

    impl Drop for Witness {
        fn drop(&mut self) {
            let name = std::thread::current().name().map(str::to_owned);
            if let Ok(tx) = self.0.lock() {
                let _ = tx.send(name);
            }
        }
    }

    #[test]
    fn the_last_holder_letting_go_does_not_free_a_retired_snapshot() {
        let (tx, rx) = mpsc::channel();
        let published = Arc::new(Witness(Mutex::new(tx)));
        let held_by_socket_thread = Arc::clone(&published);
        retire(published);
        // The socket thread lets go later; the retiring thread frees the snapshot.
        std::thread::Builder::new()
            .name("socket".into())
            .spawn(move || drop(held_by_socket_thread))
            .unwrap()
            .join()
            .unwrap();
        let freed_by = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(freed_by.as_deref(), Some("meridian-retire"));
    }

    #[test]
    fn a_snapshot_still_held_after_the_patience_is_freed_by_its_last_holder() {
        let (tx, rx) = mpsc::channel();
        let published = Arc::new(Witness(Mutex::new(tx)));
        let held = Arc::clone(&published);
        wait_then_drop(
            published,
            Duration::from_millis(1),
            Duration::from_millis(20),
        );
        assert!(rx.try_recv().is_err(), "not freed while still held");
        drop(held);
        assert_eq!(
            rx.try_recv().unwrap(),
            std::thread::current().name().map(str::to_owned)
        );
    }
}
