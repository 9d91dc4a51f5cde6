//! Commands run inside a container or pod (`df`, `du`, `tail`): what they
//! print is bounded on the way in, stdout and stderr kept apart so that an
//! error message never passes for a file's content.

use std::io;

use super::tail::TailSpool;

/// How much stderr is kept: enough for any error message.
pub const MAX_STDERR: usize = 64 << 10;

/// Where a command's stdout goes. `false` from `push` stops reading: the
/// rest would be thrown away anyway.
pub trait OutputSink: Send {
    fn push(&mut self, data: &[u8]) -> io::Result<bool>;
}

/// At most `limit` bytes in memory, the first ones; for short output.
#[derive(Debug, Default)]
pub struct Bounded {
    pub data: Vec<u8>,
    limit: usize,
    pub truncated: bool,
}

impl Bounded {
    pub fn new(limit: usize) -> Bounded {
        Bounded {
            data: Vec::new(),
            limit,
            truncated: false,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

impl OutputSink for Bounded {
    fn push(&mut self, data: &[u8]) -> io::Result<bool> {
        let room = self.limit - self.data.len();
        if data.len() > room {
            self.data.extend_from_slice(&data[..room]);
            self.truncated = true;
            return Ok(false);
        }
        self.data.extend_from_slice(data);
        Ok(true)
    }
}

/// Long output (a log file read with `tail`): the newest bytes, on disk.
impl OutputSink for TailSpool {
    fn push(&mut self, data: &[u8]) -> io::Result<bool> {
        TailSpool::push(self, data)?;
        Ok(true)
    }
}

/// What a command printed on stderr and how it ended; stdout went to its sink.
#[derive(Debug, Default)]
pub struct ExecStatus {
    pub stderr: String,
    /// None when the runtime did not say (Kubernetes reports only failure).
    pub exit_code: Option<i64>,
    pub failed: bool,
}

impl ExecStatus {
    pub fn from_stderr(stderr: &Bounded, exit_code: Option<i64>, failed: bool) -> ExecStatus {
        ExecStatus {
            stderr: stderr.text(),
            exit_code,
            failed: failed || exit_code.is_some_and(|c| c != 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_keeps_the_first_bytes_and_says_so() {
        let mut b = Bounded::new(5);
        assert!(b.push(b"abc").unwrap());
        assert!(!b.push(b"defg").unwrap());
        assert_eq!(b.data, b"abcde");
        assert!(b.truncated);
        let mut b = Bounded::new(3);
        assert!(b.push(b"abc").unwrap());
        assert!(!b.truncated);
    }
}
