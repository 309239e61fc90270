//! Process signals: TERM and INT ask for shutdown, HUP asks for a reload.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// What a signal asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Reload,
    Shutdown,
}

/// Forward signals as events until the receiver is dropped.
pub(crate) fn listen(events: mpsc::Sender<Event>) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = term.recv() => Event::Shutdown,
                _ = int.recv() => Event::Shutdown,
                _ = hup.recv() => Event::Reload,
            };
            if events.send(event).await.is_err() {
                return;
            }
        }
    });
    Ok(())
}
