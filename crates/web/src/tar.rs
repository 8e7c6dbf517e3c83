//! A minimal POSIX ustar writer for downloading an evidence package as one file: regular
//! files under one directory, sizes above 8 GiB in the GNU base-256 form (GNU tar, bsdtar
//! and 7-Zip read it). The length is known before the first byte (for Content-Length).

use std::io::Read;
use std::path::Path;

const BLOCK: u64 = 512;

/// Bytes of an archive of files of these sizes: a header and the padded data per file, then
/// two zero blocks.
pub fn archive_len(sizes: impl Iterator<Item = u64>) -> u64 {
    sizes
        .map(|s| BLOCK + s.div_ceil(BLOCK) * BLOCK)
        .sum::<u64>()
        + 2 * BLOCK
}

/// A ustar header for regular file `name` (`prefix/file`) of `size` bytes.
fn header(prefix: &str, file: &str, size: u64, mtime: u64) -> std::io::Result<[u8; 512]> {
    let mut h = [0u8; 512];
    let full = format!("{prefix}/{file}");
    if full.len() <= 100 {
        h[..full.len()].copy_from_slice(full.as_bytes());
    } else if prefix.len() <= 155 && file.len() <= 100 {
        h[..file.len()].copy_from_slice(file.as_bytes());
        h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    } else {
        return Err(std::io::Error::other(format!(
            "{full}: the name is too long for a tar header"
        )));
    }
    let octal = |field: &mut [u8], v: u64| {
        let s = format!("{v:0width$o}", width = field.len() - 1);
        field[..s.len()].copy_from_slice(s.as_bytes());
        field[s.len()] = 0;
    };
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    if size < 8 << 30 {
        octal(&mut h[124..136], size);
    } else {
        // GNU base-256: high bit set, big-endian value in the rest of the field.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut h[136..148], mtime);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..270].copy_from_slice(b"vigil");
    h[297..302].copy_from_slice(b"vigil");
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    Ok(h)
}

/// Writes `files` (name, size) of `dir` as a tar under `prefix/`, handing out chunks of at
/// most 256 KiB to `out`. A file that changed size since it was listed fails the archive
/// (the Content-Length would lie); an error from `out` stops at once.
pub fn write_archive(
    dir: &Path,
    prefix: &str,
    files: &[(String, u64)],
    mut out: impl FnMut(bytes::Bytes) -> std::io::Result<()>,
) -> std::io::Result<()> {
    const CHUNK: usize = 256 * 1024;
    for (name, size) in files {
        let path = dir.join(name);
        let mut f = std::fs::File::open(&path)?;
        let meta = f.metadata()?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        out(bytes::Bytes::copy_from_slice(&header(
            prefix, name, *size, mtime,
        )?))?;
        let mut left = *size;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            let mut buf = vec![0u8; n];
            f.read_exact(&mut buf).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("{}: shorter than listed ({e})", path.display()),
                )
            })?;
            left -= n as u64;
            out(bytes::Bytes::from(buf))?;
        }
        let pad = (size.div_ceil(BLOCK) * BLOCK - size) as usize;
        if pad > 0 {
            out(bytes::Bytes::from(vec![0u8; pad]))?;
        }
    }
    out(bytes::Bytes::from(vec![0u8; 2 * BLOCK as usize]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_tar_reads_what_we_write() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let files = [("a.txt", 0usize), ("b.bin", 512), ("manifest.json", 1000)];
        let mut list = Vec::new();
        for (n, len) in files {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            std::fs::write(src.join(n), &data).unwrap();
            list.push((n.to_string(), len as u64));
        }
        let mut tar = Vec::new();
        write_archive(&src, "pkg-1", &list, |c| {
            tar.extend_from_slice(&c);
            Ok(())
        })
        .unwrap();
        assert_eq!(tar.len() as u64, archive_len(list.iter().map(|f| f.1)));
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(d.path().join("p.tar"), &tar).unwrap();
        let st = std::process::Command::new("tar")
            .arg("-xf")
            .arg(d.path().join("p.tar"))
            .arg("-C")
            .arg(&out)
            .status()
            .expect("tar must be installed");
        assert!(st.success());
        for (n, _) in files {
            assert_eq!(
                std::fs::read(out.join("pkg-1").join(n)).unwrap(),
                std::fs::read(src.join(n)).unwrap(),
                "{n}"
            );
        }
    }

    #[test]
    fn long_names_use_the_prefix_field() {
        let prefix = "p".repeat(120);
        let h = header(&prefix, "camera-1.mp4", 10, 0).unwrap();
        assert_eq!(&h[..12], b"camera-1.mp4");
        assert_eq!(&h[345..465], prefix.as_bytes());
        assert!(header(&"p".repeat(200), "x", 1, 0).is_err());
    }

    #[test]
    fn huge_sizes_are_base_256() {
        let h = header("p", "big.mp4", 9 << 30, 0).unwrap();
        assert_eq!(h[124], 0x80);
        assert_eq!(u64::from_be_bytes(h[128..136].try_into().unwrap()), 9 << 30);
    }
}
