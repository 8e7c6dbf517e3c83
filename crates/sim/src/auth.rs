//! RTSP authentication as cameras do it: HTTP Basic, or Digest (RFC 2617 / RFC 7616 with
//! MD5), with or without `qop=auth`.

use base64::Engine;
use md5::{Digest as _, Md5};

/// Credentials the simulated cameras require.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic` only.
    Basic { user: String, pass: String },
    /// `Authorization: Digest` only (MD5; `qop=auth` optional).
    Digest { user: String, pass: String },
}

/// The realm announced in challenges.
pub const REALM: &str = "vigil-sim";

impl Auth {
    /// The `WWW-Authenticate` header value for a 401, with `nonce` for Digest.
    pub(crate) fn challenge(&self, nonce: &str) -> String {
        match self {
            Auth::Basic { .. } => format!("Basic realm=\"{REALM}\""),
            Auth::Digest { .. } => {
                format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=MD5")
            }
        }
    }

    /// Whether the `Authorization` header value authorizes `method` for this connection,
    /// whose challenge carried `nonce`.
    pub(crate) fn check(&self, header: Option<&str>, method: &str, nonce: &str) -> bool {
        let Some(h) = header.map(str::trim) else {
            return false;
        };
        match self {
            Auth::Basic { user, pass } => {
                let Some(b64) = strip_scheme(h, "Basic") else {
                    return false;
                };
                let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
                    return false;
                };
                let want = format!("{user}:{pass}");
                constant_time_eq(&raw, want.as_bytes())
            }
            Auth::Digest { user, pass } => {
                let Some(params) = strip_scheme(h, "Digest") else {
                    return false;
                };
                let p = parse_params(params);
                let get = |k: &str| {
                    p.iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.as_str())
                };
                let (Some(username), Some(realm), Some(n), Some(uri), Some(response)) = (
                    get("username"),
                    get("realm"),
                    get("nonce"),
                    get("uri"),
                    get("response"),
                ) else {
                    return false;
                };
                if username != user || realm != REALM || n != nonce {
                    return false;
                }
                if get("algorithm").is_some_and(|a| !a.eq_ignore_ascii_case("MD5")) {
                    return false;
                }
                let ha1 = md5_hex(&format!("{user}:{REALM}:{pass}"));
                let ha2 = md5_hex(&format!("{method}:{uri}"));
                let want = match get("qop") {
                    None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
                    Some(q) if q.eq_ignore_ascii_case("auth") => {
                        let (Some(nc), Some(cnonce)) = (get("nc"), get("cnonce")) else {
                            return false;
                        };
                        md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
                    }
                    Some(_) => return false,
                };
                constant_time_eq(response.to_ascii_lowercase().as_bytes(), want.as_bytes())
            }
        }
    }
}

fn strip_scheme<'a>(h: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = h.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// Parses `k=v, k="v, with comma"` lists.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    // Each round consumes at least one byte.
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b',' || b[i] == b'\t') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = s[ks..i].trim().to_owned();
        if i >= b.len() || b[i] != b'=' {
            if !key.is_empty() {
                out.push((key, String::new()));
            }
            i += 1;
            continue;
        }
        i += 1;
        let val = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                let ch = s[i..].chars().next().unwrap_or(' ');
                v.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
            v
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            s[vs..i].trim().to_owned()
        };
        out.push((key, val));
    }
    out
}

pub(crate) fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Auth {
        Auth::Digest {
            user: "admin".into(),
            pass: "s3cret".into(),
        }
    }

    fn response(pass: &str, nonce: &str, qop: Option<(&str, &str)>) -> String {
        let ha1 = md5_hex(&format!("admin:{REALM}:{pass}"));
        let ha2 = md5_hex("DESCRIBE:rtsp://127.0.0.1/cam1/main");
        match qop {
            None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
            Some((nc, cn)) => md5_hex(&format!("{ha1}:{nonce}:{nc}:{cn}:auth:{ha2}")),
        }
    }

    #[test]
    fn digest_without_qop() {
        let r = response("s3cret", "abc", None);
        let h = format!(
            "Digest username=\"admin\", realm=\"{REALM}\", nonce=\"abc\", uri=\"rtsp://127.0.0.1/cam1/main\", response=\"{r}\""
        );
        assert!(digest().check(Some(&h), "DESCRIBE", "abc"));
        assert!(!digest().check(Some(&h), "DESCRIBE", "other-nonce"));
        assert!(!digest().check(Some(&h), "SETUP", "abc"));
        let bad = response("wrong", "abc", None);
        assert!(!digest().check(Some(&h.replace(&r, &bad)), "DESCRIBE", "abc"));
        assert!(!digest().check(None, "DESCRIBE", "abc"));
    }

    #[test]
    fn digest_with_qop_auth() {
        let r = response("s3cret", "n1", Some(("00000001", "xyz")));
        let h = format!(
            "Digest username=\"admin\",realm=\"{REALM}\",nonce=\"n1\",uri=\"rtsp://127.0.0.1/cam1/main\",qop=auth,nc=00000001,cnonce=\"xyz\",response=\"{r}\",algorithm=MD5"
        );
        assert!(digest().check(Some(&h), "DESCRIBE", "n1"));
    }

    #[test]
    fn basic_only_where_configured() {
        let b = Auth::Basic {
            user: "u".into(),
            pass: "p".into(),
        };
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("u:p")
        );
        assert!(b.check(Some(&h), "DESCRIBE", ""));
        assert!(!b.check(Some("Basic dTpx"), "DESCRIBE", ""));
        assert!(!digest().check(Some(&h), "DESCRIBE", "n"));
        assert!(b.challenge("n").starts_with("Basic realm="));
        assert!(digest().challenge("n").contains("nonce=\"n\""));
    }
}
