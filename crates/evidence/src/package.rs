//! Writing a package: [`export`], and the custody log ([`append_custody`]).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use media::time::format_ticks;
use media::Ticks;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::info;

use crate::{io_err, EvidenceError};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const SIGNATURE_FILE: &str = "manifest.sig";
pub const PUBLIC_KEY_FILE: &str = "recorder-ed25519.pub.pem";
pub const SHA256SUMS_FILE: &str = "SHA256SUMS";
pub const README_FILE: &str = "README.txt";
pub const CUSTODY_FILE: &str = "custody.log";

/// Checks every file's hash (run inside the package directory).
pub const SHA256SUMS_COMMAND: &str = "sha256sum -c SHA256SUMS";
/// Checks the manifest's signature (run inside the package directory).
pub const OPENSSL_COMMAND: &str = "openssl pkeyutl -verify -pubin -inkey recorder-ed25519.pub.pem -rawin -in manifest.json -sigfile manifest.sig";

/// The manifest's format name.
pub(crate) const FORMAT: &str = "vigil-evidence-1";

/// What to export, filled in by the caller from an approved request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSpec {
    pub request_id: i64,
    /// The request's purpose (as shown to people, e.g. "Xử lý vi phạm").
    pub purpose: String,
    pub reason: String,
    /// Who asked, who approved, who performs the export (names as shown).
    pub requester: String,
    pub approver: String,
    pub operator: String,
    /// (camera id, camera name, id of the stream to export — normally the main stream).
    pub cameras: Vec<(i64, String, i64)>,
    /// The requested window, 90 kHz wall ticks, `[start, end)`.
    pub start: Ticks,
    pub end: Ticks,
}

/// One camera's MP4 in a package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraFile {
    pub camera_id: i64,
    pub name: String,
    pub stream_id: i64,
    /// File name inside the package.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    /// Times actually covered (the first key frame at or before the request's start, to the
    /// end of the last frame before its end), RFC 3339 UTC.
    pub start: String,
    pub end: String,
    pub frames: u64,
    /// Stretches without recording inside the range (covered by the previous frame).
    pub holes: Vec<Hole>,
    /// The source segments, in order.
    pub segments: Vec<SourceSegment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hole {
    pub from: String,
    pub to: String,
    pub seconds: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSegment {
    pub seq: i64,
    pub start: String,
    pub end: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A written package.
#[derive(Clone, Debug)]
pub struct Package {
    /// The package's directory.
    pub dir: PathBuf,
    /// Its name (the directory's file name).
    pub name: String,
    pub cameras: Vec<CameraFile>,
    /// Cameras with nothing recorded in the range (named in the manifest).
    pub cameras_without_footage: Vec<(i64, String)>,
    /// SHA-256 of `manifest.json` (hex).
    pub manifest_sha256: String,
    /// Total bytes of the MP4s.
    pub video_bytes: u64,
    /// The audit event that records the export.
    pub audit_seq: u64,
}

fn safe_name(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if out.is_empty() {
        "camera".into()
    } else {
        out
    }
}

fn compact_time(t: Ticks) -> String {
    // "2024-05-01T00:00:00.000Z" → "20240501T000000Z"
    let s = format_ticks(t);
    let digits: String = s[..19].chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{digits}Z")
}

fn now_ticks() -> Ticks {
    audit::now_ms() * 90
}

/// Writes an evidence package for `spec` into a new directory under `out_dir` (see the
/// crate documentation for its contents), signs its manifest with `key`, and records
/// `export.create` in the audit trail (the manifest carries the chain's head before it;
/// the event carries the manifest's hash). Sample data is copied from the segment files
/// as recorded, never re-encoded. The package appears under its final name only when
/// complete.
pub fn export(
    store: &store::Store,
    audit: &audit::Audit,
    key: &audit::RecorderKey,
    spec: &ExportSpec,
    out_dir: &Path,
) -> Result<Package, EvidenceError> {
    if spec.end <= spec.start {
        return Err(EvidenceError::BadRange {
            start: format_ticks(spec.start),
            end: format_ticks(spec.end),
        });
    }
    if spec.cameras.is_empty() {
        return Err(EvidenceError::NoCameras);
    }
    // Refused rather than cut short: the open segment has no file hash yet.
    for (camera, name, stream) in &spec.cameras {
        let open = store
            .writing_since(*stream)
            .map_err(|source| EvidenceError::Store {
                camera: *camera,
                name: name.clone(),
                source,
            })?;
        if let Some(since) = open.filter(|&since| since < spec.end) {
            return Err(EvidenceError::StillRecording {
                camera: *camera,
                name: name.clone(),
                since,
            });
        }
    }
    let exported_at = now_ticks();
    let base = format!(
        "evidence-req{}-{}",
        spec.request_id,
        compact_time(exported_at)
    );
    fs::create_dir_all(out_dir).map_err(|e| io_err("create directory", out_dir, e))?;
    let mut name = base.clone();
    for i in 2..1000 {
        if !out_dir.join(&name).exists() && !out_dir.join(format!(".{name}.partial")).exists() {
            break;
        }
        name = format!("{base}-{i}");
    }
    let partial = out_dir.join(format!(".{name}.partial"));
    fs::create_dir(&partial).map_err(|e| io_err("create directory", &partial, e))?;
    let result = write_package(store, audit, key, spec, &partial, &name, exported_at);
    let (cameras, without, manifest_sha256) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    let dir = out_dir.join(&name);
    fs::rename(&partial, &dir).map_err(|e| io_err("rename", &partial, e))?;
    sync_dir(out_dir);
    let video_bytes = cameras.iter().map(|c| c.bytes).sum();
    let audit_seq = audit.record(
        audit::Event::new("export.create", format!("request:{}", spec.request_id))
            .by(&spec.operator)
            .detail(json!({
                "package": name,
                "manifest_sha256": manifest_sha256,
                "cameras": spec.cameras.iter().map(|c| c.0).collect::<Vec<_>>(),
                "from": format_ticks(spec.start),
                "to": format_ticks(spec.end),
                "bytes": video_bytes,
                "requester": spec.requester,
                "approver": spec.approver,
            })),
    )?;
    info!(package = %dir.display(), bytes = video_bytes, "evidence package written");
    Ok(Package {
        dir,
        name,
        cameras,
        cameras_without_footage: without,
        manifest_sha256,
        video_bytes,
        audit_seq,
    })
}

type Written = (Vec<CameraFile>, Vec<(i64, String)>, String);

fn write_package(
    store: &store::Store,
    audit: &audit::Audit,
    key: &audit::RecorderKey,
    spec: &ExportSpec,
    dir: &Path,
    name: &str,
    exported_at: Ticks,
) -> Result<Written, EvidenceError> {
    let mut cameras = Vec::new();
    let mut without = Vec::new();
    for (camera_id, cam_name, stream_id) in &spec.cameras {
        let e = match store.progressive(*stream_id, spec.start, spec.end) {
            Ok(e) => e,
            Err(store::Error::NoFootage { .. }) => {
                without.push((*camera_id, cam_name.clone()));
                continue;
            }
            Err(source) => {
                return Err(EvidenceError::Store {
                    camera: *camera_id,
                    name: cam_name.clone(),
                    source,
                })
            }
        };
        let file = format!("camera-{camera_id}-{}.mp4", safe_name(cam_name));
        let path = dir.join(&file);
        let (hash, bytes) =
            crate::mp4out::write_mp4(&e.mp4.parts, &e.sources, &path).map_err(|f| match f {
                crate::mp4out::Failure::Output(err) => io_err("write", &path, err),
                crate::mp4out::Failure::Source(source) => EvidenceError::Store {
                    camera: *camera_id,
                    name: cam_name.clone(),
                    source,
                },
            })?;
        debug_assert_eq!(bytes, e.mp4.len);
        cameras.push(CameraFile {
            camera_id: *camera_id,
            name: cam_name.clone(),
            stream_id: *stream_id,
            file,
            bytes,
            sha256: hex::encode(hash),
            start: format_ticks(e.start),
            end: format_ticks(e.end),
            frames: e.frames,
            holes: e
                .holes
                .iter()
                .map(|(a, b)| Hole {
                    from: format_ticks(*a),
                    to: format_ticks(*b),
                    seconds: (b - a) as f64 / media::time::TICKS_PER_SEC as f64,
                })
                .collect(),
            segments: e
                .segments
                .iter()
                .map(|s| SourceSegment {
                    seq: s.seq,
                    start: format_ticks(s.start),
                    end: format_ticks(s.end),
                    bytes: s.bytes,
                    sha256: hex::encode(s.file_sha256),
                })
                .collect(),
        });
    }
    if cameras.is_empty() {
        return Err(EvidenceError::NoFootage {
            start: format_ticks(spec.start),
            end: format_ticks(spec.end),
        });
    }
    let (head_seq, head_hash) = audit.head();
    let public_pem = key.public_pem();
    let manifest = json!({
        "format": crate::package::FORMAT,
        "package": name,
        "request": {
            "id": spec.request_id,
            "purpose": spec.purpose,
            "reason": spec.reason,
            "requester": spec.requester,
            "approver": spec.approver,
        },
        "operator": spec.operator,
        "exported_at": format_ticks(exported_at),
        "range": {
            "start": format_ticks(spec.start),
            "end": format_ticks(spec.end),
            "start_ticks_90khz": spec.start,
            "end_ticks_90khz": spec.end,
        },
        "cameras": cameras,
        "cameras_without_footage": without.iter().map(|(id, n)| json!({"camera_id": id, "name": n})).collect::<Vec<_>>(),
        "audit_head": { "seq": head_seq, "hash": hex::encode(head_hash) },
        "recorder_key": {
            "file": PUBLIC_KEY_FILE,
            "ed25519_public_key": hex::encode(key.public_bytes()),
        },
        "how_to_verify": {
            "vi": [
                "Trong thư mục này, chạy:",
                SHA256SUMS_COMMAND,
                OPENSSL_COMMAND,
                "Cả hai phải báo OK (sha256sum: OK cho mọi tệp; openssl: Signature Verified Successfully). Hoặc: vigil verify <thư mục>.",
            ],
            "en": [
                "In this directory, run:",
                SHA256SUMS_COMMAND,
                OPENSSL_COMMAND,
                "Both must succeed (sha256sum: OK for every file; openssl: Signature Verified Successfully). Or: vigil verify <directory>.",
            ],
        },
    });
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    manifest_bytes.push(b'\n');
    let signature = key.sign(&manifest_bytes);
    write_file(&dir.join(MANIFEST_FILE), &manifest_bytes)?;
    write_file(&dir.join(SIGNATURE_FILE), &signature)?;
    write_file(&dir.join(PUBLIC_KEY_FILE), public_pem.as_bytes())?;
    let readme = readme(spec, &cameras, name);
    write_file(&dir.join(README_FILE), readme.as_bytes())?;
    // SHA256SUMS: every file but itself and the custody log (which grows).
    let mut sums = String::new();
    let mut listed: Vec<(String, String)> = vec![
        (
            hex::encode(Sha256::digest(&manifest_bytes)),
            MANIFEST_FILE.into(),
        ),
        (
            hex::encode(Sha256::digest(signature)),
            SIGNATURE_FILE.into(),
        ),
        (
            hex::encode(Sha256::digest(public_pem.as_bytes())),
            PUBLIC_KEY_FILE.into(),
        ),
        (
            hex::encode(Sha256::digest(readme.as_bytes())),
            README_FILE.into(),
        ),
    ];
    for c in &cameras {
        listed.push((c.sha256.clone(), c.file.clone()));
    }
    for (h, f) in &listed {
        sums.push_str(&format!("{h}  {f}\n"));
    }
    write_file(&dir.join(SHA256SUMS_FILE), sums.as_bytes())?;
    let manifest_sha256 = listed[0].0.clone();
    append_custody(
        dir,
        &format!(
            "created by {} for request {} (approved by {}, requested by {}); manifest sha256 {}",
            spec.operator, spec.request_id, spec.approver, spec.requester, manifest_sha256
        ),
    )?;
    sync_dir(dir);
    Ok((cameras, without, manifest_sha256))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let mut f = File::create(path).map_err(|e| io_err("create", path, e))?;
    f.write_all(bytes).map_err(|e| io_err("write", path, e))?;
    f.sync_all().map_err(|e| io_err("sync", path, e))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Appends one line to the package's custody log (`<UTC time>  <line>`), creating it if
/// needed; the file is only ever appended to. Newlines in `line` are replaced by spaces.
pub fn append_custody(dir: &Path, line: &str) -> Result<(), EvidenceError> {
    let path = dir.join(CUSTODY_FILE);
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| io_err("open", &path, e))?;
    let clean: String = line
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let entry = format!("{}  {clean}\n", format_ticks(now_ticks()));
    f.write_all(entry.as_bytes())
        .map_err(|e| io_err("append to", &path, e))?;
    f.sync_data().map_err(|e| io_err("sync", &path, e))
}

fn readme(spec: &ExportSpec, cameras: &[CameraFile], name: &str) -> String {
    let files: String = cameras
        .iter()
        .map(|c| {
            format!(
                "  {}  — camera {} «{}», {} → {}\n",
                c.file, c.camera_id, c.name, c.start, c.end
            )
        })
        .collect();
    format!(
        "GÓI CHỨNG CỨ / EVIDENCE PACKAGE  {name}
================================================================

Yêu cầu / Request: #{id} — {purpose}
Người yêu cầu / Requested by: {requester}
Người phê duyệt / Approved by: {approver}
Người trích xuất / Exported by: {operator}
Khoảng thời gian (UTC) / Time range (UTC): {start} → {end}

Tệp video / Video files (luồng gốc, không mã hóa lại / the original stream, not re-encoded):
{files}
TIẾNG VIỆT — Cách kiểm tra gói này không cần Vigil
-------------------------------------------------
manifest.json liệt kê camera, khoảng thời gian, từng đoạn ghi nguồn và mã băm SHA-256
của chúng, các khoảng trống, yêu cầu, người phê duyệt, người trích xuất, thời điểm trích
xuất và mã băm đầu chuỗi nhật ký. manifest.sig là chữ ký Ed25519 của đầu ghi trên đúng
các byte của manifest.json; recorder-ed25519.pub.pem là khóa công khai của đầu ghi
(đối chiếu với khóa do nhà trường công bố).

Trong thư mục này, chạy:

  1. {sums}
     Mọi tệp phải báo \"OK\" (kiểm tra video, manifest, chữ ký và tệp này không bị sửa).
  2. {openssl}
     Phải báo \"Signature Verified Successfully\" (manifest do đầu ghi ký, không bị sửa).

Nếu một trong hai lệnh báo lỗi, gói đã bị thay đổi và KHÔNG còn giá trị chứng cứ.
Có Vigil: `vigil verify <thư mục>` kiểm tra tất cả và báo AUTHENTIC hoặc chỉ rõ chỗ sai.
custody.log ghi lại việc tạo gói và từng lần tải xuống (chỉ ghi thêm, không nằm trong
SHA256SUMS vì nó tiếp tục dài ra).

ENGLISH — How to check this package without Vigil
-------------------------------------------------
manifest.json lists the cameras, the exact time range, every source segment with its
SHA-256, the holes, the request, the approver, the operator, the time of export and the
audit chain's head. manifest.sig is the recorder's Ed25519 signature over the exact bytes
of manifest.json; recorder-ed25519.pub.pem is the recorder's public key (compare it with
the key the school publishes).

In this directory, run:

  1. {sums}
     Every file must report \"OK\" (the videos, the manifest, the signature and this file
     are unaltered).
  2. {openssl}
     It must print \"Signature Verified Successfully\" (the recorder signed the manifest and
     it is unaltered).

If either command fails, the package was altered and is NOT valid evidence.
With Vigil: `vigil verify <directory>` checks everything and says AUTHENTIC or exactly
what is wrong. custody.log records the package's creation and every download (append
only; not in SHA256SUMS because it keeps growing).
",
        id = spec.request_id,
        purpose = spec.purpose,
        requester = spec.requester,
        approver = spec.approver,
        operator = spec.operator,
        start = format_ticks(spec.start),
        end = format_ticks(spec.end),
        sums = SHA256SUMS_COMMAND,
        openssl = OPENSSL_COMMAND,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe() {
        assert_eq!(safe_name("Cổng chính / A"), "C_ng_ch_nh___A");
        assert_eq!(safe_name(""), "camera");
        assert_eq!(compact_time(0), "19700101T000000Z");
    }
}
