//! The canonical bytes of an audit row and of a seal, and the chain's hash.
//!
//! Row bytes: `"vigil-audit-v1\0"` ‖ seq (u64 BE) ‖ time (i64 BE, Unix ms) ‖ actor (opt) ‖
//! action (str) ‖ target (str) ‖ detail (str, the JSON text as stored) ‖ client (opt), where
//! str = length (u32 BE) ‖ UTF-8 bytes and opt = `0` | `1` ‖ str. The row's hash is
//! SHA-256(prev_hash ‖ row bytes).
//!
//! Seal bytes (what the recorder key signs): `"vigil-audit-seal-v1\0"` ‖ id (u64 BE) ‖
//! seq (u64 BE) ‖ hash (32 bytes) ‖ time (i64 BE, Unix ms).

use sha2::{Digest, Sha256};

/// `prev_hash` of the first row.
pub const GENESIS: [u8; 32] = [0; 32];

const ROW_TAG: &[u8] = b"vigil-audit-v1\0";
const SEAL_TAG: &[u8] = b"vigil-audit-seal-v1\0";

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// The canonical bytes of a row's content.
#[allow(clippy::too_many_arguments)]
pub fn row_bytes(
    seq: u64,
    time_ms: i64,
    actor: Option<&str>,
    action: &str,
    target: &str,
    detail: &str,
    client: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + action.len() + target.len() + detail.len());
    out.extend_from_slice(ROW_TAG);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&time_ms.to_be_bytes());
    put_opt(&mut out, actor);
    put_str(&mut out, action);
    put_str(&mut out, target);
    put_str(&mut out, detail);
    put_opt(&mut out, client);
    out
}

/// SHA-256(prev ‖ row bytes).
pub fn row_hash(prev: &[u8; 32], row_bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(row_bytes);
    h.finalize().into()
}

/// The bytes a seal signs.
pub fn seal_bytes(id: u64, seq: u64, hash: &[u8; 32], time_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEAL_TAG.len() + 56);
    out.extend_from_slice(SEAL_TAG);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(hash);
    out.extend_from_slice(&time_ms.to_be_bytes());
    out
}

/// A 32-byte value from a BLOB column (wrong lengths become zeros, which never match).
pub fn blob32(v: Option<Vec<u8>>) -> [u8; 32] {
    v.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .unwrap_or([0; 32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        let a = row_bytes(1, 2, Some("ab"), "c", "t", "{}", None);
        let b = row_bytes(1, 2, Some("a"), "bc", "t", "{}", None);
        assert_ne!(a, b);
        let c = row_bytes(1, 2, None, "c", "t", "{}", None);
        let d = row_bytes(1, 2, Some(""), "c", "t", "{}", None);
        assert_ne!(c, d);
        assert_ne!(row_hash(&GENESIS, &a), row_hash(&GENESIS, &b));
    }
}
