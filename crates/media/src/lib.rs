//! # media — codecs and containers as pure functions
//!
//! What this crate is for: everything Vigil needs to know about video *bytes* without
//! touching a file, a socket or a clock:
//!
//! - 90 kHz time ([`Ticks`], [`TIMESCALE`]) — the one time unit of the whole code base;
//! - the frame and stream-parameter types shared by `ingest`, `store` and `sim`
//!   ([`Frame`], [`VideoParams`], [`Codec`]);
//! - fragmented MP4: the init segment ([`fmp4::init_segment`]), one fragment header per
//!   GOP ([`fmp4::fragment_header`]), and a scanner that finds the complete fragments of a
//!   possibly-truncated file ([`fmp4::scan`]) for crash recovery and storage verification;
//! - the compact per-fragment index blob stored in the database ([`index`]);
//! - a progressive MP4 assembled from the index as a list of parts, some in memory and
//!   some byte ranges of segment files ([`progressive`]), for export and HTTP Range playback;
//! - H.264 bytes: Annex B splitting, SPS dimensions, the `avc1` sample entry ([`h264`]);
//! - RFC 3339 formatting and parsing of wall times ([`time::format_ticks`],
//!   [`time::parse_rfc3339`]).
//!
//! Parsers here never panic on bad input: they return [`Error`] (or, for [`fmp4::scan`],
//! stop at the first incomplete or unexpected box), because they read files after crashes
//! and bytes from cameras.
//!
//! What it is not for: I/O of any kind, async, RTSP (that is `ingest` with retina, and
//! `sim`), decoding pictures (that is `analyze`).

pub mod fmp4;
pub mod h264;
pub mod index;
mod mp4box;
pub mod progressive;
pub mod time;

/// Parameter sets captured from real encoders, for unit tests.
#[cfg(test)]
pub(crate) mod testdata {
    /// x264 Constrained Baseline, 320x240 (with emulation prevention bytes).
    pub const SPS_320X240: &[u8] = &[
        0x67, 0x42, 0xc0, 0x0c, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x01, 0xe0, 0xf1, 0x42, 0xa4, 0x80,
    ];
    pub const PPS_320X240: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];
}

use std::sync::Arc;

pub use time::{Ticks, TIMESCALE};

/// Video codec of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
        }
    }
}

/// What a decoder needs to know about a stream: produced by `ingest` from the camera's
/// parameter sets (retina builds the sample entry), stored by `store` once per distinct value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VideoParams {
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    /// RFC 6381 codec string, e.g. `avc1.640028`, for MSE.
    pub rfc6381: String,
    /// The complete ISO BMFF sample entry box (`avc1`/`hvc1` with `avcC`/`hvcC` inside).
    pub sample_entry: Vec<u8>,
}

/// One encoded picture (access unit), as it travels from ingest to its consumers.
///
/// Cloning a `Frame` never copies picture data: `data` is reference counted.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Presentation time as wall time: 90 kHz ticks since the Unix epoch (see [`time`]).
    pub time: Ticks,
    /// A random access point (IDR for H.264; IRAP for H.265).
    pub is_key: bool,
    /// NAL units, each prefixed by its 4-byte big-endian length (the MP4 form).
    pub data: bytes::Bytes,
    /// The parameters this frame decodes with; the same `Arc` until the camera changes them.
    pub params: Arc<VideoParams>,
    /// RTP packets lost just before this frame (0 when none).
    pub loss: u16,
}

/// One sample (frame) as containers see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Decode duration in 90 kHz ticks.
    pub duration: u32,
    /// Size in bytes of the sample data.
    pub size: u32,
    pub is_key: bool,
    /// Presentation time minus decode time, in ticks (0 without B-frames).
    pub composition_offset: i32,
}

/// Errors of parsing container bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("malformed {what} at byte {offset}: {detail}")]
    Malformed {
        what: &'static str,
        offset: u64,
        detail: String,
    },
    #[error("unsupported: {0}")]
    Unsupported(String),
}
