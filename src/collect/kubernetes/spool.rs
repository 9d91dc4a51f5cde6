//! Spool files of JSON Lines: each kind's objects on their way from the
//! API server to the redactor, on disk instead of in memory.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::collect::parts::tail::SpoolDir;

/// Where a line is in a spool file, its newline included.
#[derive(Clone, Copy)]
pub struct Place {
    pub offset: u64,
    pub len: u32,
}

/// A spool file of JSON Lines in the run's private spool directory: an
/// unnamed file, gone when closed whatever ends the process.
pub struct Spool {
    file: BufWriter<File>,
    dir: PathBuf,
    len: u64,
    line: Vec<u8>,
}

impl Spool {
    pub fn new(dir: &SpoolDir) -> io::Result<Spool> {
        Ok(Spool {
            file: Self::file_in(dir.path())?,
            dir: dir.path().to_path_buf(),
            len: 0,
            line: Vec::new(),
        })
    }

    fn file_in(dir: &Path) -> io::Result<BufWriter<File>> {
        Ok(BufWriter::with_capacity(
            64 << 10,
            tempfile::tempfile_in(dir)?,
        ))
    }

    /// Appends one item as a line; where it is.
    pub fn push(&mut self, item: &Value) -> io::Result<Place> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, item)?;
        self.line.push(b'\n');
        self.file.write_all(&self.line)?;
        let start = self.len;
        self.len += self.line.len() as u64;
        // An object is at most a few MiB (etcd's limit is 1.5).
        let len =
            u32::try_from(self.line.len()).map_err(|_| io::Error::other("an object of 4 GiB"))?;
        Ok(Place { offset: start, len })
    }

    pub fn clear(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let f = self.file.get_mut();
        f.set_len(0)?;
        f.rewind()?;
        self.len = 0;
        Ok(())
    }

    /// Rewrites the spool to hold only the lines at `keep`, in that
    /// order, handing each to `each` on the way; the places then point
    /// into the new file.
    pub fn keep<'a>(
        &mut self,
        keep: impl Iterator<Item = &'a mut Place>,
        mut each: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        self.file.flush()?;
        let old = self.file.get_ref().try_clone()?;
        let mut new = Self::file_in(&self.dir)?;
        let mut buf = Vec::new();
        let mut at = 0u64;
        for p in keep {
            buf.resize(p.len as usize, 0);
            old.read_exact_at(&mut buf, p.offset)?;
            each(&buf[..buf.len().saturating_sub(1)]);
            new.write_all(&buf)?;
            p.offset = at;
            at += u64::from(p.len);
        }
        new.flush()?;
        self.file = new;
        self.len = at;
        Ok(())
    }

    pub fn into_reader(self) -> io::Result<BufReader<File>> {
        let mut f = self.file.into_inner().map_err(|e| e.into_error())?;
        f.rewind()?;
        Ok(BufReader::with_capacity(64 << 10, f))
    }
}
