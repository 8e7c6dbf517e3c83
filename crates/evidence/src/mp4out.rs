//! Writing one export MP4 and its SHA-256 at the speed of the disk: [`write_mp4`].
//!
//! Three stages overlap, each on its own thread, passing 4 KiB-aligned pieces of 1 MiB
//! from a small pool (14 MiB; no allocation and no page faults per piece):
//! - the calling thread assembles the MP4 in order: the header parts from memory, the
//!   sample runs read from the segment files with positioned reads straight into the
//!   piece (one copy out of the page cache, no intermediate buffer);
//! - a hashing thread computes the SHA-256 of each piece, in order, at most
//!   [`HASH_QUEUE`] pieces behind the reader, loading each next 16 KiB into its cache
//!   while it hashes the current 16 KiB ([`hash_ahead`]);
//! - a writing thread writes the pieces in batches of [`PIECES_PER_WRITE`] (one
//!   `pwritev` of 4 MiB) at their offset, with `O_DIRECT` where the filesystem allows it:
//!   the data goes from user memory to the disk without a copy into the page cache and
//!   without dirty pages for writeback to flush later, so writing costs little CPU. The
//!   last, partial piece is written padded to the alignment and the file truncated to its
//!   size.
//!
//! A piece goes back to the pool when both the hasher and the writer are done with it
//! (an `Arc` whose last owner returns it), so the stages wait on each other only when the
//! pool is empty or the reader is [`HASH_QUEUE`] pieces ahead of the hasher.
//!
//! Why this shape (measured on the 2-vCPU test VM, SHA-256 with SHA-NI): once the output
//! no longer goes through the page cache, the SHA-256 of the whole file on one core is
//! the bound. It runs at ~1.6 GB/s on data already in that core's cache, ~1.3 GB/s on
//! pieces another core has just written, ~1.05 GB/s on data coming from memory, and
//! ~1.45 GB/s on another core's pieces when the next lines are loaded ahead. Copying and
//! hashing on the same core costs the copy on top (~0.3 s for 1.66 GB out of the page
//! cache): slower than leaving the copy and the I/O to the other core.
//!
//! Where `O_DIRECT` is refused (at open, or `EINVAL` on a write: tmpfs before Linux 6.6,
//! some network or FUSE filesystems), the same pipeline writes through the page cache
//! instead, with a debug log; it never fails because of it.

use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use media::progressive::Part;
use sha2::{Digest, Sha256};
use tracing::debug;

/// Alignment of piece memory, file offsets and lengths for `O_DIRECT` (a multiple of any
/// logical block size in use: 512 B or 4 KiB).
const ALIGN: usize = 4096;

/// Size of a piece: the unit handed to the hasher and returned to the pool (a multiple
/// of [`ALIGN`]).
const PIECE: usize = 1 << 20;

/// Pieces per write (4 MiB: few system calls and large requests to the disk).
const PIECES_PER_WRITE: usize = 4;

/// How many pieces the reader may be ahead of the hasher (2 MiB: what the hasher reads
/// was written recently, and the reader does not wait at every piece).
const HASH_QUEUE: usize = 2;

/// Pieces in the pool (14 MiB): the reader fills a batch while two more are queued for or
/// being written, and two spare. It must exceed `PIECES_PER_WRITE`: the pieces of the
/// batch the reader has not handed over yet come back only after it does, so with fewer
/// the reader could wait for a piece forever.
const PIECES: usize = 3 * PIECES_PER_WRITE + 2;

/// What went wrong while writing an MP4.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Opening or reading a source segment file, or a part naming a source the export
    /// does not have.
    Source(store::Error),
    /// Creating, writing or syncing the output.
    Output(std::io::Error),
}

fn source_err(what: &str, path: &Path, source: std::io::Error) -> Failure {
    Failure::Source(store::Error::Io {
        what: what.to_string(),
        path: path.to_owned(),
        source,
    })
}

/// A 4 KiB-aligned buffer of `PIECE` bytes and the part of it filled.
struct Piece {
    mem: Vec<u8>,
    /// Offset of the aligned start inside `mem`.
    base: usize,
    /// Bytes filled.
    len: usize,
}

impl Piece {
    fn new() -> Piece {
        let mem = vec![0u8; PIECE + ALIGN];
        let base = mem.as_ptr().align_offset(ALIGN);
        assert!(
            base < ALIGN,
            "a byte pointer can always be aligned at run time"
        );
        Piece { mem, base, len: 0 }
    }

    fn data(&self) -> &[u8] {
        &self.mem[self.base..self.base + self.len]
    }

    /// The data followed by zeros up to the next multiple of [`ALIGN`] (what an
    /// `O_DIRECT` write of the last piece needs; the zeros are truncated away after).
    fn padded(&self) -> &[u8] {
        &self.mem[self.base..self.base + self.len.next_multiple_of(ALIGN)]
    }

    fn room(&mut self) -> &mut [u8] {
        &mut self.mem[self.base + self.len..self.base + PIECE]
    }

    fn is_full(&self) -> bool {
        self.len == PIECE
    }
}

/// A piece shared by the hasher and the writer; the last of them to drop it sends it
/// back to the pool.
struct Pooled {
    piece: Option<Piece>,
    home: SyncSender<Piece>,
}

impl Pooled {
    fn piece(&self) -> &Piece {
        self.piece.as_ref().expect("present until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(mut p) = self.piece.take() {
            p.len = 0;
            // The pool's channel holds every piece at once, so this never blocks; if the
            // reader is gone (an error), the piece is simply freed.
            let _ = self.home.try_send(p);
        }
    }
}

/// Consecutive pieces and the file position of the first; all but the file's last piece
/// are full.
struct Batch {
    pos: u64,
    pieces: Vec<Arc<Pooled>>,
}

/// The output file: a descriptor opened with `O_DIRECT` when the filesystem allows it,
/// and a normal one (used for everything else, and for writes once `O_DIRECT` failed).
struct Output {
    direct: Option<File>,
    buffered: File,
}

impl Output {
    fn create(path: &Path) -> std::io::Result<Output> {
        let buffered = File::create(path)?;
        let direct = match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
        {
            Ok(f) => Some(f),
            Err(e) => {
                debug!(path = %path.display(), error = %e, "O_DIRECT refused; writing through the page cache");
                None
            }
        };
        Ok(Output { direct, buffered })
    }

    fn write(&mut self, b: &Batch) -> std::io::Result<()> {
        if let Some(d) = &self.direct {
            let mut slices: Vec<IoSlice> = b
                .pieces
                .iter()
                .map(|p| IoSlice::new(p.piece().padded()))
                .collect();
            match pwritev_all(d, &mut slices, b.pos) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    debug!(error = %e, "O_DIRECT write refused; writing through the page cache");
                    self.direct = None;
                }
                Err(e) => return Err(e),
            }
        }
        let mut pos = b.pos;
        for p in &b.pieces {
            let data = p.piece().data();
            self.buffered.write_all_at(data, pos)?;
            pos += data.len() as u64;
        }
        Ok(())
    }
}

/// Bytes hashed per step, while the next step's bytes are brought into the cache.
const HASH_STEP: usize = 16 << 10;

/// Updates `h` with `data`, loading the next [`HASH_STEP`] bytes into the cache (one
/// read per 64-byte line: independent reads the CPU keeps in flight together) before
/// hashing the current ones. SHA-256 reads its input one 64-byte block at a time, so on
/// data that is not in this core's cache it waits at every line; loading ahead took it
/// from ~1.3 to ~1.45 GB/s on pieces written by another core (the module documentation).
fn hash_ahead(h: &mut Sha256, data: &[u8]) {
    let touch = |b: &[u8]| b.iter().step_by(64).fold(0u8, |a, x| a ^ x);
    let mut sum = touch(&data[..data.len().min(HASH_STEP)]);
    let mut steps = data.chunks(HASH_STEP).peekable();
    while let Some(step) = steps.next() {
        if let Some(next) = steps.peek() {
            sum ^= touch(next);
        }
        h.update(step);
    }
    std::hint::black_box(sum);
}

/// `pwritev` until everything is written.
fn pwritev_all(f: &File, mut bufs: &mut [IoSlice<'_>], mut pos: u64) -> std::io::Result<()> {
    while !bufs.is_empty() {
        let count = bufs.len().min(1024) as libc::c_int; // IOV_MAX on Linux
        let offset = libc::off_t::try_from(pos).map_err(std::io::Error::other)?;
        // SAFETY: `IoSlice` is ABI-compatible with `struct iovec` on Unix (documented by
        // std), the slices borrow live buffers for the duration of the call, and `count`
        // does not exceed their number.
        let n = unsafe {
            libc::pwritev(
                f.as_raw_fd(),
                bufs.as_ptr().cast::<libc::iovec>(),
                count,
                offset,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n as usize);
        pos += n as u64;
    }
    Ok(())
}

/// Writes the MP4 of `parts` (file parts read from `sources`) to a new file at `path`,
/// synced, and returns its SHA-256 and length.
pub(crate) fn write_mp4(
    parts: &[Part],
    sources: &[PathBuf],
    path: &Path,
) -> Result<([u8; 32], u64), Failure> {
    write_to(
        parts,
        sources,
        Output::create(path).map_err(Failure::Output)?,
    )
}

fn write_to(
    parts: &[Part],
    sources: &[PathBuf],
    mut out: Output,
) -> Result<([u8; 32], u64), Failure> {
    let (free_tx, free_rx) = sync_channel::<Piece>(PIECES);
    let (hash_tx, hash_rx) = sync_channel::<Arc<Pooled>>(HASH_QUEUE);
    // Room for every batch the pool allows: the reader waits for the writer only when it
    // has no free piece, never to hand over a batch.
    let (write_tx, write_rx) = sync_channel::<Batch>(PIECES / PIECES_PER_WRITE + 1);
    let (read, hash, written) = std::thread::scope(|s| {
        let hasher = std::thread::Builder::new()
            .name("export-sha256".into())
            .spawn_scoped(s, move || {
                let mut h = Sha256::new();
                for p in hash_rx {
                    hash_ahead(&mut h, p.piece().data());
                }
                <[u8; 32]>::from(h.finalize())
            })
            .map_err(Failure::Output);
        let writer = std::thread::Builder::new()
            .name("export-write".into())
            .spawn_scoped(s, || -> std::io::Result<()> {
                for b in write_rx {
                    out.write(&b)?;
                }
                Ok(())
            })
            .map_err(Failure::Output);
        let mut sink = Sink {
            free_tx,
            free_rx,
            hash_tx,
            write_tx,
            allocated: 0,
            pos: 0,
            current: None,
            batch: Batch {
                pos: 0,
                pieces: Vec::with_capacity(PIECES_PER_WRITE),
            },
        };
        let read = if hasher.is_ok() && writer.is_ok() {
            assemble(parts, sources, &mut sink).and_then(|()| sink.finish())
        } else {
            // A thread could not be started (its error is reported below); dropping the
            // sink closes the channels, which ends the other thread.
            drop(sink);
            Ok(0)
        };
        let hash = hasher.map(|h| h.join().expect("the hashing thread does not panic"));
        let written = writer.map(|w| w.join().expect("the writing thread does not panic"));
        (read, hash, written)
    });
    let hash = hash?;
    written?.map_err(Failure::Output)?;
    // A failed read is reported after the threads end (they stop when the channels close).
    let len = read?;
    out.buffered.set_len(len).map_err(Failure::Output)?;
    out.buffered.sync_all().map_err(Failure::Output)?;
    Ok((hash, len))
}

/// The reader's end of the pipeline: fills pieces and hands them on.
struct Sink {
    free_tx: SyncSender<Piece>,
    free_rx: Receiver<Piece>,
    hash_tx: SyncSender<Arc<Pooled>>,
    write_tx: SyncSender<Batch>,
    allocated: usize,
    /// Bytes handed on so far.
    pos: u64,
    current: Option<Piece>,
    batch: Batch,
}

impl Sink {
    /// The piece being filled: a returned one, a new one while fewer than `PIECES` exist,
    /// or the next one the hasher and the writer give back.
    fn current(&mut self) -> Result<&mut Piece, Failure> {
        if self.current.is_none() {
            let p = match self.free_rx.try_recv() {
                Ok(p) => p,
                Err(_) if self.allocated < PIECES => {
                    self.allocated += 1;
                    Piece::new()
                }
                Err(_) => self.free_rx.recv().map_err(|_| stopped())?,
            };
            self.current = Some(p);
        }
        Ok(self.current.as_mut().expect("just set"))
    }

    /// Hands the current piece (if it holds anything) to the hasher, and adds it to the
    /// batch for the writer.
    fn dispatch(&mut self) -> Result<(), Failure> {
        let Some(mut p) = self.current.take() else {
            return Ok(());
        };
        if p.len == 0 {
            self.current = Some(p);
            return Ok(());
        }
        // Zeros after the data, for a padded O_DIRECT write of a partial (last) piece.
        let (len, padded) = (p.len, p.len.next_multiple_of(ALIGN));
        p.mem[p.base + len..p.base + padded].fill(0);
        self.pos += len as u64;
        let shared = Arc::new(Pooled {
            piece: Some(p),
            home: self.free_tx.clone(),
        });
        self.hash_tx.send(shared.clone()).map_err(|_| stopped())?;
        self.batch.pieces.push(shared);
        if self.batch.pieces.len() == PIECES_PER_WRITE {
            self.send_batch()?;
        }
        Ok(())
    }

    fn send_batch(&mut self) -> Result<(), Failure> {
        if self.batch.pieces.is_empty() {
            return Ok(());
        }
        let next = Batch {
            pos: self.pos,
            pieces: Vec::with_capacity(PIECES_PER_WRITE),
        };
        let full = std::mem::replace(&mut self.batch, next);
        self.write_tx.send(full).map_err(|_| stopped())
    }

    fn extend(&mut self, mut data: &[u8]) -> Result<(), Failure> {
        while !data.is_empty() {
            let p = self.current()?;
            let room = p.room();
            let n = room.len().min(data.len());
            room[..n].copy_from_slice(&data[..n]);
            p.len += n;
            data = &data[n..];
            if p.is_full() {
                self.dispatch()?;
            }
        }
        Ok(())
    }

    /// Appends `len` bytes of `file` (at `path`) from `offset`, read straight into the
    /// pieces.
    fn read_from(
        &mut self,
        file: &File,
        path: &Path,
        mut offset: u64,
        mut len: u64,
    ) -> Result<(), Failure> {
        while len > 0 {
            let p = self.current()?;
            let room = p.room();
            let n = (room.len() as u64).min(len) as usize;
            file.read_exact_at(&mut room[..n], offset)
                .map_err(|e| source_err("read", path, e))?;
            p.len += n;
            offset += n as u64;
            len -= n as u64;
            if p.is_full() {
                self.dispatch()?;
            }
        }
        Ok(())
    }

    /// Hands on the last piece and batch; returns the total length. Dropping `self`
    /// closes the channels, which ends the hasher and the writer.
    fn finish(mut self) -> Result<u64, Failure> {
        self.dispatch()?;
        self.send_batch()?;
        Ok(self.pos)
    }
}

/// The hasher or the writer is gone (the writer's own error is what gets reported).
fn stopped() -> Failure {
    Failure::Output(std::io::Error::other(
        "the hashing or writing thread stopped",
    ))
}

/// Feeds the MP4's bytes, in order, into `sink`.
fn assemble(parts: &[Part], sources: &[PathBuf], sink: &mut Sink) -> Result<(), Failure> {
    let mut open: Option<(usize, File)> = None;
    for part in parts {
        match part {
            Part::Mem(b) => sink.extend(b)?,
            Part::File {
                source,
                offset,
                len,
            } => {
                let path = sources.get(*source).ok_or_else(|| {
                    Failure::Source(store::Error::ShortSource {
                        path: PathBuf::from(format!("<source #{source}>")),
                        needed: offset + len,
                        has: 0,
                    })
                })?;
                if open.as_ref().map(|(i, _)| *i) != Some(*source) {
                    let f = File::open(path).map_err(|e| source_err("open", path, e))?;
                    open = Some((*source, f));
                }
                let f = &open.as_ref().expect("just opened").1;
                sink.read_from(f, path, *offset, *len)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes that differ at every offset (xorshift).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// Parts mixing memory and two source files, sized to cross piece and batch
    /// boundaries at odd offsets, with the expected bytes.
    fn parts(dir: &Path, total_file_bytes: usize) -> (Vec<Part>, Vec<PathBuf>, Vec<u8>) {
        let a = noise(total_file_bytes, 1);
        let b = noise(total_file_bytes / 2 + 77, 2);
        let sources = vec![dir.join("a.mp4"), dir.join("b.mp4")];
        std::fs::write(&sources[0], &a).unwrap();
        std::fs::write(&sources[1], &b).unwrap();
        let head = noise(1234, 3);
        let mut parts = vec![Part::Mem(bytes::Bytes::from(head.clone()))];
        let mut want = head;
        // Runs of varied lengths (some longer than a piece, some tiny), alternating files.
        let mut off = [17usize, 5];
        let lens = [100_000usize, PIECE + 3, 1, 4096, 3 * PIECE - 11, 65_537];
        let mut i = 0;
        loop {
            let s = i % 2;
            let src = if s == 0 { &a } else { &b };
            let len = lens[i % lens.len()];
            if off[s] + len > src.len() {
                break;
            }
            parts.push(Part::File {
                source: s,
                offset: off[s] as u64,
                len: len as u64,
            });
            want.extend_from_slice(&src[off[s]..off[s] + len]);
            off[s] += len + 9; // a gap, like a moof between two mdat payloads
            i += 1;
        }
        parts.push(Part::Mem(bytes::Bytes::from_static(b"tail")));
        want.extend_from_slice(b"tail");
        (parts, sources, want)
    }

    fn check(out_dir: &Path, src_dir: &Path, total_file_bytes: usize) {
        let (parts, sources, want) = parts(src_dir, total_file_bytes);
        let out = out_dir.join("out.mp4");
        let (hash, len) = write_mp4(&parts, &sources, &out).unwrap();
        assert_eq!(len, want.len() as u64);
        let got = std::fs::read(&out).unwrap();
        assert!(got == want, "the output differs from the parts");
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&want)));
    }

    #[test]
    fn writes_the_parts_exactly_and_hashes_them() {
        let dir = tempfile::tempdir().unwrap();
        // Less than one piece, several batches, and an exact multiple of the alignment.
        check(dir.path(), dir.path(), 20_000);
        check(dir.path(), dir.path(), 3 * PIECES_PER_WRITE * PIECE + 5);
        let (parts, sources, want) = parts(dir.path(), 3 * PIECE);
        let aligned = want.len().next_multiple_of(ALIGN) - want.len();
        let mut parts = parts;
        parts.push(Part::Mem(bytes::Bytes::from(vec![7u8; aligned])));
        let out = dir.path().join("aligned.mp4");
        let (_, len) = write_mp4(&parts, &sources, &out).unwrap();
        assert_eq!(len as usize % ALIGN, 0);
        assert_eq!(std::fs::metadata(&out).unwrap().len(), len);
    }

    #[test]
    fn the_buffered_path_writes_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (parts, sources, want) = parts(dir.path(), 2 * PIECES_PER_WRITE * PIECE);
        let path = dir.path().join("buffered.mp4");
        let out = Output {
            direct: None,
            buffered: File::create(&path).unwrap(),
        };
        let (hash, len) = write_to(&parts, &sources, out).unwrap();
        assert_eq!(len, want.len() as u64);
        assert!(std::fs::read(&path).unwrap() == want);
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&want)));
    }

    #[test]
    fn a_filesystem_without_o_direct_support_still_works() {
        // tmpfs refuses O_DIRECT before Linux 6.6 and accepts it (buffered) after: either
        // way the export must succeed with the same bytes.
        let shm = Path::new("/dev/shm");
        if !shm.is_dir() {
            return;
        }
        let out = tempfile::tempdir_in(shm).unwrap();
        let src = tempfile::tempdir().unwrap();
        check(out.path(), src.path(), 2 * PIECE + 3);
    }

    #[test]
    fn a_missing_or_short_source_is_a_source_error() {
        let dir = tempfile::tempdir().unwrap();
        let (mut parts, sources, _) = parts(dir.path(), 20_000);
        parts.push(Part::File {
            source: 0,
            offset: 19_999,
            len: 10,
        });
        let r = write_mp4(&parts, &sources, &dir.path().join("short.mp4"));
        assert!(
            matches!(r, Err(Failure::Source(store::Error::Io { .. }))),
            "{r:?}"
        );
        parts.pop();
        parts.push(Part::File {
            source: 5,
            offset: 0,
            len: 10,
        });
        let r = write_mp4(&parts, &sources, &dir.path().join("missing.mp4"));
        assert!(
            matches!(r, Err(Failure::Source(store::Error::ShortSource { .. }))),
            "{r:?}"
        );
    }
}
