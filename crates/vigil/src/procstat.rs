//! Reading a process's resource use from /proc (Linux), for `vigil bench` and `vigil status`.

use anyhow::{Context, Result};

/// A process's counters at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
    /// Bytes this process caused to be written to storage (`/proc/PID/io` write_bytes).
    pub write_bytes: u64,
    /// Peak resident set size (VmHWM), bytes.
    pub peak_rss: u64,
    /// Current resident set size (VmRSS), bytes.
    pub rss: u64,
    /// Proportional set size (shared pages divided among sharers), bytes.
    pub pss: u64,
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Reads the counters of process `pid`.
pub fn sample(pid: u32) -> Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat (has the process exited?)"))?;
    // Fields after the ")" that closes the command name: state is field 3; utime 14, stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/PID/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11).context("no utime")?.parse()?;
    let stime: f64 = f.get(12).context("no stime")?.parse()?;
    let mut s = ProcSample {
        cpu_secs: (utime + stime) / clock_ticks(),
        ..Default::default()
    };
    if let Ok(io) = std::fs::read_to_string(format!("/proc/{pid}/io")) {
        for line in io.lines() {
            if let Some(v) = line.strip_prefix("write_bytes:") {
                s.write_bytes = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in status.lines() {
        let kb = |l: &str| -> u64 {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
                * 1024
        };
        if line.starts_with("VmHWM:") {
            s.peak_rss = kb(line);
        } else if line.starts_with("VmRSS:") {
            s.rss = kb(line);
        }
    }
    if let Ok(r) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
        for line in r.lines() {
            if line.starts_with("Pss:") {
                s.pss = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
                    * 1024;
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_self() {
        let s = super::sample(std::process::id()).unwrap();
        assert!(s.rss > 0 && s.peak_rss >= s.rss);
    }
}
