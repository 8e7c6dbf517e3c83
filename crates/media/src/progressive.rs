//! A progressive (non-fragmented) MP4 assembled from the index: `ftyp`, `moov` with full
//! sample tables, and one `mdat` whose content is byte ranges of segment files. Nothing is
//! copied to build it; the result is a list of [`Part`]s that a server streams (with HTTP
//! Range) or an exporter writes out. INTERFACE STUB — to be implemented.

use crate::{Error, Sample, VideoParams};

/// A run of consecutive samples stored contiguously in one source file.
#[derive(Clone, Debug)]
pub struct Run {
    /// Caller's handle for the file (e.g. an index into its list of segment paths).
    pub source: usize,
    /// Offset in the source file of the first sample's data.
    pub offset: u64,
    pub samples: Vec<Sample>,
}

/// One piece of the output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Mem(bytes::Bytes),
    File { source: usize, offset: u64, len: u64 },
}

/// The assembled file.
#[derive(Clone, Debug)]
pub struct Mp4 {
    pub parts: Vec<Part>,
    pub len: u64,
}

/// Builds a progressive MP4 of `runs` (in decode order; sample durations already include
/// any hole the caller chose to cover by holding the previous frame). `creation_time` is
/// seconds since the Unix epoch, written into `mvhd`/`tkhd`/`mdhd`.
pub fn build(params: &VideoParams, runs: &[Run], creation_time: u64) -> Result<Mp4, Error> {
    let _ = (params, runs, creation_time);
    todo!()
}
