//! The running agent's drivers, rebuilt when the inventory changes, so SSH
//! sessions and pacing state live as long as the inventory does.

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::drivers::retry::RetryPolicy;
use crate::error::ApiError;
use crate::site::Site;
use crate::store::Store;

/// The drivers and the inventory revision they were built from.
type Loaded = Option<(String, Arc<Site>)>;

#[derive(Clone)]
pub struct SiteCache {
    store: Store,
    retry: RetryPolicy,
    current: Arc<Mutex<Loaded>>,
}

impl SiteCache {
    pub fn new(store: Store, retry: RetryPolicy) -> Self {
        Self {
            store,
            retry,
            current: Arc::new(Mutex::new(None)),
        }
    }

    pub async fn site(&self) -> Result<Arc<Site>, ApiError> {
        let revision = self.store.inventory_revision().await?;
        let mut current = self.current.lock().await;
        if let Some((seen, site)) = current.as_ref() {
            if *seen == revision {
                return Ok(site.clone());
            }
        }
        let site = Arc::new(Site::load(&self.store, self.retry).await.map_err(|e| {
            ApiError::precondition(format!("the site's drivers cannot be set up: {e}"))
                .hint("Fix the site inventory and run `giif-agent inventory import <file>`.")
        })?);
        *current = Some((revision, site.clone()));
        Ok(site)
    }
}
