//! Where line protocol goes: a file written under a temporary name and renamed when
//! whole, or a stream of chunks handed to the stdout writer; plain or gzip.
//!
//! With gzip, every measurement is its own gzip member (a gzip file may hold several;
//! `gzip -d`, Go's `gzip.Reader` and so `influx -import -compressed` read them as one
//! stream). That lets a file roll back a measurement that failed half-way under
//! `--skip-corrupt`: the file is cut where the measurement's member began.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use flate2::write::GzEncoder;

use crate::destination::atomic::{create_temp, sync_and_rename};
use crate::error::{IoContext, Result, cannot};

/// Plain or gzip-compressed output over `W`.
pub enum LpSink<W: Write> {
    /// Uncompressed.
    Plain(W),
    /// gzip at a level 0-9; `None` between members.
    Gzip {
        /// The member being written, if one is open.
        encoder: Option<GzEncoder<W>>,
        /// The underlying writer while no member is open.
        inner: Option<W>,
        /// Compression level.
        level: u32,
    },
}

impl<W: Write> LpSink<W> {
    /// A sink over `inner`, gzip-compressed at `gzip` level when given.
    pub fn new(inner: W, gzip: Option<u32>) -> LpSink<W> {
        match gzip {
            None => LpSink::Plain(inner),
            Some(level) => LpSink::Gzip {
                encoder: None,
                inner: Some(inner),
                level,
            },
        }
    }

    /// Appends bytes (opening a gzip member if none is open).
    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            LpSink::Plain(w) => w.write_all(bytes),
            LpSink::Gzip {
                encoder,
                inner,
                level,
            } => {
                if encoder.is_none() {
                    let w = inner.take().expect("writer present between members");
                    *encoder = Some(GzEncoder::new(w, flate2::Compression::new(*level)));
                }
                encoder.as_mut().expect("opened above").write_all(bytes)
            }
        }
    }

    /// Ends the current gzip member, if any (a no-op for plain output).
    pub fn end_member(&mut self) -> std::io::Result<()> {
        if let LpSink::Gzip { encoder, inner, .. } = self
            && let Some(e) = encoder.take()
        {
            *inner = Some(e.finish()?);
        }
        Ok(())
    }

    /// Ends any member and returns the underlying writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.end_member()?;
        match self {
            LpSink::Plain(w) => Ok(w),
            LpSink::Gzip { inner, .. } => Ok(inner.expect("member ended above")),
        }
    }

    /// The underlying writer, after ending any member.
    fn inner_mut(&mut self) -> std::io::Result<&mut W> {
        self.end_member()?;
        Ok(match self {
            LpSink::Plain(w) => w,
            LpSink::Gzip { inner, .. } => inner.as_mut().expect("member ended above"),
        })
    }
}

/// A line-protocol file being written under its temporary name.
pub struct PendingLpFile {
    temp: PathBuf,
    dest: PathBuf,
    sink: LpSink<BufWriter<File>>,
}

impl PendingLpFile {
    /// Creates the folders and the temporary file for `dest`.
    pub fn create(dest: PathBuf, gzip: Option<u32>) -> Result<PendingLpFile> {
        let (temp, file) = create_temp(&dest)?;
        Ok(PendingLpFile {
            temp,
            dest,
            sink: LpSink::new(BufWriter::with_capacity(1 << 20, file), gzip),
        })
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.sink
            .write_all(bytes)
            .io_context(cannot("write", &self.temp))
    }

    /// Ends the current gzip member and returns the file length: a point to roll back to.
    pub fn mark(&mut self) -> Result<u64> {
        let sink = &mut self.sink;
        (|| {
            let w = sink.inner_mut()?;
            w.flush()?;
            w.get_mut().stream_position()
        })()
        .io_context(cannot("write", &self.temp))
    }

    /// Cuts the file back to `mark` (from [`PendingLpFile::mark`]).
    pub fn rollback(&mut self, mark: u64) -> Result<()> {
        let sink = &mut self.sink;
        (|| {
            let w = sink.inner_mut()?;
            w.flush()?;
            let file = w.get_mut();
            file.set_len(mark)?;
            file.seek(SeekFrom::Start(mark)).map(drop)
        })()
        .io_context(cannot("cut back", &self.temp))
    }

    /// Finishes the file, syncs it and gives it its final name; returns its size. Refuses
    /// to replace an existing file.
    pub fn commit(self) -> Result<u64> {
        let PendingLpFile { temp, dest, sink } = self;
        let result = (|| -> Result<u64> {
            let file = sink
                .finish()
                .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
                .io_context(cannot("write", &temp))?;
            sync_and_rename(&file, &temp, &dest)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    /// Finishes the file under its temporary name, neither synced nor renamed (a part
    /// copied into another file at once); returns the temporary name.
    ///
    /// # Errors
    /// Write errors; the temporary file is deleted then.
    pub fn finish_unsynced(self) -> Result<PathBuf> {
        let PendingLpFile { temp, sink, .. } = self;
        let result = sink
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .map(drop)
            .io_context(cannot("write", &temp));
        match result {
            Ok(()) => Ok(temp),
            Err(err) => {
                let _ = std::fs::remove_file(&temp);
                Err(err)
            }
        }
    }

    /// Gives up: deletes the temporary file.
    pub fn abort(self) {
        let temp = self.temp.clone();
        drop(self);
        let _ = std::fs::remove_file(temp);
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }
}

/// A writer that collects bytes into chunks of about `chunk` bytes and sends each full
/// chunk down a channel (to the thread writing stdout in shard order).
pub struct ChunkWriter {
    buf: Vec<u8>,
    chunk: usize,
    tx: SyncSender<Vec<u8>>,
}

impl ChunkWriter {
    /// A writer sending chunks of about `chunk` bytes to `tx`.
    pub fn new(tx: SyncSender<Vec<u8>>, chunk: usize) -> ChunkWriter {
        ChunkWriter {
            buf: Vec::with_capacity(chunk),
            chunk,
            tx,
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.tx
            .send(full)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "output closed"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= self.chunk {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_members_read_as_one_stream_and_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x/1.lp.gz");
        let mut f = PendingLpFile::create(dest.clone(), Some(6)).unwrap();
        f.write(b"a x=1 1\n").unwrap();
        let mark = f.mark().unwrap();
        f.write(b"broken x=2 2\n").unwrap();
        f.rollback(mark).unwrap();
        f.write(b"b x=3 3\n").unwrap();
        f.commit().unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(File::open(&dest).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "a x=1 1\nb x=3 3\n");
    }

    #[test]
    fn plain_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("1.lp");
        let mut f = PendingLpFile::create(dest.clone(), None).unwrap();
        f.write(b"a x=1 1\n").unwrap();
        let mark = f.mark().unwrap();
        f.write(b"gone\n").unwrap();
        f.rollback(mark).unwrap();
        f.write(b"b x=3 3\n").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"a x=1 1\nb x=3 3\n");
    }
}
