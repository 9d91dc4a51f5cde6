//! The streaming side of `--obfuscate-network`: a reader that rewrites an
//! already-redacted body line by line, in bounded pieces.

use std::io::{self, BufRead, Read};

use super::NetworkObfuscator;
use crate::redact::RedactionCounts;

/// Wraps an already-redacted body; lines are rewritten as they stream.
pub struct NetworkReader<R> {
    inner: R,
    net: NetworkObfuscator,
    counts: RedactionCounts,
    carry: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

/// Lines longer than this are cut at a non-address byte and rewritten in
/// pieces, so memory stays bounded.
pub(super) const MAX_PIECE: usize = 1 << 20;

impl<R: BufRead> NetworkReader<R> {
    pub fn new(inner: R, net: NetworkObfuscator, counts: RedactionCounts) -> Self {
        NetworkReader {
            inner,
            net,
            counts,
            carry: Vec::new(),
            out: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        let mut line = std::mem::take(&mut self.carry);
        let room = MAX_PIECE.saturating_sub(line.len()).max(1);
        let n = (&mut self.inner)
            .take(room as u64)
            .read_until(b'\n', &mut line)?;
        if line.is_empty() {
            self.done = true;
            return Ok(());
        }
        // A piece cut mid-line ends after the last byte no address
        // contains; the rest starts the next piece.
        if n == room && !line.ends_with(b"\n") {
            let addr = |b: &u8| b.is_ascii_alphanumeric() || b".:@_%+-[]".contains(b);
            if let Some(i) = line.iter().rposition(|b| !addr(b)) {
                self.carry = line.split_off(i + 1);
            }
        }
        self.out = match std::str::from_utf8(&line) {
            Ok(t) => self.net.obfuscate(t, &self.counts).into_bytes(),
            // Not text (the secret pass already left binary out): as is.
            Err(_) => line,
        };
        Ok(())
    }
}

impl<R: BufRead> Read for NetworkReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
