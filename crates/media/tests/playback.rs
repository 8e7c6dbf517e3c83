//! End-to-end checks against real decoders: H.264 from openh264 (and from ffmpeg's x264 for
//! B-frames) is packed into fragmented and progressive MP4 by this crate, and ffmpeg /
//! ffprobe must decode it cleanly. These tests need `ffmpeg` and `ffprobe` on the PATH and
//! fail (not skip) without them.

use std::path::{Path, PathBuf};
use std::process::Command;

use media::fmp4::{self, Tail};
use media::h264;
use media::progressive::{self, Part, Run};
use media::{Sample, VideoParams};
use openh264::encoder::{
    Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
};
use openh264::formats::YUVBuffer;
use openh264::OpenH264API;

const W: usize = 640;
const H: usize = 360;
const FRAME_TICKS: u32 = 6000; // 15 fps

/// One encoded frame in MP4 form.
struct EncodedFrame {
    is_key: bool,
    data: Vec<u8>,
}

/// Encodes `n` frames of a moving test pattern (`seed` varies the picture) at 640x360,
/// 15 fps, an IDR every `gop` frames. Returns the stream parameters and the frames.
fn encode(n: usize, gop: u32, seed: u8) -> (VideoParams, Vec<EncodedFrame>) {
    let config = EncoderConfig::new()
        .max_frame_rate(FrameRate::from_hz(15.0))
        .rate_control_mode(RateControlMode::Bufferbased)
        .skip_frames(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(gop));
    let mut enc = Encoder::with_api_config(OpenH264API::from_source(), config).unwrap();
    let mut frames = Vec::with_capacity(n);
    let mut params = None;
    let mut yuv = vec![0u8; W * H * 3 / 2];
    for i in 0..n {
        let t = i + usize::from(seed) * 7;
        for y in 0..H {
            for x in 0..W {
                let in_box = (x + 640 - (t * 9) % 640) % 640 < 80 && (y + t * 3) % 360 < 60;
                yuv[y * W + x] = if in_box {
                    235
                } else {
                    ((x + y + t * 2) as u8 / 2).wrapping_add(seed.wrapping_mul(40))
                };
            }
        }
        for (k, c) in yuv[W * H..].iter_mut().enumerate() {
            *c = (128 + ((k / 40 + t) % 32) as i32 - 16) as u8;
        }
        let buf = YUVBuffer::from_vec(yuv.clone(), W, H);
        let bs = enc.encode(&buf).unwrap();
        let ty = bs.frame_type();
        assert!(
            matches!(ty, FrameType::IDR | FrameType::I | FrameType::P),
            "frame {i}: unexpected frame type {ty:?}"
        );
        let annexb = bs.to_vec();
        if ty == FrameType::IDR && params.is_none() {
            let sps = h264::split_annexb(&annexb)
                .find(|n| h264::nal_type(n) == h264::NAL_SPS)
                .expect("IDR with SPS");
            let pps = h264::split_annexb(&annexb)
                .find(|n| h264::nal_type(n) == h264::NAL_PPS)
                .expect("IDR with PPS");
            params = Some(h264::video_params(sps, pps).unwrap());
        }
        frames.push(EncodedFrame {
            is_key: ty == FrameType::IDR,
            data: h264::annexb_to_avc(&annexb),
        });
    }
    let params = params.expect("the first frame is an IDR");
    assert_eq!((params.width, params.height), (W as u32, H as u32));
    assert!(frames[0].is_key);
    (params, frames)
}

/// Splits frames into GOPs (each starting at a key frame).
fn gops<T>(frames: &[T], is_key: impl Fn(&T) -> bool) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=frames.len() {
        if i == frames.len() || is_key(&frames[i]) {
            out.push(&frames[start..i]);
            start = i;
        }
    }
    out
}

/// Writes an fMP4 image: init segment, then one fragment per GOP. Returns the bytes and
/// each fragment's samples.
fn build_fmp4(params: &VideoParams, frames: &[EncodedFrame]) -> (Vec<u8>, Vec<Vec<Sample>>) {
    let mut file = fmp4::init_segment(params);
    let mut all = Vec::new();
    let mut bdt = 0u64;
    let mut header = Vec::new();
    for (seq, gop) in gops(frames, |f| f.is_key).into_iter().enumerate() {
        let samples: Vec<Sample> = gop
            .iter()
            .map(|f| Sample {
                duration: FRAME_TICKS,
                size: f.data.len() as u32,
                is_key: f.is_key,
                composition_offset: 0,
            })
            .collect();
        header.clear();
        fmp4::fragment_header_into(&mut header, seq as u32 + 1, bdt, &samples);
        file.extend_from_slice(&header);
        for f in gop {
            file.extend_from_slice(&f.data);
        }
        bdt += u64::from(FRAME_TICKS) * samples.len() as u64;
        all.push(samples);
    }
    (file, all)
}

fn tool(name: &str) -> Command {
    let mut c = Command::new(name);
    c.arg("-hide_banner");
    c
}

/// Decodes the whole file with ffmpeg; asserts success and no messages at all.
fn assert_decodes_cleanly(path: &Path) {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed to run these tests");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "ffmpeg decoding {}: {}\n{stderr}",
        path.display(),
        out.status
    );
}

fn ffprobe(path: &Path, args: &[&str]) -> String {
    let out = tool("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe must be installed to run these tests");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn frame_count(path: &Path) -> u64 {
    ffprobe(
        path,
        &[
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ],
    )
    .trim()
    .parse()
    .unwrap()
}

fn format_duration(path: &Path) -> f64 {
    ffprobe(
        path,
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
    )
    .trim()
    .parse()
    .unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// Writes the parts of a progressive MP4, reading file parts from `sources`.
fn write_parts(path: &Path, parts: &[Part], sources: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Part::Mem(b) => out.extend_from_slice(b),
            Part::File {
                source,
                offset,
                len,
            } => out
                .extend_from_slice(&sources[*source][*offset as usize..(*offset + *len) as usize]),
        }
    }
    std::fs::write(path, &out).unwrap();
    out
}

#[test]
fn fmp4_plays_scans_and_recovers_from_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let (params, frames) = encode(45, 15, 0);
    let (file, samples) = build_fmp4(&params, &frames);
    assert_eq!(samples.len(), 3);
    let path = write(dir.path(), "seg.mp4", &file);
    assert_decodes_cleanly(&path);
    assert_eq!(frame_count(&path), 45);

    // Scan round trip.
    let s = fmp4::scan(&file).unwrap();
    assert_eq!(s.init_len, fmp4::init_segment(&params).len() as u64);
    assert_eq!(s.sample_entry.as_deref(), Some(&params.sample_entry[..]));
    assert_eq!(s.valid_len, file.len() as u64);
    assert_eq!(s.tail, Tail::End);
    assert_eq!(s.fragments.len(), 3);
    let mut k = 0;
    for (i, f) in s.fragments.iter().enumerate() {
        assert_eq!(f.samples, samples[i]);
        assert_eq!(f.sequence, i as u32 + 1);
        assert_eq!(f.base_decode_time, 15 * 6000 * i as u64);
        let mut pos = f.data_offset as usize;
        for smp in &f.samples {
            assert_eq!(&file[pos..pos + smp.size as usize], &frames[k].data[..]);
            pos += smp.size as usize;
            k += 1;
        }
        assert_eq!(pos as u64, f.end);
    }

    // Truncations, as after a crash mid-write; and garbage after the end.
    let f1 = &s.fragments[1];
    let cases: Vec<(Vec<u8>, u64, usize)> = vec![
        (file[..s.init_len as usize - 10].to_vec(), 0, 0),
        (file[..s.init_len as usize].to_vec(), s.init_len, 0),
        (file[..f1.offset as usize + 20].to_vec(), f1.offset, 1),
        (file[..f1.data_offset as usize + 100].to_vec(), f1.offset, 1),
        (file[..f1.end as usize - 1].to_vec(), f1.offset, 1),
        (file[..f1.end as usize].to_vec(), f1.end, 2),
        (
            [&file[..], &b"\x12\x34garbage after a crash"[..]].concat(),
            file.len() as u64,
            3,
        ),
    ];
    for (i, (data, valid_len, n)) in cases.into_iter().enumerate() {
        let s = fmp4::scan(&data).unwrap();
        assert_eq!(s.valid_len, valid_len, "case {i}");
        assert_eq!(s.fragments.len(), n, "case {i}");
        if n > 0 {
            let p = write(
                dir.path(),
                &format!("trunc{i}.mp4"),
                &data[..valid_len as usize],
            );
            assert_decodes_cleanly(&p);
            assert_eq!(frame_count(&p), 15 * n as u64, "case {i}");
        }
    }
}

#[test]
fn progressive_from_two_segments_with_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    let (params_a, frames_a) = encode(30, 15, 1);
    let (params_b, frames_b) = encode(45, 15, 2);
    assert_eq!(params_a, params_b, "same encoder settings, same parameters");
    let (file_a, _) = build_fmp4(&params_a, &frames_a);
    let (file_b, _) = build_fmp4(&params_b, &frames_b);
    let scan_a = fmp4::scan(&file_a).unwrap();
    let scan_b = fmp4::scan(&file_b).unwrap();

    let mut runs: Vec<Run> = Vec::new();
    for (source, s) in [&scan_a, &scan_b].into_iter().enumerate() {
        for f in &s.fragments {
            runs.push(Run {
                source,
                offset: f.data_offset,
                samples: f.samples.clone(),
            });
        }
    }
    // The recorder lost 5 s between the two segments: hold A's last frame over the hole.
    let last_a = scan_a.fragments.len() - 1;
    runs[last_a].samples.last_mut().unwrap().duration += 5 * 90_000;
    let total_ticks: u64 = runs
        .iter()
        .flat_map(|r| &r.samples)
        .map(|s| u64::from(s.duration))
        .sum();
    assert_eq!(total_ticks, 75 * 6000 + 450_000);

    let mp4 = progressive::build(&params_a, &runs, 1_700_000_000).unwrap();
    let path = dir.path().join("export.mp4");
    let bytes = write_parts(&path, &mp4.parts, &[&file_a, &file_b]);
    assert_eq!(bytes.len() as u64, mp4.len);
    assert_decodes_cleanly(&path);
    assert_eq!(frame_count(&path), 75);
    let duration = format_duration(&path);
    let expected = total_ticks as f64 / 90_000.0;
    assert!(
        (duration - expected).abs() <= 0.001,
        "ffprobe duration {duration} s, sum of sample durations {expected} s"
    );
    // moov before mdat.
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat);

    // Any byte range, served from slices, matches the whole file.
    let mut x = 12345u64;
    for _ in 0..200 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let a = (x >> 11) % mp4.len;
        let b = (a + (x >> 40) % 50_000).min(mp4.len + 10);
        let mut got = Vec::new();
        for p in mp4.slice(a..b) {
            match p {
                Part::Mem(m) => got.extend_from_slice(&m),
                Part::File {
                    source,
                    offset,
                    len,
                } => {
                    let src = [&file_a, &file_b][source];
                    got.extend_from_slice(&src[offset as usize..(offset + len) as usize]);
                }
            }
        }
        assert_eq!(&got[..], &bytes[a as usize..b.min(mp4.len) as usize]);
    }
}

/// One packet of ffprobe's `-show_packets` output.
struct Packet {
    pts: i64,
    dts: i64,
    duration: i64,
    size: u32,
    pos: u64,
    is_key: bool,
}

fn packets(path: &Path) -> Vec<Packet> {
    ffprobe(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts,dts,duration,size,pos,flags",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        Packet {
            pts: f[0].parse().unwrap(),
            dts: f[1].parse().unwrap(),
            duration: f[2].parse().unwrap(),
            size: f[3].parse().unwrap(),
            pos: f[4].parse().unwrap(),
            is_key: f[5].starts_with('K'),
        }
    })
    .collect()
}

/// x264 with B-frames: composition offsets (signed, trun version 1) in fMP4, and `ctts` with
/// an edit list in progressive MP4; both must decode and keep ffmpeg's presentation order.
#[test]
fn b_frames_with_composition_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("x264.mp4");
    let out = tool("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=15",
        ])
        .args(["-t", "4", "-c:v", "libx264", "-bf", "2", "-g", "15"])
        .args(["-video_track_timescale", "90000", "-y"])
        .arg(&src)
        .output()
        .expect("ffmpeg must be installed to run these tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let annexb = dir.path().join("x264.h264");
    let out = tool("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&src)
        .args([
            "-c",
            "copy",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            "-y",
        ])
        .arg(&annexb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let es = std::fs::read(&annexb).unwrap();
    let sps = h264::split_annexb(&es)
        .find(|n| h264::nal_type(n) == h264::NAL_SPS)
        .unwrap();
    let pps = h264::split_annexb(&es)
        .find(|n| h264::nal_type(n) == h264::NAL_PPS)
        .unwrap();
    let params = h264::video_params(sps, pps).unwrap();
    assert_eq!((params.width, params.height), (320, 240));
    assert!(params.rfc6381.starts_with("avc1.64"), "{}", params.rfc6381);

    let mp4 = std::fs::read(&src).unwrap();
    let pkts = packets(&src);
    assert_eq!(pkts.len(), 60);
    assert!(pkts.iter().any(|p| p.pts != p.dts), "x264 made no B-frames");
    let samples: Vec<Sample> = pkts
        .iter()
        .enumerate()
        .map(|(i, p)| Sample {
            duration: pkts.get(i + 1).map_or(p.duration, |n| n.dts - p.dts) as u32,
            size: p.size,
            is_key: p.is_key,
            composition_offset: (p.pts - p.dts) as i32,
        })
        .collect();
    let data = |i: usize| &mp4[pkts[i].pos as usize..pkts[i].pos as usize + pkts[i].size as usize];

    // Fragmented: one fragment per GOP.
    let mut file = fmp4::init_segment(&params);
    let mut i = 0;
    let mut bdt = 0u64;
    let idx: Vec<usize> = (0..samples.len()).collect();
    for (seq, gop) in gops(&idx, |&i| samples[i].is_key).into_iter().enumerate() {
        let s = &samples[gop[0]..gop[0] + gop.len()];
        file.extend_from_slice(&fmp4::fragment_header(seq as u32 + 1, bdt, s));
        for _ in gop {
            file.extend_from_slice(data(i));
            i += 1;
        }
        bdt += s.iter().map(|s| u64::from(s.duration)).sum::<u64>();
    }
    let scanned = fmp4::scan(&file).unwrap();
    let round: Vec<Sample> = scanned
        .fragments
        .iter()
        .flat_map(|f| f.samples.iter().copied())
        .collect();
    assert_eq!(round, samples);
    let frag_path = write(dir.path(), "bframes-frag.mp4", &file);
    assert_decodes_cleanly(&frag_path);
    assert_eq!(frame_count(&frag_path), 60);
    let got = packets(&frag_path);
    for (a, b) in got.iter().zip(&pkts) {
        assert_eq!(a.pts - a.dts, b.pts - b.dts, "composition offsets kept");
    }

    // Progressive: one run per GOP, all from the x264 file.
    let runs: Vec<Run> = gops(&idx, |&i| samples[i].is_key)
        .into_iter()
        .map(|g| Run {
            source: 0,
            offset: pkts[g[0]].pos,
            samples: samples[g[0]..g[0] + g.len()].to_vec(),
        })
        .collect();
    let built = progressive::build(&params, &runs, 0).unwrap();
    let prog_path = dir.path().join("bframes-prog.mp4");
    write_parts(&prog_path, &built.parts, &[&mp4]);
    assert_decodes_cleanly(&prog_path);
    assert_eq!(frame_count(&prog_path), 60);
    let got = packets(&prog_path);
    assert_eq!(
        got[0].pts, 0,
        "the edit list starts presentation at the first frame"
    );
    for (a, b) in got.iter().zip(&pkts) {
        assert_eq!(a.pts - a.dts, b.pts - b.dts);
        assert_eq!(a.pts - b.pts, got[0].pts - pkts[0].pts);
    }
    let duration = format_duration(&prog_path);
    assert!((duration - 4.0).abs() < 0.07, "duration {duration}");
}
