//! Record framing: header line, length, SHA-1, JSON body.

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde_json::Value;
use sha1::{Digest, Sha1};

use super::{FileError, STANDALONE_MAGIC};

/// Longest header line accepted, newline included (OVS reads it with `fgets` into 128 bytes).
const MAX_HEADER_LEN: usize = 127;

/// A parsed record header `OVSDB <magic> <length> <sha1>\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// `JSON` (standalone) or `CLUSTER` (clustered).
    pub magic: String,
    /// Number of data bytes following the header, trailing newline included.
    pub length: u64,
    /// SHA-1 of the data bytes.
    pub sha1: [u8; 20],
}

/// Parses one header line (with its trailing `\n`), or returns `None` if it is malformed.
pub fn parse_header(line: &[u8]) -> Option<RecordHeader> {
    let line = line.strip_suffix(b"\n")?;
    let line = std::str::from_utf8(line).ok()?;
    let rest = line.strip_prefix("OVSDB ")?;
    let mut parts = rest.split(' ');
    let magic = parts.next().filter(|m| !m.is_empty())?;
    let length = parts.next()?;
    let sha1 = parts.next()?;
    if parts.next().is_some() || length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let length: u64 = length.parse().ok().filter(|n| *n > 0)?;
    let mut digest = [0u8; 20];
    hex::decode_to_slice(sha1, &mut digest).ok()?;
    Some(RecordHeader {
        magic: magic.to_owned(),
        length,
        sha1: digest,
    })
}

/// Why reading stopped at a record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The header line is malformed.
    BadHeader {
        /// The line (lossy UTF-8, without newline, at most 127 bytes).
        line: String,
    },
    /// The header names another file type than the file's first record.
    WrongMagic {
        /// The magic word found.
        found: String,
    },
    /// The file ends inside the header or the data.
    Truncated {
        /// Bytes the record needs after its header (0 if the header itself is cut).
        expected: u64,
        /// Bytes present.
        available: u64,
    },
    /// The data does not have the SHA-1 the header announces.
    Sha1Mismatch {
        /// SHA-1 in the header (hex).
        expected: String,
        /// SHA-1 of the data (hex).
        actual: String,
    },
    /// The data is not valid JSON.
    InvalidJson {
        /// serde_json's message.
        message: String,
    },
    /// The data is valid JSON but not an object.
    NotAnObject,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHeader { line } => write!(f, "parse error in header line \"{line}\""),
            Self::WrongMagic { found } => write!(f, "unexpected record type \"{found}\""),
            Self::Truncated {
                expected: 0,
                available,
            } => write!(f, "truncated header ({available} bytes)"),
            Self::Truncated {
                expected,
                available,
            } => write!(f, "truncated record: {available} of {expected} bytes"),
            Self::Sha1Mismatch { expected, actual } => {
                write!(
                    f,
                    "data has SHA-1 hash {actual} but should have hash {expected}"
                )
            }
            Self::InvalidJson { message } => write!(f, "data is not valid JSON ({message})"),
            Self::NotAnObject => write!(f, "data is not a JSON object"),
        }
    }
}

/// A bad record: where it starts and what is wrong. Everything from `offset` on is to be discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptTail {
    /// Offset of the bad record's header; also the length of the good prefix.
    pub offset: u64,
    /// What is wrong.
    pub reason: Corruption,
}

impl fmt::Display for CorruptTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad record at offset {}: {}", self.offset, self.reason)
    }
}

/// One good record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Offset of its header line in the file.
    pub offset: u64,
    /// Total size on disk, header included.
    pub size: u64,
    /// Its JSON object.
    pub json: Value,
}

impl Record {
    /// Offset just past this record.
    pub fn end_offset(&self) -> u64 {
        self.offset + self.size
    }
}

/// One record whose header and SHA-1 checked out, its JSON not parsed yet.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// Offset of its header line in the file.
    pub offset: u64,
    /// Total size on disk, header included.
    pub size: u64,
    /// The record's JSON text (with its trailing newline).
    pub data: Vec<u8>,
}

impl RawRecord {
    /// Parses the JSON text; text that is not a JSON object makes the record corrupt
    /// ([`Corruption::InvalidJson`] or [`Corruption::NotAnObject`] at the record's offset).
    pub fn parse(self) -> Result<Record, FileError> {
        let corrupt = |reason| {
            FileError::Corrupt(CorruptTail {
                offset: self.offset,
                reason,
            })
        };
        let json: Value = serde_json::from_slice(&self.data).map_err(|e| {
            corrupt(Corruption::InvalidJson {
                message: e.to_string(),
            })
        })?;
        if !json.is_object() {
            return Err(corrupt(Corruption::NotAnObject));
        }
        Ok(Record {
            offset: self.offset,
            size: self.size,
            json,
        })
    }
}

/// Encodes `record` (a JSON object) as ovsdb-server does: compact JSON plus a newline, preceded by the
/// `OVSDB JSON <length> <sha1>` header.
pub fn encode_record(record: &Value) -> Result<Vec<u8>, FileError> {
    if !record.is_object() {
        return Err(FileError::NotAnObject);
    }
    // Serializing a `Value` cannot fail (its map keys are strings).
    let data = serde_json::to_vec(record).map_err(|_| FileError::NotAnObject)?;
    Ok(encode_record_text(data))
}

/// A record whose JSON object is already written as compact text (`data`, without the final
/// newline), with its header: the bytes [`encode_record`] writes for the same object.
pub fn encode_record_text(data: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 72);
    append_encoded_record_text(&mut out, data);
    out
}

/// Appends to `dst` what [`encode_record_text`] returns for `data`: several records encoded one
/// after the other, to be written at once.
pub fn append_encoded_record_text(dst: &mut Vec<u8>, mut data: Vec<u8>) {
    data.push(b'\n');
    let header = record_header(&data);
    dst.reserve_exact(header.len() + data.len());
    dst.extend_from_slice(&header);
    dst.extend_from_slice(&data);
}

/// Room left for a record's header by [`StagedRecords::append_with`]: `OVSDB JSON `, a
/// 20-digit length, a space, 40 hex digits and a newline.
const HEADER_ROOM: usize = 11 + 20 + 1 + 40 + 1;

/// The header of a record whose data (final newline included) is `data`, built in a fixed
/// buffer (no formatting machinery, no allocation: this runs once per commit).
pub(crate) struct EncodedHeader {
    buf: [u8; HEADER_ROOM],
    len: usize,
}

impl std::ops::Deref for EncodedHeader {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn record_header(data: &[u8]) -> EncodedHeader {
    record_header_of(data.len(), &Sha1::digest(data).into())
}

/// The header of a record of `len` bytes of data (final newline included) whose SHA-1 digest
/// is `sha1`: for data hashed in parts.
pub(crate) fn record_header_of(len: usize, sha1: &[u8; 20]) -> EncodedHeader {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; HEADER_ROOM];
    let prefix = b"OVSDB ";
    let mut at = 0;
    for part in [prefix, STANDALONE_MAGIC.as_bytes(), b" "] {
        buf[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    // The length in decimal (at most 20 digits).
    let mut digits = [0u8; 20];
    let mut d = digits.len();
    let mut n = len;
    loop {
        d -= 1;
        digits[d] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len_digits = &digits[d..];
    buf[at..at + len_digits.len()].copy_from_slice(len_digits);
    at += len_digits.len();
    buf[at] = b' ';
    at += 1;
    // The digest in hex.
    for &b in sha1 {
        buf[at] = HEX[usize::from(b >> 4)];
        buf[at + 1] = HEX[usize::from(b & 15)];
        at += 2;
    }
    buf[at] = b'\n';
    EncodedHeader { buf, len: at + 1 }
}

/// Encoded records waiting to be written at once, each built in place: its data is written
/// straight into the buffer and its header put in front afterwards, so a big record is never
/// copied.
#[derive(Debug, Default)]
pub struct StagedRecords {
    buf: Vec<u8>,
    /// Where the first record starts in `buf` (the room its header did not use comes before).
    start: usize,
}

impl StagedRecords {
    /// Appends one record whose compact JSON text (without the final newline) `write` appends
    /// to the buffer it is given; when `write` returns false, nothing is appended.
    pub fn append_with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
        let first = self.buf.is_empty();
        let at = self.buf.len();
        self.buf.resize(at + HEADER_ROOM, 0);
        let data = self.buf.len();
        if !write(&mut self.buf) {
            self.buf.truncate(at);
            return false;
        }
        self.buf.push(b'\n');
        let header = record_header(&self.buf[data..]);
        let from = data - header.len();
        self.buf[from..data].copy_from_slice(&header);
        if first {
            self.start = from;
        } else {
            // Close the unused room between the previous record and this one.
            let end = self.buf.len();
            self.buf.copy_within(from..end, at);
            self.buf.truncate(end - (from - at));
        }
        true
    }

    /// The encoded records, one after the other.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// True when no record is staged.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops the staged records; a big buffer is given back.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
    }
}

/// Reads records one by one from a byte stream.
///
/// The magic word of the first record fixes the file type; a later record with another one is
/// [`Corruption::WrongMagic`]. Errors are [`FileError::Corrupt`] (with the record's offset) or
/// [`FileError::Read`]; after an error, stop: the stream position is then inside the bad record.
#[derive(Debug)]
pub struct RecordReader<R> {
    reader: BufReader<R>,
    offset: u64,
    magic: Option<String>,
}

impl<R: Read> RecordReader<R> {
    /// A reader at offset 0 of `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader: BufReader::new(reader),
            offset: 0,
            magic: None,
        }
    }

    /// Offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The file type's magic word, once a record header has been read.
    pub fn magic(&self) -> Option<&str> {
        self.magic.as_deref()
    }

    fn corrupt(&self, reason: Corruption) -> FileError {
        FileError::Corrupt(CorruptTail {
            offset: self.offset,
            reason,
        })
    }

    /// Reads the next record; `Ok(None)` at a clean end of the stream.
    pub fn next_record(&mut self) -> Result<Option<Record>, FileError> {
        match self.next_raw_record()? {
            Some(raw) => raw.parse().map(Some),
            None => Ok(None),
        }
    }

    /// Reads the next record without parsing its JSON (see [`RawRecord::parse`]); `Ok(None)` at a
    /// clean end of the stream.
    pub fn next_raw_record(&mut self) -> Result<Option<RawRecord>, FileError> {
        let mut line = Vec::with_capacity(96);
        (&mut self.reader)
            .take(MAX_HEADER_LEN as u64)
            .read_until(b'\n', &mut line)
            .map_err(FileError::Read)?;
        if line.is_empty() {
            return Ok(None);
        }
        let Some(header) = parse_header(&line) else {
            let text =
                String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line)).into_owned();
            let at_eof = !line.ends_with(b"\n")
                && line.len() < MAX_HEADER_LEN
                && "OVSDB ".as_bytes().starts_with(&line[..line.len().min(6)]);
            return Err(self.corrupt(if at_eof {
                Corruption::Truncated {
                    expected: 0,
                    available: line.len() as u64,
                }
            } else {
                Corruption::BadHeader { line: text }
            }));
        };
        match &self.magic {
            None => self.magic = Some(header.magic.clone()),
            Some(m) if *m == header.magic => {}
            Some(_) => {
                return Err(self.corrupt(Corruption::WrongMagic {
                    found: header.magic,
                }))
            }
        }
        if header.magic != STANDALONE_MAGIC {
            return Err(self.corrupt(Corruption::WrongMagic {
                found: header.magic,
            }));
        }
        let mut data = Vec::new();
        (&mut self.reader)
            .take(header.length)
            .read_to_end(&mut data)
            .map_err(FileError::Read)?;
        if (data.len() as u64) < header.length {
            return Err(self.corrupt(Corruption::Truncated {
                expected: header.length,
                available: data.len() as u64,
            }));
        }
        let actual: [u8; 20] = Sha1::digest(&data).into();
        if actual != header.sha1 {
            return Err(self.corrupt(Corruption::Sha1Mismatch {
                expected: hex::encode(header.sha1),
                actual: hex::encode(actual),
            }));
        }
        let size = line.len() as u64 + header.length;
        let record = RawRecord {
            offset: self.offset,
            size,
            data,
        };
        self.offset += size;
        Ok(Some(record))
    }
}
