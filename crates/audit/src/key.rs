//! The recorder's Ed25519 key: made on first start, kept in `DATA/keys/`.
//!
//! - `recorder-ed25519.pem`: the private key, PKCS#8 PEM, mode 0600 (directory 0700);
//! - `recorder-ed25519.pub.pem`: the public key, SPKI PEM, which `openssl pkey -pubin`
//!   reads and evidence packages carry.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use tracing::info;

use crate::AuditError;

/// Directory of the keys inside the data directory.
pub const KEYS_DIR: &str = "keys";
/// File name of the private key (PKCS#8 PEM).
pub const PRIVATE_KEY_FILE: &str = "recorder-ed25519.pem";
/// File name of the public key (SPKI PEM).
pub const PUBLIC_KEY_FILE: &str = "recorder-ed25519.pub.pem";

/// The recorder's signing key. Cheap to clone.
#[derive(Clone)]
pub struct RecorderKey {
    signing: SigningKey,
    public_pem: String,
}

impl std::fmt::Debug for RecorderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderKey")
            .field(
                "public",
                &hex::encode(self.signing.verifying_key().as_bytes()),
            )
            .finish_non_exhaustive()
    }
}

fn key_err(path: &Path, detail: impl std::fmt::Display) -> AuditError {
    AuditError::Key {
        path: path.to_owned(),
        detail: detail.to_string(),
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> AuditError {
    AuditError::Io {
        what: what.to_string(),
        path: path.to_owned(),
        source: e,
    }
}

impl RecorderKey {
    /// Path of the private key inside `data_dir`.
    pub fn private_path(data_dir: &Path) -> PathBuf {
        data_dir.join(KEYS_DIR).join(PRIVATE_KEY_FILE)
    }

    /// Path of the public key inside `data_dir`.
    pub fn public_path(data_dir: &Path) -> PathBuf {
        data_dir.join(KEYS_DIR).join(PUBLIC_KEY_FILE)
    }

    /// Loads the key from `data_dir/keys/`, or makes one (from the OS's random source) and
    /// stores it there. The public key file is (re)written when it is missing.
    pub fn load_or_create(data_dir: &Path) -> Result<RecorderKey, AuditError> {
        let dir = data_dir.join(KEYS_DIR);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io_err("create directory", &dir, e))?;
        let private = Self::private_path(data_dir);
        let signing = match fs::read_to_string(&private) {
            Ok(pem) => SigningKey::from_pkcs8_pem(&pem).map_err(|e| key_err(&private, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret: [u8; 32] = rand::random();
                let signing = SigningKey::from_bytes(&secret);
                // PKCS#8 v1 (private key only): OpenSSL 3.0 refuses the v2 form with the
                // public key that `SigningKey::to_pkcs8_pem` writes.
                let pem = KeypairBytes {
                    secret_key: secret,
                    public_key: None,
                }
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| key_err(&private, e))?;
                write_new(&private, pem.as_bytes(), 0o600)?;
                info!(path = %private.display(), "made the recorder's Ed25519 key");
                signing
            }
            Err(e) => return Err(io_err("read", &private, e)),
        };
        let key = RecorderKey::from_signing(signing)?;
        let public = Self::public_path(data_dir);
        let current = fs::read_to_string(&public).ok();
        if current.as_deref() != Some(key.public_pem.as_str()) {
            write_new(&public, key.public_pem.as_bytes(), 0o644)?;
        }
        Ok(key)
    }

    /// A key from raw secret bytes (tests, benchmarks).
    pub fn from_secret(secret: [u8; 32]) -> RecorderKey {
        RecorderKey::from_signing(SigningKey::from_bytes(&secret))
            .expect("an Ed25519 public key always encodes")
    }

    fn from_signing(signing: SigningKey) -> Result<RecorderKey, AuditError> {
        let public_pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| key_err(Path::new("<public key>"), e))?;
        Ok(RecorderKey {
            signing,
            public_pem,
        })
    }

    /// Signs `msg` (pure Ed25519, as `openssl pkeyutl -sign -rawin` does).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }

    /// The public key as SPKI PEM.
    pub fn public_pem(&self) -> String {
        self.public_pem.clone()
    }

    /// The raw 32-byte public key.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// Whether `sig` is a valid signature of `msg` by the key in `pub_pem` (SPKI PEM).
    /// A malformed key or signature is simply "not valid".
    pub fn verify(pub_pem: &str, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(key) = VerifyingKey::from_public_key_pem(pub_pem.trim()) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        key.verify_strict(msg, &sig).is_ok()
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory (created with
/// `mode`), fsynced and renamed into place.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), AuditError> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| io_err("create", &tmp, e))?;
    f.write_all(bytes).map_err(|e| io_err("write", &tmp, e))?;
    f.sync_all().map_err(|e| io_err("sync", &tmp, e))?;
    // The umask may have narrowed a 0644; set it exactly.
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .map_err(|e| io_err("set permissions of", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_err("rename", path, e))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_made_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = RecorderKey::load_or_create(dir.path()).unwrap();
        let b = RecorderKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.public_bytes(), b.public_bytes());
        let mode = fs::metadata(RecorderKey::private_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let sig = a.sign(b"hello");
        assert!(RecorderKey::verify(&b.public_pem(), b"hello", &sig));
        assert!(!RecorderKey::verify(&b.public_pem(), b"hellp", &sig));
        assert!(!RecorderKey::verify("junk", b"hello", &sig));
        assert!(!RecorderKey::verify(&b.public_pem(), b"hello", &sig[..63]));
        let on_disk = fs::read_to_string(RecorderKey::public_path(dir.path())).unwrap();
        assert_eq!(on_disk, a.public_pem());
    }

    /// OpenSSL reads both files and verifies a signature made here (the evidence package's
    /// offline check depends on it). Fails when openssl is missing.
    #[test]
    fn openssl_reads_the_keys_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let key = RecorderKey::load_or_create(dir.path()).unwrap();
        let msg = dir.path().join("msg");
        let sig = dir.path().join("sig");
        fs::write(&msg, b"manifest bytes").unwrap();
        fs::write(&sig, key.sign(b"manifest bytes")).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-in"])
            .arg(RecorderKey::private_path(dir.path()))
            .args(["-noout", "-text"])
            .output()
            .expect("openssl must be installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = std::process::Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(RecorderKey::public_path(dir.path()))
            .args(["-rawin", "-in"])
            .arg(&msg)
            .arg("-sigfile")
            .arg(&sig)
            .output()
            .expect("openssl must be installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
