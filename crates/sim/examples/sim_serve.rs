//! Serves simulated cameras until Ctrl-C, for manual checks and measurements:
//!
//! `cargo run -p sim --example sim_serve -- [LOOP_CAMERAS] [LIVE_CAMERAS] [CACHE_DIR]`
//!
//! Loop cameras are `benchN` (1080p15 2 Mbit/s loop), live ones `camN` (demo settings).

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), sim::Error> {
    let args: Vec<String> = std::env::args().collect();
    let loops: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let lives: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let cache = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("vigil-sim-cache"));
    let mut cameras = Vec::new();
    cameras.extend((1..=loops).map(|i| sim::CameraSpec::bench(&format!("bench{i}"))));
    cameras.extend((1..=lives).map(|i| sim::CameraSpec::demo(&format!("cam{i}"))));
    let sim = sim::Sim::start(sim::SimConfig {
        bind: "127.0.0.1:8554".parse().unwrap(),
        control_bind: Some("127.0.0.1:8555".parse().unwrap()),
        cameras,
        cache_dir: Some(cache),
        ..Default::default()
    })
    .await?;
    println!(
        "RTSP on {}, control on {:?}",
        sim.rtsp_addr(),
        sim.control_addr()
    );
    let stats = async {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            println!("{:?}", sim.stats());
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = stats => {}
    }
    sim.shutdown().await;
    Ok(())
}
