//! TLS with rustls (ring provider): a certificate and key given as PEM files, or a
//! self-signed certificate generated with rcgen on first run and kept in the data
//! directory (`tls/cert.pem`, `tls/key.pem`, the key readable by its owner only).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tracing::info;

use crate::server::WebError;

/// Where the self-signed certificate lives under the data directory.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let d = data_dir.join("tls");
    (d.join("cert.pem"), d.join("key.pem"))
}

/// The self-signed certificate of `data_dir`, generated (for `names`, plus `localhost` and
/// `127.0.0.1`) if there is none yet. Returns the certificate and key paths.
pub fn ensure_self_signed(
    data_dir: &Path,
    names: &[String],
) -> Result<(PathBuf, PathBuf), WebError> {
    let (cert, key) = self_signed_paths(data_dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let mut sans: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for n in names {
        if !n.is_empty() && !sans.contains(n) {
            sans.push(n.clone());
        }
    }
    let ck = rcgen::generate_simple_self_signed(sans.clone())
        .map_err(|e| WebError::Tls(format!("generating a self-signed certificate: {e}")))?;
    let dir = cert.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(dir).map_err(|e| WebError::Io {
        what: format!("creating {}", dir.display()),
        source: e,
    })?;
    write_file(&key, ck.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert, ck.cert.pem().as_bytes(), 0o644)?;
    info!(cert = %cert.display(), ?sans, "generated a self-signed TLS certificate");
    Ok((cert, key))
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WebError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| WebError::Io {
        what: format!("writing {}", path.display()),
        source: e,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

/// A rustls server configuration (ring provider, TLS 1.2 and 1.3, HTTP/1.1) for the PEM
/// certificate chain `cert` and private key `key`.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, WebError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| WebError::Tls(format!("reading certificate {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| WebError::Tls(format!("reading certificate {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(WebError::Tls(format!(
            "{} holds no PEM certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| WebError::Tls(format!("reading private key {}: {e}", key.display())))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| WebError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| WebError::Tls(format!("certificate and key do not fit: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_generated_once_with_a_private_key() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let (c, k) = ensure_self_signed(d.path(), &["vigil.school".into()]).unwrap();
        let mode = std::fs::metadata(&k).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = std::fs::read(&c).unwrap();
        ensure_self_signed(d.path(), &[]).unwrap();
        assert_eq!(std::fs::read(&c).unwrap(), first, "kept, not regenerated");
        server_config(&c, &k).unwrap();
    }

    #[test]
    fn a_missing_certificate_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let e = server_config(&d.path().join("no.pem"), &d.path().join("no.key"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("no.pem"), "{e}");
    }
}
