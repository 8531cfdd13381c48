use serde_json::json;

use super::*;

fn schema() -> Value {
    json!({"name":"T","version":"1.0.0","tables":{"t":{"columns":{"s":{"type":"string"}}}}})
}

fn txns() -> Vec<Value> {
    vec![
        json!({"_date":1,"t":{"6d2c9a0e-2b5b-4d32-a1a6-4f2a2f5c1e01":{"s":"a"}},"_is_diff":true}),
        json!({"_date":2,"t":{"6d2c9a0e-2b5b-4d32-a1a6-4f2a2f5c1e01":{"s":"b\n\u{e9}"}},"_is_diff":true,"_comment":"x"}),
        json!({"_date":3,"t":{"6d2c9a0e-2b5b-4d32-a1a6-4f2a2f5c1e01":null},"_is_diff":true}),
    ]
}

fn jsons(c: &LogContents) -> Vec<Value> {
    c.records.iter().map(|r| r.json.clone()).collect()
}

#[test]
fn encodes_records_like_ovsdb_server() {
    let bytes = encode_record(&json!({"a":[1,"x"]})).unwrap();
    // printf '{"a":[1,"x"]}\n' | sha1sum
    let data = b"{\"a\":[1,\"x\"]}\n";
    let sha = hex::encode(Sha1::digest(data));
    let want = format!("OVSDB JSON {} {sha}\n{{\"a\":[1,\"x\"]}}\n", data.len());
    assert_eq!(String::from_utf8(bytes).unwrap(), want);
    assert!(matches!(
        encode_record(&json!([1])),
        Err(FileError::NotAnObject)
    ));
}

use sha1::{Digest, Sha1};

#[test]
fn parses_headers_strictly() {
    let sha = "3828b0e1ab6c26c0b08dec37b380f52a9c7ddc55";
    let h = parse_header(format!("OVSDB JSON 14445 {sha}\n").as_bytes()).unwrap();
    assert_eq!((h.magic.as_str(), h.length), ("JSON", 14445));
    assert_eq!(hex::encode(h.sha1), sha);
    let h = parse_header(format!("OVSDB CLUSTER 5 {}\n", sha.to_uppercase()).as_bytes()).unwrap();
    assert_eq!(h.magic, "CLUSTER");
    for bad in [
        format!("OVSDB JSON 0 {sha}\n"),
        format!("OVSDB JSON -1 {sha}\n"),
        format!("OVSDB JSON 1 {sha}"),
        format!("OVSDB JSON 1 {sha} \n"),
        format!("OVSDB  1 {sha}\n"),
        format!("OVSDB JSON 1 {}\n", &sha[1..]),
        format!("XVSDB JSON 1 {sha}\n"),
        "OVSDB JSON 1 zz\n".to_owned(),
    ] {
        assert_eq!(parse_header(bad.as_bytes()), None, "{bad:?}");
    }
}

#[test]
fn writes_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    write_database(&path, &schema(), &txns()).unwrap();
    let c = read_records(&path).unwrap();
    assert_eq!(c.corrupt_tail, None);
    let mut want = vec![schema()];
    want.extend(txns());
    assert_eq!(jsons(&c), want);
    assert_eq!(c.valid_len, std::fs::metadata(&path).unwrap().len());
    assert_eq!(c.records[1].offset, c.records[0].end_offset());
    // create refuses to overwrite.
    assert!(matches!(
        LogFile::create(&path, &schema()),
        Err(FileError::Io { .. })
    ));
}

#[test]
fn truncation_at_every_byte_of_the_last_record_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    write_database(&path, &schema(), &txns()).unwrap();
    let full = std::fs::read(&path).unwrap();
    let c = read_records(&path).unwrap();
    let last = c.records[3].offset as usize;
    for cut in last..full.len() {
        std::fs::write(&path, &full[..cut]).unwrap();
        let c = read_records(&path).unwrap();
        assert_eq!(c.records.len(), 3, "cut {cut}");
        assert_eq!(c.valid_len, last as u64);
        if cut == last {
            assert_eq!(c.corrupt_tail, None);
            continue;
        }
        let tail = c.corrupt_tail.unwrap();
        assert_eq!(tail.offset, last as u64, "cut {cut}");
        assert!(
            matches!(tail.reason, Corruption::Truncated { .. }),
            "cut {cut}: {tail}"
        );
    }
}

#[test]
fn corruption_is_reported_with_offset_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    write_database(&path, &schema(), &txns()).unwrap();
    let full = std::fs::read(&path).unwrap();
    let c = read_records(&path).unwrap();
    let second = c.records[2].offset as usize;

    // A flipped data byte: SHA-1 mismatch.
    let mut bytes = full.clone();
    let body = second + full[second..].iter().position(|b| *b == b'\n').unwrap() + 3;
    bytes[body] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let c = read_records(&path).unwrap();
    assert_eq!(c.records.len(), 2);
    let tail = c.corrupt_tail.unwrap();
    assert_eq!(tail.offset, second as u64);
    assert!(
        matches!(tail.reason, Corruption::Sha1Mismatch { .. }),
        "{tail}"
    );
    assert!(tail.to_string().starts_with(&format!(
        "bad record at offset {second}: data has SHA-1 hash"
    )));

    // A garbled header.
    let mut bytes = full.clone();
    bytes[second + 11] = b'X';
    std::fs::write(&path, &bytes).unwrap();
    let tail = read_records(&path).unwrap().corrupt_tail.unwrap();
    assert!(
        matches!(tail.reason, Corruption::BadHeader { .. }),
        "{tail}"
    );

    // Right length and SHA-1, but not JSON / not an object.
    for (data, is_json) in [(&b"{nope}\n"[..], false), (b"[1]\n", true)] {
        let mut bytes = full[..second].to_vec();
        bytes.extend_from_slice(
            format!(
                "OVSDB JSON {} {}\n",
                data.len(),
                hex::encode(Sha1::digest(data))
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(data);
        std::fs::write(&path, &bytes).unwrap();
        let tail = read_records(&path).unwrap().corrupt_tail.unwrap();
        if is_json {
            assert_eq!(tail.reason, Corruption::NotAnObject);
        } else {
            assert!(
                matches!(tail.reason, Corruption::InvalidJson { .. }),
                "{tail}"
            );
        }
    }

    // Garbage appended after good records (e.g. zeros from a crash).
    let mut bytes = full.clone();
    bytes.extend_from_slice(&[0; 300]);
    std::fs::write(&path, &bytes).unwrap();
    let c = read_records(&path).unwrap();
    assert_eq!(c.records.len(), 4);
    assert!(matches!(
        c.corrupt_tail.unwrap().reason,
        Corruption::BadHeader { .. }
    ));
}

#[test]
fn file_types_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let data = b"{}\n";
    let cluster = format!(
        "OVSDB CLUSTER 3 {}\n{{}}\n",
        hex::encode(Sha1::digest(data))
    );
    std::fs::write(&path, cluster).unwrap();
    let err = read_records(&path).unwrap_err();
    assert!(matches!(err, FileError::Clustered { .. }), "{err}");
    assert!(err.to_string().contains("clustered database"));
    assert!(matches!(
        LogFile::open(&path),
        Err(FileError::Clustered { .. })
    ));

    std::fs::write(
        &path,
        format!("OVSDB RAFT 3 {}\n{{}}\n", hex::encode(Sha1::digest(data))),
    )
    .unwrap();
    assert!(matches!(
        read_records(&path),
        Err(FileError::UnknownMagic { .. })
    ));

    std::fs::write(&path, "hello world\n").unwrap();
    assert!(matches!(
        read_records(&path),
        Err(FileError::NotOvsdbFile { .. })
    ));

    std::fs::write(&path, "").unwrap();
    assert_eq!(read_records(&path).unwrap().records, vec![]);
    assert!(matches!(
        LogFile::open(&path),
        Err(FileError::NoSchema { tail: None, .. })
    ));
    std::fs::write(&path, "OVSDB JSON 10").unwrap();
    let err = LogFile::open(&path).unwrap_err();
    assert!(
        matches!(err, FileError::NoSchema { tail: Some(_), .. }),
        "{err}"
    );
}

#[test]
fn append_after_a_corrupt_tail_cuts_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    write_database(&path, &schema(), &txns()[..2]).unwrap();
    let good_len = std::fs::metadata(&path).unwrap().len();
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"OVSDB JSON 999 0000").unwrap();
    drop(f);

    let (mut log, c) = LogFile::open(&path).unwrap();
    assert_eq!(c.records.len(), 3);
    assert_eq!(c.corrupt_tail.as_ref().unwrap().offset, good_len);
    assert_eq!(log.len(), good_len);
    log.append_record(&txns()[2]).unwrap();
    log.sync().unwrap();
    let c = read_records(&path).unwrap();
    assert_eq!(c.corrupt_tail, None);
    assert_eq!(jsons(&c)[1..], txns()[..]);
}

#[test]
fn compaction_replaces_the_file_atomically_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    write_database(&path, &schema(), &txns()).unwrap();
    let (mut log, _) = LogFile::open(&path).unwrap();
    let snapshot = json!({"_date":4,"_comment":"compacted","t":{"0d2c9a0e-2b5b-4d32-a1a6-4f2a2f5c1e02":{"s":"z"}}});
    // A stale temporary file from an earlier crash is replaced.
    std::fs::write(dir.path().join("t.db.tmp"), "junk").unwrap();
    log.compact(&schema(), &snapshot).unwrap();
    assert!(!dir.path().join("t.db.tmp").exists());
    let after = txns()[0].clone();
    log.append_record(&after).unwrap();
    log.sync().unwrap();
    let c = read_records(&path).unwrap();
    assert_eq!(jsons(&c), vec![schema(), snapshot, after]);
    assert_eq!(log.len(), c.valid_len);
}

#[test]
fn transaction_records_have_a_typed_view() {
    for t in txns() {
        let txn = TransactionRecord::from_json(&t).unwrap();
        assert!(txn.is_diff);
        assert_eq!(txn.to_json(), t);
    }
    let t = TransactionRecord::from_json(&txns()[1]).unwrap();
    assert_eq!((t.date_ms, t.comment.as_deref()), (Some(2), Some("x")));
    for (bad, want) in [
        (json!({"_date":"x"}), "\"_date\" is not a number"),
        (
            json!({"t":[]}),
            "table member is not an object (table \"t\")",
        ),
        (json!({"t":{"nope":null}}), "row key is not a UUID"),
        (
            json!({"t":{"6d2c9a0e-2b5b-4d32-a1a6-4f2a2f5c1e01":1}}),
            "neither an object nor null",
        ),
    ] {
        let err = TransactionRecord::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
}

mod damaged {
    use proptest::prelude::*;

    use super::*;

    fn valid_file() -> Vec<u8> {
        let mut bytes = encode_record(&schema()).unwrap();
        for t in txns() {
            bytes.extend(encode_record(&t).unwrap());
        }
        bytes
    }

    proptest! {
        #[test]
        fn damaged_files_yield_a_prefix_of_the_good_records(
            cut in any::<prop::sample::Index>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..3),
        ) {
            let mut bytes = valid_file();
            let n = cut.index(bytes.len() + 1);
            bytes.truncate(n);
            for (at, x) in &flips {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] ^= x;
                }
            }
            fuzz_read(&bytes);
            let mut want = vec![schema()];
            want.extend(txns());
            if let Ok(c) = read_records_from(&bytes[..], Path::new("x")) {
                let got = jsons(&c);
                prop_assert!(got.len() <= want.len());
                // Any damage to a record is caught (length, SHA-1, magic), so the good records are
                // the original ones (a flip of a hex digit's case in a header changes nothing).
                prop_assert_eq!(&got[..], &want[..got.len()]);
                prop_assert!(c.valid_len as usize <= bytes.len());
            }
        }

        #[test]
        fn fuzz_read_never_panics(data in prop::collection::vec(any::<u8>(), 0..300)) {
            fuzz_read(&data);
        }
    }
}

#[test]
fn staged_records_are_the_encoded_records() {
    let texts: Vec<Vec<u8>> = vec![
        br#"{"a":1}"#.to_vec(),
        Vec::new(),
        vec![b'x'; 100_000],
        br#"{"b":[1,2,3]}"#.to_vec(),
    ];
    let mut staged = StagedRecords::default();
    let mut expected = Vec::new();
    for t in &texts {
        let keep = !t.is_empty();
        assert_eq!(
            staged.append_with(|out| {
                out.extend_from_slice(t);
                keep
            }),
            keep
        );
        if keep {
            append_encoded_record_text(&mut expected, t.clone());
        }
        assert_eq!(staged.bytes(), &expected[..]);
    }
    staged.clear();
    assert!(staged.is_empty() && staged.bytes().is_empty());
    assert!(staged.append_with(|out| {
        out.extend_from_slice(b"{}");
        true
    }));
    assert_eq!(staged.bytes(), &encode_record_text(b"{}".to_vec())[..]);
}
