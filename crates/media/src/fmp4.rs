//! Fragmented MP4 as Vigil writes it: `ftyp`+`moov` (one video track, id 1, timescale
//! 90 000, with `mvex`), then one `moof`+`mdat` per fragment (normally one GOP).
//! INTERFACE STUB — to be implemented.

use crate::{Error, Sample, VideoParams};

/// `ftyp` + `moov` for one video track described by `params`.
pub fn init_segment(params: &VideoParams) -> Vec<u8> {
    let _ = params;
    todo!()
}

/// `moof` + the 8-byte `mdat` header for one fragment. The caller writes these bytes and
/// then the samples' data, in order; the fragment's total length is
/// `header.len() + sum(sample.size)`.
pub fn fragment_header(sequence: u32, base_decode_time: u64, samples: &[Sample]) -> Vec<u8> {
    let _ = (sequence, base_decode_time, samples);
    todo!()
}

/// One complete `moof`+`mdat` pair found by [`scan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedFragment {
    /// Offset of the `moof` box in the file.
    pub offset: u64,
    /// Offset of the first sample's data (inside `mdat`).
    pub data_offset: u64,
    /// Offset one past the end of the `mdat` box.
    pub end: u64,
    pub sequence: u32,
    pub base_decode_time: u64,
    pub samples: Vec<Sample>,
}

/// What [`scan`] found in a file image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// Length of `ftyp`+`moov` (0 if they are not complete).
    pub init_len: u64,
    /// The `moov`'s sample entry box, if the init segment is complete.
    pub sample_entry: Option<Vec<u8>>,
    pub fragments: Vec<ScannedFragment>,
    /// Bytes up to the end of the last complete fragment (or of the init segment): the
    /// length to truncate a crashed file to.
    pub valid_len: u64,
}

/// Scans a file image as written by this module. Stops, without error, at the first box
/// that is incomplete (a crash mid-write); errors only when the bytes are not our fMP4 at all.
pub fn scan(data: &[u8]) -> Result<Scan, Error> {
    let _ = data;
    todo!()
}
