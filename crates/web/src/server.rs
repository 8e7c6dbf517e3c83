//! Running the router: HTTP, or HTTPS with rustls, until a shutdown future resolves.
//!
//! TLS handshakes run in their own tasks (at most [`MAX_HANDSHAKES`] at once, each at most
//! [`HANDSHAKE_TIMEOUT`]), so a slow or silent client never holds up the accept loop. On
//! shutdown the server stops accepting, lets open requests finish, and closes what is still
//! open (long-lived live-video WebSockets) after [`SHUTDOWN_GRACE`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::AppState;

/// Concurrent TLS handshakes at most.
pub const MAX_HANDSHAKES: usize = 256;
/// A TLS handshake taking longer is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections may run on after shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How the web server speaks TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP (for 127.0.0.1 or behind a TLS-terminating proxy).
    Off,
    /// A self-signed certificate generated on first run under `DATA/tls/`.
    SelfSigned,
    /// A certificate chain and private key from PEM files.
    Files { cert: PathBuf, key: PathBuf },
}

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct WebConfig {
    pub listen: SocketAddr,
    pub tls: TlsMode,
    /// Where the self-signed certificate is kept.
    pub data_dir: PathBuf,
}

/// Errors starting the web server.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "cannot listen on {addr}: {source} (is another program using the port? change web_listen)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// A bound, not yet serving, web server: [`Bound::local_addr`] gives the real port (when
/// configured as 0) before [`Bound::serve`] starts answering.
pub struct Bound {
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    local: SocketAddr,
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
    /// Whether this server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
    /// The base URL (`http://…` or `https://…`).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.is_tls() { "https" } else { "http" },
            self.local
        )
    }

    /// Serves `state`'s router until `shutdown` resolves.
    pub async fn serve(
        self,
        state: AppState,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), WebError> {
        let app = crate::router(state);
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        let graceful = {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|v| *v).await;
            }
        };
        let hard_stop = {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|v| *v).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            }
        };
        let local = self.local;
        let res = match self.tls {
            None => {
                let l = self.listener.tap_io(|tcp: &mut TcpStream| {
                    let _ = tcp.set_nodelay(true);
                });
                let server =
                    axum::serve(l, app.into_make_service_with_connect_info::<SocketAddr>())
                        .with_graceful_shutdown(graceful);
                tokio::select! {
                    r = server => r,
                    _ = hard_stop => Ok(()),
                }
            }
            Some(cfg) => {
                let l = TlsListener::start(self.listener, cfg, local).tap_io(|_| {});
                let server =
                    axum::serve(l, app.into_make_service_with_connect_info::<SocketAddr>())
                        .with_graceful_shutdown(graceful);
                tokio::select! {
                    r = server => r,
                    _ = hard_stop => Ok(()),
                }
            }
        };
        info!(%local, "web server stopped");
        res.map_err(|e| WebError::Io {
            what: "serving HTTP".into(),
            source: e,
        })
    }
}

/// Binds the listening socket and prepares TLS (generating the self-signed certificate on
/// first run).
pub async fn bind(cfg: &WebConfig) -> Result<Bound, WebError> {
    let tls = match &cfg.tls {
        TlsMode::Off => None,
        TlsMode::SelfSigned => {
            let mut names = Vec::new();
            if !cfg.listen.ip().is_unspecified() {
                names.push(cfg.listen.ip().to_string());
            }
            if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
                names.push(h.trim().to_string());
            }
            let dir = cfg.data_dir.clone();
            let (c, k) =
                tokio::task::spawn_blocking(move || crate::tls::ensure_self_signed(&dir, &names))
                    .await
                    .map_err(|e| WebError::Tls(e.to_string()))??;
            Some(crate::tls::server_config(&c, &k)?)
        }
        TlsMode::Files { cert, key } => Some(crate::tls::server_config(cert, key)?),
    };
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| WebError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| WebError::Bind {
        addr: cfg.listen,
        source,
    })?;
    Ok(Bound {
        listener,
        tls,
        local,
    })
}

/// Binds and serves until `shutdown` resolves.
pub async fn serve(
    cfg: WebConfig,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let b = bind(&cfg).await?;
    info!(url = %b.url(), "web UI listening");
    b.serve(state, shutdown).await
}

/// Accepted connections after their TLS handshake.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl TlsListener {
    fn start(tcp: TcpListener, cfg: Arc<rustls::ServerConfig>, local: SocketAddr) -> TlsListener {
        let (tx, rx) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(cfg);
        let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let acceptor_task = tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener {
            rx,
            local,
            acceptor_task,
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The acceptor task ended (it only does when aborted): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
