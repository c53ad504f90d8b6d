//! Transparent opening of plain, gzip and zstd files.
//!
//! The compression is chosen by the file's magic bytes, never by its name, so
//! a renamed `archive.mbox` that is really gzip still reads. This module knows
//! nothing of mail: it only hands out byte streams.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// How a file on disk is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is.
    None,
    /// gzip (one or more concatenated members).
    Gzip,
    /// Zstandard (one or more frames).
    Zstd,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Recognises a compression format from the first bytes of a file.
pub fn sniff_bytes(head: &[u8]) -> Compression {
    if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else {
        Compression::None
    }
}

/// Reads up to `buf.len()` bytes, retrying short reads, and returns how many were read.
pub fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Opens `path` and tells how it is compressed, positioned at its first byte.
pub fn open_raw(path: &Path) -> io::Result<(File, Compression)> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 4];
    let n = read_up_to(&mut file, &mut head)?;
    file.seek(SeekFrom::Start(0))?;
    Ok((file, sniff_bytes(&head[..n])))
}

/// Opens `path` for reading its decompressed content.
pub fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let (file, compression) = open_raw(path)?;
    wrap(file, compression)
}

/// Wraps an already opened file in the decoder its compression needs.
pub fn wrap(file: File, compression: Compression) -> io::Result<Box<dyn Read + Send>> {
    let reader = BufReader::with_capacity(256 * 1024, file);
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    })
}

/// Reads the first `n` decompressed bytes of `path` (fewer if the file is shorter).
pub fn head(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    let mut reader = open(path)?;
    let mut buf = vec![0u8; n];
    let got = read_up_to(&mut reader, &mut buf)?;
    buf.truncate(got);
    Ok(buf)
}

/// Skips `n` bytes of a stream; fails with `UnexpectedEof` if it ends first.
pub fn skip(reader: &mut dyn Read, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut reader.take(n), &mut io::sink())?;
    if copied < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("stream ended after {copied} of {n} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sniffs_and_opens_all_three() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"From a Mon Jan  1 00:00:00 2001\nSubject: x\n\nhi\n".repeat(100);

        let plain = dir.path().join("plain");
        std::fs::write(&plain, &data).unwrap();

        let gz = dir.path().join("renamed.mbox");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&data).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();

        let zst = dir.path().join("z");
        std::fs::write(&zst, zstd::encode_all(&data[..], 1).unwrap()).unwrap();

        for (p, c) in [
            (&plain, Compression::None),
            (&gz, Compression::Gzip),
            (&zst, Compression::Zstd),
        ] {
            assert_eq!(open_raw(p).unwrap().1, c);
            let mut out = Vec::new();
            open(p).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
            assert_eq!(head(p, 5).unwrap(), b"From ");
        }
    }

    #[test]
    fn skip_past_end_fails() {
        let mut r: &[u8] = b"abc";
        assert!(skip(&mut r, 4).is_err());
        let mut r: &[u8] = b"abc";
        skip(&mut r, 2).unwrap();
        assert_eq!(r, b"c");
    }
}
