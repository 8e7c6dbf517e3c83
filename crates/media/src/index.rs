//! The compact per-fragment index stored with each segment row (a blob), so that seeking,
//! playback and export never scan segment files. INTERFACE STUB — to be implemented.

use crate::{Error, Sample};

/// One fragment of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentIndex {
    /// Offset of the fragment's `moof` in the segment file.
    pub offset: u64,
    /// Offset of its first sample's data.
    pub data_offset: u64,
    /// Decode time of its first sample, ticks from the segment's start.
    pub start: i64,
    pub samples: Vec<Sample>,
}

impl FragmentIndex {
    /// Sum of the samples' durations.
    pub fn duration(&self) -> i64 {
        self.samples.iter().map(|s| s.duration as i64).sum()
    }
    /// Offset one past the fragment's last byte.
    pub fn end(&self) -> u64 {
        self.data_offset + self.samples.iter().map(|s| s.size as u64).sum::<u64>()
    }
}

/// Encodes fragments into a compact blob (varints, deltas).
pub fn encode(fragments: &[FragmentIndex]) -> Vec<u8> {
    let _ = fragments;
    todo!()
}

/// Decodes a blob made by [`encode`].
pub fn decode(blob: &[u8]) -> Result<Vec<FragmentIndex>, Error> {
    let _ = blob;
    todo!()
}
