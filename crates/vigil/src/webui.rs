//! Starting the web UI next to the recorder (`vigil serve`, `vigil demo`).

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::oneshot;
use tracing::{error, info};

use crate::config::Config;

/// A running web server.
pub struct WebHandle {
    /// The base URL it answers on (`http://…` or `https://…`, the real port).
    pub url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl WebHandle {
    /// Stops the server (open connections get a few seconds to finish).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// Binds and starts the web UI of `cfg` over the recorder's `store`, `live` registry and
/// `audit` trail;
/// `None` when the config has no `web_listen`.
pub async fn start(
    cfg: &Config,
    store: store::Store,
    live: web::LiveRegistry,
    audit: audit::Audit,
) -> Result<Option<WebHandle>> {
    let Some(wcfg) = cfg.web_config() else {
        info!("web UI disabled (web_listen is empty)");
        return Ok(None);
    };
    let db = cfg.data_dir.join(store::DB_FILE);
    let govern = tokio::task::spawn_blocking(move || govern::Govern::open(&db))
        .await?
        .context("opening the user database")?;
    let bound = web::server::bind(&wcfg)
        .await
        .context("starting the web UI")?;
    let url = bound.url();
    let mut settings = web::Settings::new(cfg.data_dir.clone());
    settings.idle_timeout = Duration::from_secs(u64::from(cfg.idle_timeout_minutes) * 60);
    settings.secure_cookies = bound.is_tls();
    settings.utc_offset_minutes = cfg.utc_offset_minutes;
    settings.export_dir = Some(cfg.export_dir());
    let state = web::AppState::new(store, govern.clone(), audit, live, settings);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        if let Err(e) = bound
            .serve(state, async move {
                let _ = stopped.await;
            })
            .await
        {
            error!("web UI: {e}");
        }
    });
    if !govern.has_users().unwrap_or(true) {
        info!("no user exists yet: open {url}/setup to create the first administrator, or run `vigil user add NAME --role administrator`");
    }
    info!(%url, "web UI listening");
    Ok(Some(WebHandle { url, stop, task }))
}
