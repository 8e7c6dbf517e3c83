//! Issue 4's whole path in Debian's Chromium (headless, over WebDriver), against
//! `vigil demo` with two simulated cameras:
//!
//! 1. the guard files a request through `/requests/new` — purpose, both cameras, a time
//!    window of recorded footage, a reason, a hold, and a scanned written request (a PDF
//!    uploaded through the file input);
//! 2. the guard cannot approve it: no decision form on the page, and a forged `POST
//!    /requests/{id}/decide` with the guard's own session and CSRF token is refused (403);
//!    the request stays pending;
//! 3. the principal (leadership) finds it in the inbox, approves with a comment and names
//!    the IT user as the one who exports;
//! 4. IT exports it and downloads every file of the package through the browser, and the
//!    whole package as one tar (whose custody log records that download);
//! 5. the downloaded package verifies with `vigil verify` (AUTHENTIC) and with the commands
//!    the manifest's own `how_to_verify` lists (sha256sum and openssl), run by `sh`;
//! 6. one byte changed in the MP4, the manifest or the signature makes `vigil verify` and
//!    the manifest's commands fail, each time;
//! 7. the audit trail holds the request, the refused decision, the approval, the export and
//!    the downloads, and `vigil audit verify` finds it intact.
//!
//! Screenshots of the request form, the decision form and the package page go to
//! `target/screenshots/` (`docs/screenshots/` with `VIGIL_UPDATE_SCREENSHOTS=1`).
//!
//! Fails (never skips) when Chromium, chromedriver, sha256sum or openssl is missing
//! (`./scripts/install-deps.sh` installs them).

mod common;
#[path = "browser/harness.rs"]
mod harness;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use common::{require, vigil};
use harness::*;

/// The demo's time zone (config default: Vietnam, UTC+7): the request form's
/// `datetime-local` fields are in it.
const UTC_OFFSET_SECS: i64 = 7 * 3600;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// `YYYY-MM-DDTHH:MM:SS` of unix second `t` in the demo's time zone (a `datetime-local`
/// input's value).
fn local_input(t: i64) -> String {
    let rfc3339 = media::time::format_ticks((t + UTC_OFFSET_SECS) * media::time::TICKS_PER_SEC);
    rfc3339[..19].to_string()
}

/// A small but well-formed one-page PDF: the "scanned written request".
fn written_request_pdf() -> Vec<u8> {
    let text = "BT /F1 14 Tf 72 720 Td (De nghi trich xuat camera - Truong THCS) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// `vigil verify DIR`: (exit success, stdout + stderr).
fn vigil_verify(dir: &Path) -> (bool, String) {
    let out = vigil()
        .arg("verify")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("running vigil verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The shell commands the package's manifest lists under `how_to_verify` (English), in
/// order.
fn manifest_commands(dir: &Path) -> Vec<String> {
    let m: Value = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json")).expect("reading manifest.json"),
    )
    .expect("manifest.json is JSON");
    let steps = m["how_to_verify"]["en"]
        .as_array()
        .unwrap_or_else(|| panic!("manifest has no how_to_verify.en: {m}"));
    let cmds: Vec<String> = steps
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| s.starts_with("sha256sum ") || s.starts_with("openssl "))
        .map(str::to_string)
        .collect();
    assert!(
        cmds.iter().any(|c| c.starts_with("sha256sum "))
            && cmds.iter().any(|c| c.starts_with("openssl ")),
        "the manifest must give a sha256sum and an openssl command: {steps:?}"
    );
    cmds
}

/// Runs the manifest's own commands with `sh` in `dir` (as a court expert without Vigil
/// would); true when every one succeeds. `commands` come from the original package, so a
/// tampered manifest cannot change what is run.
fn outside_check(dir: &Path, commands: &[String]) -> (bool, String) {
    let mut log = String::new();
    let mut ok = true;
    for c in commands {
        let out = Command::new("sh")
            .args(["-c", c])
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("sh -c {c}: {e}"));
        log.push_str(&format!(
            "$ {c}\n{}{}(exit {})\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
        ));
        ok &= out.status.success();
    }
    (ok, log)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let i = at.min(b.len() - 1);
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

/// Sets a form field's value the way typing would (fires `input` and `change`).
async fn set_value(b: &Browser, css: &str, value: &str) {
    let ok = b
        .js(
            "const el = document.querySelector(arguments[0]);\
             if (!el) return false;\
             el.value = arguments[1];\
             el.dispatchEvent(new Event('input', { bubbles: true }));\
             el.dispatchEvent(new Event('change', { bubbles: true }));\
             return el.value === arguments[1];",
            vec![json!(css), json!(value)],
        )
        .await;
    assert_eq!(ok, json!(true), "could not set {css} to {value}");
}

async fn logout(b: &Browser) {
    b.click("form.logout button[type=submit]").await;
    b.wait_css("form#login", Duration::from_secs(15)).await;
}

/// Waits (bounded) until the page's path matches `re` (a JS regular expression) and
/// returns the path.
async fn wait_path(b: &Browser, what: &str, re: &str) -> String {
    let script = format!("return /{re}/.test(location.pathname) ? location.pathname : null;");
    b.wait_js(what, Duration::from_secs(60), &script)
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The request page's status (`dl#request-detail[data-status]`).
async fn request_status(b: &Browser) -> String {
    b.js(
        "const d = document.querySelector('dl#request-detail');\
         return d ? d.dataset.status : null;",
        vec![],
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

#[test]
fn guard_requests_principal_approves_it_exports_package_verifies() {
    require("sha256sum", "--version");
    require("openssl", "version");
    require("ffprobe", "-version");
    require("tar", "--version");
    runtime().block_on(async {
        // Short segments: footage is exportable once its segment is closed and hashed.
        let demo = Demo::start_with(2, "loop", &["--segment-seconds", "5"]);
        let started = now_secs();
        let work = tempfile::tempdir().expect("temp dir");
        let downloads = work.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let pdf = work.path().join("de-nghi-trich-xuat.pdf");
        std::fs::write(&pdf, written_request_pdf()).unwrap();
        let b = Browser::open_with(Some(&downloads)).await;
        let (guard, guard_pw) = demo.login("guard");
        let (leader, leader_pw) = demo.login("leadership");
        let (it, it_pw) = demo.login("administrator");

        // ---- 1. The guard files the request. ----
        b.login(&demo.web, &guard, &guard_pw).await;
        // Footage to ask for: the window ends 2 s before filing and starts 10 s earlier,
        // well after the cameras came up.
        let ready = started + 16;
        if now_secs() < ready {
            tokio::time::sleep(Duration::from_secs((ready - now_secs()) as u64)).await;
        }
        let (win_start, win_end) = (now_secs() - 12, now_secs() - 2);
        b.goto(&format!("{}/requests/new", demo.web)).await;
        b.wait_css("form#request", Duration::from_secs(15)).await;
        set_value(&b, "form#request select[name=purpose]", "violation").await;
        let cams = b
            .js(
                "const boxes = [...document.querySelectorAll('form#request input[name=camera]')];\
                 boxes.forEach(c => { if (!c.checked) c.click(); });\
                 return boxes.map(c => c.value);",
                vec![],
            )
            .await;
        assert_eq!(
            cams.as_array().map(Vec::len),
            Some(2),
            "the guard may ask for both demo cameras: {cams}"
        );
        set_value(&b, "form#request input[name=start]", &local_input(win_start)).await;
        set_value(&b, "form#request input[name=end]", &local_input(win_end)).await;
        let reason = "Học sinh làm vỡ kính cửa sổ phòng 12 — cần xem lại camera hành lang.";
        let el = bounded(
            "find the reason field",
            b.c()
                .find(fantoccini::Locator::Css("form#request textarea[name=reason]")),
        )
        .await;
        bounded("type the reason", el.send_keys(reason)).await;
        b.click("form#request input[name=want_hold]").await;
        b.screenshot(&screenshots_dir().join("request-new.png")).await;
        let file = bounded(
            "find the document input",
            b.c()
                .find(fantoccini::Locator::Css("form#request input[type=file]")),
        )
        .await;
        bounded(
            "choose the scanned request",
            file.send_keys(&pdf.to_string_lossy()),
        )
        .await;
        b.click("form#request button[type=submit]").await;
        let path = wait_path(&b, "the new request's page", r"^\/requests\/\d+$").await;
        let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(request_status(&b).await, "pending");
        let page = b
            .js(
                "return { own: !!document.querySelector('p.notice.own'),\
                          decide: !!document.querySelector('form#decide'),\
                          export: !!document.querySelector('form#export'),\
                          doc: document.querySelector('a.document')?.textContent,\
                          detail: document.querySelector('dl#request-detail')?.textContent };",
                vec![],
            )
            .await;
        assert_eq!(page["own"], json!(true), "own pending notice: {page}");
        assert_eq!(page["decide"], json!(false), "the guard sees a decision form: {page}");
        assert_eq!(page["export"], json!(false), "the guard sees an export form: {page}");
        let detail = page["detail"].as_str().unwrap_or_default();
        let pdf_sha = sha256_hex(&std::fs::read(&pdf).unwrap());
        assert!(
            detail.contains(&pdf_sha),
            "the page shows the stored document's SHA-256 {pdf_sha}: {detail}"
        );
        // The stored document is the uploaded one, byte for byte.
        let doc = b
            .js(
                "const r = await fetch(document.querySelector('a.document').href);\
                 const buf = new Uint8Array(await r.arrayBuffer());\
                 const h = await crypto.subtle.digest('SHA-256', buf);\
                 return { status: r.status, type: r.headers.get('content-type'),\
                          sha: [...new Uint8Array(h)].map(x => x.toString(16).padStart(2, '0')).join('') };",
                vec![],
            )
            .await;
        assert_eq!(doc["status"], json!(200), "{doc}");
        assert_eq!(doc["sha"], json!(pdf_sha), "{doc}");
        assert!(
            doc["type"].as_str().unwrap_or("").starts_with("application/pdf"),
            "{doc}"
        );

        // ---- 2. The guard cannot approve it, not even by forging the form. ----
        let forged = b
            .js(
                "const csrf = document.querySelector('meta[name=csrf]').content;\
                 const body = new URLSearchParams({ csrf, decision: 'approve', comment: 'ok',\
                                                    view: arguments[1], expires: '2099-01-01T00:00:00' });\
                 const r = await fetch('/requests/' + arguments[0] + '/decide', {\
                   method: 'POST', body, headers: { 'X-CSRF-Token': csrf }, redirect: 'manual' });\
                 return r.status;",
                vec![json!(id), json!(demo.user_id(&guard))],
            )
            .await;
        assert_eq!(forged, json!(403), "the guard's own approval must be refused");
        let inbox = b
            .js(
                "const r = await fetch('/requests/inbox'); return r.status;",
                vec![],
            )
            .await;
        assert_eq!(inbox, json!(403), "the guard has no approver inbox");
        b.goto(&format!("{}/requests/{id}", demo.web)).await;
        b.wait_css("dl#request-detail", Duration::from_secs(15)).await;
        assert_eq!(request_status(&b).await, "pending");
        logout(&b).await;

        // ---- 3. The principal approves from the inbox, naming IT as the exporter. ----
        b.login(&demo.web, &leader, &leader_pw).await;
        // Whatever page the principal lands on, the navigation shows one request waiting.
        let badge = b
            .js(
                "return document.querySelector('nav.top a.inbox .badge')?.textContent;",
                vec![],
            )
            .await;
        assert_eq!(badge, json!("1"), "the approver's inbox badge");
        b.click("nav.top a.inbox").await;
        b.wait_css("section#inbox", Duration::from_secs(15)).await;
        let link = format!("section#inbox a[href=\"/requests/{id}\"]");
        b.wait_css(&link, Duration::from_secs(10)).await;
        b.click(&link).await;
        b.wait_css("form#decide", Duration::from_secs(15)).await;
        let comment = "Đồng ý trích xuất theo quy chế, giữ lại đoạn ghi.";
        let el = bounded(
            "find the comment field",
            b.c()
                .find(fantoccini::Locator::Css("form#decide textarea[name=comment]")),
        )
        .await;
        bounded("type the comment", el.send_keys(comment)).await;
        let it_id = demo.user_id(&it);
        b.click(&format!(
            "form#decide tr[data-user=\"{it_id}\"] input[name=export]"
        ))
        .await;
        b.screenshot(&screenshots_dir().join("request-decide.png")).await;
        let hold_checked = b
            .js(
                "return document.querySelector('form#decide input[name=hold]').checked;",
                vec![],
            )
            .await;
        assert_eq!(hold_checked, json!(true), "the guard asked for a hold");
        b.click("form#decide button[value=approve]").await;
        b.wait_js(
            "the request approved",
            Duration::from_secs(30),
            "const d = document.querySelector('dl#request-detail');\
             return d && d.dataset.status === 'approved';",
        )
        .await;
        let after = b
            .js(
                "return { decider: document.querySelector('dd.decider')?.textContent,\
                          hold: document.querySelector('dd.hold')?.textContent,\
                          grants: document.querySelectorAll('table#grants tr').length,\
                          export: !!document.querySelector('form#export') };",
                vec![],
            )
            .await;
        assert_eq!(
            b.count("nav.top a.inbox").await,
            0,
            "nothing waits once it is decided"
        );
        let leader_name = demo.display_name(&leader);
        assert!(
            after["decider"]
                .as_str()
                .unwrap_or("")
                .contains(&leader_name),
            "the decider is the principal: {after}"
        );
        assert!(after["hold"].as_str().is_some(), "a hold is shown: {after}");
        assert!(after["grants"].as_u64().unwrap_or(0) >= 2, "{after}");
        assert_eq!(
            after["export"],
            json!(false),
            "leadership approves but does not export: {after}"
        );
        logout(&b).await;

        // ---- 4. IT exports and downloads the package. ----
        b.login(&demo.web, &it, &it_pw).await;
        // The window's last segment is closed within a segment (5 s) and a GOP (2 s).
        let closed = win_end + 10;
        if now_secs() < closed {
            tokio::time::sleep(Duration::from_secs((closed - now_secs()) as u64)).await;
        }
        b.goto(&format!("{}/requests/{id}", demo.web)).await;
        b.wait_css("form#export", Duration::from_secs(15)).await;
        b.click("form#export button.export").await;
        wait_path(
            &b,
            "the package's download page",
            r"^\/requests\/\d+\/exports\/\d+$",
        )
        .await;
        b.wait_css("ul#package a.download", Duration::from_secs(15))
            .await;
        let files: Vec<String> = b
            .js(
                "return [...document.querySelectorAll('ul#package a.download')]\
                   .map(a => a.textContent.trim());",
                vec![],
            )
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        b.screenshot(&screenshots_dir().join("request-package.png")).await;
        for want in ["manifest.json", "manifest.sig", "SHA256SUMS", "README.txt"] {
            assert!(files.iter().any(|f| f == want), "{want} in {files:?}");
        }
        let mp4s: Vec<&String> = files.iter().filter(|f| f.ends_with(".mp4")).collect();
        assert_eq!(mp4s.len(), 2, "one MP4 per camera: {files:?}");
        for f in &files {
            b.click(&format!("ul#package a.download[href$=\"/{f}\"]"))
                .await;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let done = files.iter().all(|f| downloads.join(f).is_file())
                && !std::fs::read_dir(&downloads)
                    .unwrap()
                    .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".crdownload"));
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the browser did not download {files:?} within 120 s; have {:?}",
                std::fs::read_dir(&downloads)
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(POLL).await;
        }
        // The whole package as one tar.
        let tar_name = b
            .js(
                "const a = document.querySelector('a.download-all');\
                 return a ? a.href : null;",
                vec![],
            )
            .await;
        assert!(
            tar_name.as_str().is_some_and(|h| h.ends_with("/all.tar")),
            "a whole-package download link: {tar_name}"
        );
        b.click("a.download-all").await;
        let deadline = Instant::now() + Duration::from_secs(120);
        let tar = loop {
            let found = std::fs::read_dir(&downloads).unwrap().find_map(|e| {
                let p = e.unwrap().path();
                (p.extension().is_some_and(|x| x == "tar")).then_some(p)
            });
            if let Some(p) = found {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "the browser did not download the package's tar within 120 s"
            );
            tokio::time::sleep(POLL).await;
        };
        b.close().await;
        let untar = work.path().join("untar");
        std::fs::create_dir_all(&untar).unwrap();
        let st = Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&untar)
            .status()
            .expect("tar must be installed");
        assert!(st.success(), "tar -xf {}", tar.display());
        let inner: Vec<_> = std::fs::read_dir(&untar)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(inner.len(), 1, "one package directory in the tar: {inner:?}");
        let (ok, text) = vigil_verify(&inner[0]);
        assert!(ok && text.contains("AUTHENTIC"), "vigil verify of the tar's package: {text}");
        let custody = std::fs::read_to_string(inner[0].join("custody.log")).unwrap();
        assert!(
            custody.contains("whole package") && custody.contains(&it),
            "the tar's custody log records its own download: {custody}"
        );

        // ---- 5. The package verifies, with Vigil and without. ----
        let pkg = work.path().join("package");
        std::fs::create_dir_all(&pkg).unwrap();
        for f in &files {
            std::fs::copy(downloads.join(f), pkg.join(f)).unwrap();
        }
        let (ok, text) = vigil_verify(&pkg);
        assert!(ok && text.contains("AUTHENTIC"), "vigil verify: {text}");
        let commands = manifest_commands(&pkg);
        let (ok, log) = outside_check(&pkg, &commands);
        assert!(ok, "the manifest's own commands fail on the package:\n{log}");
        assert!(log.contains("Signature Verified Successfully"), "{log}");
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(pkg.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["request"]["id"], json!(id), "{manifest}");
        assert!(
            manifest["request"]["approver"]
                .as_str()
                .unwrap_or("")
                .contains(&leader_name),
            "{manifest}"
        );
        assert!(
            manifest["operator"].as_str().unwrap_or("").contains(&it),
            "{manifest}"
        );
        for c in manifest["cameras"].as_array().unwrap() {
            assert!(c["frames"].as_u64().unwrap_or(0) > 0, "{c}");
            assert!(!c["segments"].as_array().unwrap().is_empty(), "{c}");
        }
        // The MP4s are the cameras' stream, playable as they are.
        for f in &mp4s {
            let dur = common::ffprobe_duration(&pkg.join(f));
            assert!(dur > 5.0, "{f}: ffprobe duration {dur} s");
        }

        // ---- 6. One changed byte anywhere that matters, and both checks fail. ----
        for (what, file) in [
            ("the MP4", mp4s[0].as_str()),
            ("the manifest", "manifest.json"),
            ("the signature", "manifest.sig"),
        ] {
            let d = work.path().join(format!("tampered-{file}"));
            copy_dir(&pkg, &d);
            let len = std::fs::metadata(d.join(file)).unwrap().len() as usize;
            flip(&d.join(file), len / 2);
            let (ok, text) = vigil_verify(&d);
            assert!(
                !ok && !text.contains("AUTHENTIC\n") && text.contains(file),
                "vigil verify after changing one byte of {what}: {text}"
            );
            let (ok, log) = outside_check(&d, &commands);
            assert!(
                !ok,
                "sha256sum + openssl after changing one byte of {what} still pass:\n{log}"
            );
        }

        // ---- 7. All of it is in the audit trail, which is intact. ----
        let out = vigil()
            .args(["audit", "export", "--csv", "-d"])
            .arg(demo.data_dir())
            .stdin(Stdio::null())
            .output()
            .expect("vigil audit export");
        assert!(
            out.status.success(),
            "vigil audit export: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let csv = String::from_utf8_lossy(&out.stdout);
        let target = format!("request:{id}");
        for action in [
            "request.create",
            "request.document",
            "request.decide_refused",
            "request.approve",
            "hold.place",
            "export.create",
            "export.download",
        ] {
            assert!(
                csv.lines()
                    .any(|l| l.contains(action) && l.contains(&target)),
                "no {action} for {target} in the audit trail:\n{csv}"
            );
        }
        let out = vigil()
            .args(["audit", "verify", "-d"])
            .arg(demo.data_dir())
            .stdin(Stdio::null())
            .output()
            .expect("vigil audit verify");
        assert!(
            out.status.success(),
            "vigil audit verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        drop(demo);
    });
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
