//! [`verify`]: checks a package offline and says AUTHENTIC or exactly what is wrong.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::package::{
    CameraFile, CUSTODY_FILE, FORMAT, MANIFEST_FILE, PUBLIC_KEY_FILE, SHA256SUMS_FILE,
    SIGNATURE_FILE,
};

/// The outcome of [`verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Everything that is wrong; empty when the package is authentic.
    pub problems: Vec<String>,
    /// What was checked and found right.
    pub checked: Vec<String>,
    /// The package's request, operator and range, when the manifest could be read.
    pub summary: Option<String>,
    /// SHA-256 of the public key used (hex), so it can be compared with the published one.
    pub key_fingerprint: Option<String>,
}

impl VerifyReport {
    pub fn is_authentic(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(s) = &self.summary {
            writeln!(f, "{s}")?;
        }
        if let Some(k) = &self.key_fingerprint {
            writeln!(f, "recorder key sha256: {k}")?;
        }
        for c in &self.checked {
            writeln!(f, "ok: {c}")?;
        }
        for p in &self.problems {
            writeln!(f, "WRONG: {p}")?;
        }
        if self.is_authentic() {
            write!(f, "AUTHENTIC")
        } else {
            write!(f, "NOT AUTHENTIC: {} problem(s)", self.problems.len())
        }
    }
}

#[derive(Deserialize)]
struct Manifest {
    format: String,
    request: serde_json::Value,
    operator: String,
    range: Range,
    cameras: Vec<CameraFile>,
}

#[derive(Deserialize)]
struct Range {
    start: String,
    end: String,
}

/// SHA-256 and size of a file, read in 1 MiB blocks.
fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Verifies the package in `dir` with the public key it carries. Checks: the manifest's
/// signature; every MP4's presence, size and SHA-256 against the manifest; every line of
/// `SHA256SUMS`; that nothing listed is missing and nothing unexpected was added.
/// (Compare [`VerifyReport::key_fingerprint`] with the recorder's published key, or use
/// [`verify_with_key`].)
pub fn verify(dir: &Path) -> VerifyReport {
    verify_inner(dir, None)
}

/// [`verify`], also requiring the package's key to be `trusted_pub_pem` (the recorder's
/// own public key, obtained independently of the package).
pub fn verify_with_key(dir: &Path, trusted_pub_pem: &str) -> VerifyReport {
    verify_inner(dir, Some(trusted_pub_pem))
}

fn verify_inner(dir: &Path, trusted: Option<&str>) -> VerifyReport {
    let mut r = VerifyReport::default();
    if !dir.is_dir() {
        r.problems
            .push(format!("{} is not a directory", dir.display()));
        return r;
    }
    let read = |name: &str, r: &mut VerifyReport| -> Option<Vec<u8>> {
        match std::fs::read(dir.join(name)) {
            Ok(b) => Some(b),
            Err(e) => {
                r.problems.push(format!("{name} cannot be read: {e}"));
                None
            }
        }
    };
    let manifest = read(MANIFEST_FILE, &mut r);
    let sig = read(SIGNATURE_FILE, &mut r);
    let pem = read(PUBLIC_KEY_FILE, &mut r).map(|b| String::from_utf8_lossy(&b).into_owned());

    // 1. The signature.
    if let Some(pem) = &pem {
        r.key_fingerprint = Some(hex::encode(Sha256::digest(pem.trim().as_bytes())));
        if let Some(t) = trusted {
            if t.trim() != pem.trim() {
                r.problems.push(format!(
                    "{PUBLIC_KEY_FILE} is not the recorder's key given for the check: the package was signed by another key"
                ));
            }
        }
    }
    if let (Some(m), Some(s), Some(pem)) = (&manifest, &sig, &pem) {
        if s.len() != 64 {
            r.problems.push(format!(
                "{SIGNATURE_FILE} is {} bytes, an Ed25519 signature is 64",
                s.len()
            ));
        } else if audit::RecorderKey::verify(pem, m, s) {
            r.checked.push(format!(
                "{SIGNATURE_FILE}: the recorder's signature over {MANIFEST_FILE} verifies"
            ));
        } else {
            r.problems.push(format!(
                "{SIGNATURE_FILE} does not verify: {MANIFEST_FILE} or the signature was altered (or signed by another key)"
            ));
        }
    }

    // 2. The files the manifest lists.
    let mut expected: BTreeMap<String, ()> = BTreeMap::new();
    for f in [
        MANIFEST_FILE,
        SIGNATURE_FILE,
        PUBLIC_KEY_FILE,
        SHA256SUMS_FILE,
        CUSTODY_FILE,
        crate::README_FILE,
    ] {
        expected.insert(f.to_string(), ());
    }
    if let Some(m) = &manifest {
        match serde_json::from_slice::<Manifest>(m) {
            Ok(man) => {
                if man.format != FORMAT {
                    r.problems.push(format!(
                        "{MANIFEST_FILE}: unknown format {:?} (expected {FORMAT})",
                        man.format
                    ));
                }
                r.summary = Some(format!(
                    "request {} ({}), exported by {}, {} → {}",
                    man.request
                        .get("id")
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    man.request
                        .get("purpose")
                        .and_then(|v| v.as_str())
                        .unwrap_or(""),
                    man.operator,
                    man.range.start,
                    man.range.end
                ));
                for c in &man.cameras {
                    expected.insert(c.file.clone(), ());
                    if c.file.contains('/') || c.file.contains("..") {
                        r.problems.push(format!(
                            "{MANIFEST_FILE} names a file outside the package: {}",
                            c.file
                        ));
                        continue;
                    }
                    match hash_file(&dir.join(&c.file)) {
                        Err(e) => r.problems.push(format!(
                            "{} (camera {}) cannot be read: {e}",
                            c.file, c.name
                        )),
                        Ok((h, n)) => {
                            if n != c.bytes {
                                r.problems.push(format!(
                                    "{} (camera {}) is {n} bytes, the manifest says {}",
                                    c.file, c.name, c.bytes
                                ));
                            }
                            if h != c.sha256 {
                                r.problems.push(format!(
                                    "{} (camera {}) was altered: its SHA-256 is {h}, the manifest says {}",
                                    c.file, c.name, c.sha256
                                ));
                            } else if n == c.bytes {
                                r.checked.push(format!(
                                    "{}: {} bytes, SHA-256 as in the manifest ({} segments, {} holes)",
                                    c.file,
                                    n,
                                    c.segments.len(),
                                    c.holes.len()
                                ));
                            }
                        }
                    }
                }
            }
            Err(e) => r
                .problems
                .push(format!("{MANIFEST_FILE} is not a valid manifest: {e}")),
        }
    }

    // 3. SHA256SUMS, line by line (what `sha256sum -c` checks).
    if let Some(sums) = read(SHA256SUMS_FILE, &mut r) {
        let text = String::from_utf8_lossy(&sums);
        let mut lines = 0;
        for line in text.lines().take(10_000) {
            let Some((h, f)) = line.split_once("  ") else {
                r.problems
                    .push(format!("{SHA256SUMS_FILE}: malformed line {line:?}"));
                continue;
            };
            lines += 1;
            if f.contains('/') || f.contains("..") {
                r.problems.push(format!(
                    "{SHA256SUMS_FILE} names a file outside the package: {f}"
                ));
                continue;
            }
            expected.insert(f.to_string(), ());
            match hash_file(&dir.join(f)) {
                Ok((actual, _)) if actual == h => {}
                Ok(_) => r.problems.push(format!(
                    "{f} does not match its line in {SHA256SUMS_FILE}: altered"
                )),
                Err(e) => r.problems.push(format!(
                    "{f} (listed in {SHA256SUMS_FILE}) cannot be read: {e}"
                )),
            }
        }
        let unlisted_required = [MANIFEST_FILE, SIGNATURE_FILE, PUBLIC_KEY_FILE]
            .into_iter()
            .filter(|f| {
                !text
                    .lines()
                    .any(|l| l.split_once("  ").map(|(_, x)| x) == Some(f))
            });
        for f in unlisted_required {
            r.problems
                .push(format!("{SHA256SUMS_FILE} does not list {f}"));
        }
        if lines > 0 {
            r.checked.push(format!("{SHA256SUMS_FILE}: {lines} files"));
        }
    }

    // 4. Nothing added.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten().take(10_000) {
            let name = e.file_name().to_string_lossy().into_owned();
            if !expected.contains_key(&name) {
                r.problems
                    .push(format!("{name} is not part of the package (added later)"));
            }
        }
    }
    r
}
