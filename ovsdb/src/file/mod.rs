//! The standalone OVSDB database file, at the record level, as `ovsdb-tool` and ovsdb-server 3.1 read
//! and write it.
//!
//! # Format (verified against OVS 3.1.0)
//! A file is a sequence of records. Each record is a header line followed by `length` bytes of data:
//!
//! ```text
//! OVSDB JSON <length> <sha1>\n
//! <JSON text>\n
//! ```
//!
//! `<length>` is decimal and counts the data bytes *including* the trailing newline; `<sha1>` is the
//! 40-hex-digit SHA-1 of exactly those bytes. The JSON is written compactly on one line and is always an
//! object. Readers accept trailing whitespace inside the counted bytes. The magic word after `OVSDB ` is
//! `JSON` for standalone databases; clustered (Raft) databases use `OVSDB CLUSTER ...` and are rejected
//! here with [`FileError::Clustered`]. A header line is at most 127 bytes.
//!
//! The first record is the database schema (the `.ovsschema` object). Every further record is a
//! transaction record, an object whose members are
//! - `"_date"`: commit time in milliseconds since the epoch (optional);
//! - `"_comment"`: the text of the transaction's `comment` operations (optional);
//! - `"_is_diff": true`: written by ovsdb-server since OVS 2.15 for every commit; absent in the snapshot
//!   `ovsdb-tool compact` (and [`LogFile::compact`]) writes, whose `"_comment"` is e.g.
//!   `"compacted by ovsdb-tool 3.1.0"`;
//! - one member per table changed: `{"<row uuid>": <row object> | null}`.
//!
//! Replaying a transaction record on the database built from the previous records:
//! - `null`: the row is deleted.
//! - A row uuid not yet present: the row is inserted with the given columns; columns not listed take
//!   their default values (ovsdb-server only writes non-default columns).
//! - An existing row without `"_is_diff"`: each listed column is replaced by the given value.
//! - An existing row with `"_is_diff": true`: each listed column holds a diff (OVS `ovsdb_datum_diff`):
//!   - scalar and optional columns (at most one element): the value is the new value;
//!   - sets (`max` > 1): the listed elements are toggled (an element present is removed, an absent one
//!     added), i.e. the diff is the symmetric difference of old and new;
//!   - maps (`max` > 1): for each listed pair `k → v`: if `k` is absent, add `k → v`; if `k → v` is
//!     present with the same value, remove it; if `k` maps to another value, set it to `v`.
//!
//! Writers: ovsdb-server writes one record per committed transaction and `fsync`s (`fdatasync`) it before
//! replying when the commit is durable. On startup it reads records until the first bad one and
//! ignores the rest; its next write truncates the file there. [`read_records`] does the same and reports
//! where and why it stopped ([`CorruptTail`]) so the caller can log it; [`LogFile::open`] then truncates
//! the tail before its first append.
//!
//! # Hook for the transaction engine
//! This module knows nothing about schemas, rows or datums: it takes and returns records as
//! [`serde_json::Value`]s ([`LogFile::append_record`], [`read_records`]). The engine turns each commit's
//! change set into a transaction record (with [`TransactionRecord`] if convenient), appends it, calls
//! [`LogFile::sync`] before acknowledging a durable commit, and on startup replays the records as
//! described above. Compaction takes the schema and one snapshot record the engine builds.
//!
//! What it does not do: interpret schemas or rows, take the `.<name>.~lock~` lock file ovsdb-server uses,
//! or read clustered (Raft) logs.

mod record;
mod txn;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use record::{
    append_encoded_record_text, encode_record, encode_record_text, parse_header, CorruptTail,
    Corruption, RawRecord, Record, RecordHeader, RecordReader, StagedRecords,
};
pub(crate) use record::{record_header_of, EncodedHeader};
pub use txn::TransactionRecord;

/// The magic word of standalone database files (`OVSDB JSON ...`).
pub const STANDALONE_MAGIC: &str = "JSON";

/// The magic word of clustered (Raft) database files (`OVSDB CLUSTER ...`).
pub const CLUSTER_MAGIC: &str = "CLUSTER";

/// Errors of the file layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// An operating-system error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file is a clustered (Raft) database.
    #[error("{path}: clustered database (\"OVSDB CLUSTER\" records); only standalone databases are supported (convert with `ovsdb-tool cluster-to-standalone`)")]
    Clustered {
        /// The file concerned.
        path: PathBuf,
    },
    /// The file's first record has a magic word other than `JSON`.
    #[error("{path}: unknown OVSDB file type \"{magic}\"")]
    UnknownMagic {
        /// The file concerned.
        path: PathBuf,
        /// The magic word found.
        magic: String,
    },
    /// The file does not start with an OVSDB record header.
    #[error("{path}: not an OVSDB database file")]
    NotOvsdbFile {
        /// The file concerned.
        path: PathBuf,
    },
    /// The file has no readable schema record.
    #[error("{path}: no schema record{}", .tail.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    NoSchema {
        /// The file concerned.
        path: PathBuf,
        /// Why the first record could not be read, if the file is not empty.
        tail: Option<CorruptTail>,
    },
    /// Reading a stream given to [`RecordReader`] failed.
    #[error("read error: {0}")]
    Read(#[source] io::Error),
    /// A bad record in a stream read with [`RecordReader`].
    #[error("{0}")]
    Corrupt(CorruptTail),
    /// A record to write is not a JSON object.
    #[error("a record must be a JSON object")]
    NotAnObject,
    /// A transaction record does not have the expected shape.
    #[error("invalid transaction record: {reason}{}", .table.as_ref().map(|t| format!(" (table \"{t}\")")).unwrap_or_default())]
    BadTransaction {
        /// The table concerned, if any.
        table: Option<String>,
        /// What is wrong.
        reason: &'static str,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Everything [`read_records`] found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct LogContents {
    /// The good records, in order; the first is the schema.
    pub records: Vec<Record>,
    /// Where and why reading stopped before the end of the file, if it did.
    pub corrupt_tail: Option<CorruptTail>,
    /// Length of the good prefix: the offset just past the last good record.
    pub valid_len: u64,
}

/// Reads all good records of the standalone database file at `path`, stopping at the first truncated or
/// corrupt record, which is reported in [`LogContents::corrupt_tail`].
///
/// Fails if the file cannot be read, is clustered, or is not an OVSDB file. An empty file yields no
/// records.
pub fn read_records(path: impl AsRef<Path>) -> Result<LogContents, FileError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(io_err(path))?;
    read_records_from(file, path)
}

fn read_records_from(reader: impl io::Read, path: &Path) -> Result<LogContents, FileError> {
    let mut records = Vec::new();
    let end = read_raw_records_from(reader, path, |raw| match raw.parse() {
        Ok(record) => {
            records.push(record);
            Ok(None)
        }
        Err(FileError::Corrupt(tail)) => Ok(Some(tail.reason)),
        Err(e) => Err(e),
    })?;
    Ok(LogContents {
        records,
        corrupt_tail: end.corrupt_tail,
        valid_len: end.valid_len,
    })
}

/// Where reading records one by one ended (see [`LogFile::open_streaming`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadEnd {
    /// How many good records were read.
    pub records: usize,
    /// Where and why reading stopped before the end of the file, if it did.
    pub corrupt_tail: Option<CorruptTail>,
    /// Length of the good prefix: the offset just past the last good record.
    pub valid_len: u64,
}

/// Reads the records of a stream one at a time, handing each to `on_record` as soon as its header
/// and SHA-1 have been checked. `on_record` returns `Ok(Some(reason))` for a record it finds
/// corrupt (its JSON does not parse, say), which ends reading there as a corrupt tail.
fn read_raw_records_from<E: From<FileError>>(
    reader: impl io::Read,
    path: &Path,
    mut on_record: impl FnMut(RawRecord) -> Result<Option<Corruption>, E>,
) -> Result<ReadEnd, E> {
    let mut reader = RecordReader::new(reader);
    let mut contents = ReadEnd {
        records: 0,
        corrupt_tail: None,
        valid_len: 0,
    };
    loop {
        let next = match reader.next_raw_record() {
            Ok(Some(raw)) => {
                let (offset, end) = (raw.offset, raw.offset + raw.size);
                match on_record(raw)? {
                    None => {
                        contents.valid_len = end;
                        contents.records += 1;
                        continue;
                    }
                    Some(reason) => Err(FileError::Corrupt(CorruptTail { offset, reason })),
                }
            }
            other => other,
        };
        match next {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(FileError::Corrupt(tail)) => {
                if contents.records == 0 {
                    match &tail.reason {
                        Corruption::WrongMagic { found } if found == CLUSTER_MAGIC => {
                            return Err(FileError::Clustered {
                                path: path.to_path_buf(),
                            }
                            .into())
                        }
                        Corruption::WrongMagic { found } => {
                            return Err(FileError::UnknownMagic {
                                path: path.to_path_buf(),
                                magic: found.clone(),
                            }
                            .into())
                        }
                        Corruption::BadHeader { line } if !line.starts_with("OVSDB ") => {
                            return Err(FileError::NotOvsdbFile {
                                path: path.to_path_buf(),
                            }
                            .into())
                        }
                        _ => {}
                    }
                }
                contents.corrupt_tail = Some(tail);
                break;
            }
            Err(FileError::Read(source)) => return Err(io_err(path)(source).into()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(contents)
}

fn sync_parent_dir(path: &Path) -> Result<(), FileError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// A standalone database file open for appending records.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    /// End of the good records; the next record is written here.
    offset: u64,
    /// Whether bytes past `offset` (a corrupt tail) must be cut before the next write.
    truncate_pending: bool,
}

impl LogFile {
    /// Creates a new database file (it must not exist) holding only `schema`, and makes it durable
    /// (file and directory entry), like `ovsdb-tool create`.
    pub fn create(path: impl AsRef<Path>, schema: &Value) -> Result<Self, FileError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_err(path))?;
        let mut log = Self {
            path: path.to_path_buf(),
            file,
            offset: 0,
            truncate_pending: false,
        };
        log.append_record(schema)?;
        log.file.sync_all().map_err(io_err(path))?;
        sync_parent_dir(path)?;
        Ok(log)
    }

    /// Opens an existing database file for appending, after reading its records.
    ///
    /// A corrupt or truncated tail (reported in [`LogContents::corrupt_tail`]) is cut off before the
    /// first append, as ovsdb-server does. Fails with [`FileError::NoSchema`] if not even the schema
    /// record is readable.
    pub fn open(path: impl AsRef<Path>) -> Result<(Self, LogContents), FileError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        let contents = read_records_from(&file, path)?;
        if contents.records.is_empty() {
            return Err(FileError::NoSchema {
                path: path.to_path_buf(),
                tail: contents.corrupt_tail,
            });
        }
        let log = Self {
            path: path.to_path_buf(),
            file,
            offset: contents.valid_len,
            truncate_pending: contents.corrupt_tail.is_some(),
        };
        Ok((log, contents))
    }

    /// Like [`LogFile::open`], but hands each record to `on_record` as soon as it is read (header and
    /// SHA-1 checked, JSON not parsed) instead of keeping every record in memory: the caller can
    /// apply a big record and drop its text before reading the next. `on_record` returns
    /// `Ok(Some(reason))` for a record it finds corrupt, which ends the good prefix there (as
    /// [`LogFile::open`] does for a record whose JSON does not parse).
    pub fn open_streaming<E: From<FileError>>(
        path: impl AsRef<Path>,
        on_record: impl FnMut(RawRecord) -> Result<Option<Corruption>, E>,
    ) -> Result<(Self, ReadEnd), E> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        let end = read_raw_records_from(&file, path, on_record)?;
        if end.records == 0 {
            return Err(FileError::NoSchema {
                path: path.to_path_buf(),
                tail: end.corrupt_tail,
            }
            .into());
        }
        let log = Self {
            path: path.to_path_buf(),
            file,
            offset: end.valid_len,
            truncate_pending: end.corrupt_tail.is_some(),
        };
        Ok((log, end))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Offset just past the last record: the file's logical length.
    pub fn len(&self) -> u64 {
        self.offset
    }

    /// Whether no record was ever written (never true for a file made by [`create`](Self::create)).
    pub fn is_empty(&self) -> bool {
        self.offset == 0
    }

    /// Cuts a corrupt tail found by [`open`](Self::open) now rather than at the next append.
    pub fn truncate_corrupt_tail(&mut self) -> Result<(), FileError> {
        if self.truncate_pending {
            self.file.set_len(self.offset).map_err(io_err(&self.path))?;
            self.truncate_pending = false;
        }
        Ok(())
    }

    /// Appends one record (a JSON object) and returns its offset. The record is written with one
    /// `write` call sequence and is not durable until [`sync`](Self::sync). If writing fails, the
    /// partial record is cut off again (as ovsdb-server does) and the error returned.
    pub fn append_record(&mut self, record: &Value) -> Result<u64, FileError> {
        let bytes = encode_record(record)?;
        self.append_encoded(&bytes)
    }

    /// Like [`append_record`](Self::append_record), for a record object already written as
    /// compact JSON text (`data`, without the final newline; see [`encode_record_text`]).
    pub fn append_record_text(&mut self, data: Vec<u8>) -> Result<u64, FileError> {
        let bytes = encode_record_text(data);
        self.append_encoded(&bytes)
    }

    /// Appends records already encoded with their headers (by [`append_encoded_record_text`],
    /// one or several one after the other) with one write, and returns the offset of the first.
    /// On failure none of them is kept, as in [`append_record`](Self::append_record).
    pub fn append_encoded_records(&mut self, bytes: &[u8]) -> Result<u64, FileError> {
        self.append_encoded(bytes)
    }

    /// [`append_encoded_records`](Self::append_encoded_records) for encoded records given in
    /// parts (written one after the other, in order): a big record built in pieces is written
    /// without being copied into one buffer first.
    pub fn append_encoded_parts(&mut self, parts: &[&[u8]]) -> Result<u64, FileError> {
        self.truncate_corrupt_tail()?;
        let at = self.offset;
        let mut end = at;
        for part in parts {
            if let Err(source) = std::os::unix::fs::FileExt::write_all_at(&self.file, part, end) {
                let _ = self.file.set_len(at);
                return Err(io_err(&self.path)(source));
            }
            end += part.len() as u64;
        }
        self.offset = end;
        Ok(at)
    }

    fn append_encoded(&mut self, bytes: &[u8]) -> Result<u64, FileError> {
        self.truncate_corrupt_tail()?;
        let at = self.offset;
        // One positioned write (`pwrite`), not a seek and a write: a system call less per commit.
        let result = std::os::unix::fs::FileExt::write_all_at(&self.file, bytes, at);
        if let Err(source) = result {
            // Best effort: remove any partial data; the original error is what matters.
            let _ = self.file.set_len(at);
            return Err(io_err(&self.path)(source));
        }
        self.offset += bytes.len() as u64;
        Ok(at)
    }

    /// Makes all appended records durable (`fdatasync`). Call before acknowledging a durable commit.
    pub fn sync(&mut self) -> Result<(), FileError> {
        self.file.sync_data().map_err(io_err(&self.path))
    }

    /// Online compaction: replaces the file by one holding `schema` and one `snapshot` transaction
    /// record (full rows, no `"_is_diff"`), atomically.
    ///
    /// Writes `<path>.tmp`, `fsync`s it, renames it over `path`, `fsync`s the directory, then continues
    /// appending to the new file. A crash at any point leaves either the old or the new file in place.
    pub fn compact(&mut self, schema: &Value, snapshot: &Value) -> Result<(), FileError> {
        let mut tmp_name = self.path.clone().into_os_string();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&tmp)(e)),
        }
        let mut bytes = encode_record(schema)?;
        bytes.extend_from_slice(&encode_record(snapshot)?);
        let written = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()?;
                Ok(f)
            });
        let new_file = match written {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(io_err(&tmp)(e));
            }
        };
        std::fs::rename(&tmp, &self.path).map_err(io_err(&self.path))?;
        // From here on `path` is the new file: append to it even if the directory sync fails.
        self.file = new_file;
        self.offset = bytes.len() as u64;
        self.truncate_pending = false;
        sync_parent_dir(&self.path)
    }
}

/// Writes a complete database file at `path` (which must not exist): `schema` then `records`, durably.
/// Convenient for tools and tests; a server uses [`LogFile`].
pub fn write_database(
    path: impl AsRef<Path>,
    schema: &Value,
    records: &[Value],
) -> Result<(), FileError> {
    let mut log = LogFile::create(path, schema)?;
    for r in records {
        log.append_record(r)?;
    }
    log.file.sync_all().map_err(io_err(&log.path))
}

/// Fuzzing entry point: reads `data` as a database file. Never panics on any input; a panic means a bug.
pub fn fuzz_read(data: &[u8]) {
    let _ = read_records_from(data, Path::new("<fuzz>"));
}

#[cfg(test)]
mod tests;
