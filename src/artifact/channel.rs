//! A body fed from another thread or task, read on the packager's thread.

use std::io::Read;

/// A body fed from elsewhere (a thread, or an async task streaming logs):
/// the producer writes chunks into a `ChannelWriter`; a failure on its side
/// reaches the reader as an error, never as a silently short artifact.
/// The reader blocks: it is read on the packager's thread.
pub fn channel(depth: usize) -> (ChannelWriter, ChannelReader) {
    let (tx, rx) = tokio::sync::mpsc::channel(depth.max(1));
    (
        ChannelWriter { tx },
        ChannelReader {
            rx,
            buf: Vec::new(),
            pos: 0,
            done: false,
        },
    )
}

pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Chunk>,
}

enum Chunk {
    Data(Vec<u8>),
    Fail(std::io::Error),
    End,
}

fn gone() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader went away")
}

impl ChannelWriter {
    /// Ends the body cleanly (from a thread). Dropping the writer without
    /// `finish` or `fail` ends the body with an error, so an aborted
    /// producer is noticed.
    pub fn finish(self) {
        let _ = self.tx.blocking_send(Chunk::End);
    }

    pub fn fail(self, e: std::io::Error) {
        let _ = self.tx.blocking_send(Chunk::Fail(e));
    }

    /// From async code.
    pub async fn send(&self, data: Vec<u8>) -> std::io::Result<()> {
        self.tx.send(Chunk::Data(data)).await.map_err(|_| gone())
    }

    /// From async code: `Ok` ends cleanly, `Err` reaches the reader.
    pub async fn end(self, result: std::io::Result<()>) {
        let last = match result {
            Ok(()) => Chunk::End,
            Err(e) => Chunk::Fail(e),
        };
        let _ = self.tx.send(last).await;
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Chunk::Data(buf.to_vec()))
            .map_err(|_| gone())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Chunk::Data(b)) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Some(Chunk::End) => self.done = true,
                Some(Chunk::Fail(e)) => {
                    self.done = true;
                    return Err(e);
                }
                None => {
                    self.done = true;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the producer stopped before the end (interrupted?)",
                    ));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
