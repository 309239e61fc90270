//! What every admin handler shares (the control seam and the metrics handle), and running
//! a control call that may block.

use std::sync::Arc;

use super::control::Control;
use super::error::ApiError;
use crate::metrics::PrometheusHandle;

/// What every handler shares: the server behind the seam and the metrics to render.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) control: Arc<dyn Control>,
    pub(crate) metrics: PrometheusHandle,
}

/// Run a control call that may block on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal("the control call panicked or was cancelled"))
}
