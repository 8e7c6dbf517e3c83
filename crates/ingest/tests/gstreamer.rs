//! Ingest against a real third-party RTSP server: GStreamer's gst-rtsp-server (through the
//! project's `scripts/gst-rtsp-server.py`, live x264 and x265 mounts behind Digest auth).
//! Fails if GStreamer or python3-gi is missing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ingest::{Event, StreamConfig};
use media::Codec;
use tokio::sync::mpsc;
use url::Url;

const LIMIT: Duration = Duration::from_secs(30);

/// The server process; killed (it is our own child) when dropped.
struct GstServer {
    child: Child,
    port: u16,
}

impl Drop for GstServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gst() -> GstServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/gst-rtsp-server.py"
    );
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .args([
            "--port",
            &port.to_string(),
            "--user",
            "op",
            "--password",
            "pw",
        ])
        .args(["--fps", "15", "--gop", "15", "--bitrate-kbps", "300"])
        .args(["--h264-size", "320x240", "--h265-size", "320x240"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with GStreamer's RTSP server must be installed");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = GstServer { child, port };
    assert!(
        line.starts_with("READY"),
        "gst-rtsp-server did not start: {line:?}"
    );
    server
}

async fn check_mount(server: &GstServer, mount: &str, codec: Codec) {
    let url = Url::parse(&format!("rtsp://op:pw@127.0.0.1:{}/{mount}", server.port)).unwrap();
    let mut cfg = StreamConfig::new(mount, url);
    cfg.stall_timeout = Duration::from_secs(2);
    let (tx, mut rx) = mpsc::channel(256);
    let h = ingest::spawn(cfg, tx);
    let mut frames = Vec::new();
    tokio::time::timeout(LIMIT, async {
        while frames.len() < 40 {
            match rx.recv().await.unwrap() {
                Event::Connected { params } => {
                    assert!(frames.is_empty());
                    assert_eq!(params.codec, codec);
                    assert_eq!((params.width, params.height), (320, 240));
                }
                Event::Frame(f) => frames.push(f),
                other => panic!("{mount}: unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("40 frames within the limit");
    assert!(
        frames.iter().filter(|f| f.is_key).count() >= 2,
        "{mount}: key frames"
    );
    assert!(frames.windows(2).all(|w| w[1].time > w[0].time));
    let s = h.stats();
    assert_eq!((s.codec, s.reconnects), (Some(codec), 0));
    h.shutdown().await;
}

#[tokio::test]
async fn gstreamer_h264_and_h265_with_digest_auth() {
    let server = start_gst();
    check_mount(&server, "h264", Codec::H264).await;
    check_mount(&server, "h265", Codec::H265).await;
}
