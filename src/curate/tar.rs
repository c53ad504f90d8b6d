//! A minimal ustar writer: regular files only, names up to 100 bytes —
//! enough for an archive of exported documents any `tar` can read.

/// Appends one file to a tar stream in `out`.
pub fn append(out: &mut Vec<u8>, name: &str, data: &[u8], mtime: i64) {
    let mut h = [0u8; 512];
    let name = name.as_bytes();
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], data.len() as u64);
    octal(&mut h[136..148], mtime.max(0) as u64);
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    let cs = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(cs.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

/// Ends a tar stream.
pub fn finish(out: &mut Vec<u8>) {
    out.extend(std::iter::repeat_n(0u8, 1024));
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{v:0width$o}\0", width = field.len() - 1);
    let b = s.as_bytes();
    let start = b.len().saturating_sub(field.len());
    field.copy_from_slice(&b[start..]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn system_tar_lists_and_extracts_what_we_write() {
        let mut out = Vec::new();
        super::append(&mut out, "a.md", b"# A\n", 1_700_000_000);
        super::append(&mut out, "b.html", &vec![b'x'; 700], 1_700_000_000);
        super::finish(&mut out);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tar");
        std::fs::write(&path, &out).unwrap();
        let st = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&path)
            .arg("-C")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(std::fs::read(dir.path().join("a.md")).unwrap(), b"# A\n");
        assert_eq!(std::fs::read(dir.path().join("b.html")).unwrap().len(), 700);
    }
}
