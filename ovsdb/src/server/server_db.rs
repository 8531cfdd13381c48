//! The `_Server` database ovsdb-server 3.1 exposes: one `Database` row per served database
//! (including `_Server` itself) with `name`, `model`, `connected`, `leader`, `schema`, and for
//! clustered databases `cid`, `sid` and `index` (empty here: every database is standalone).
//!
//! Clients cannot write it (the engine refuses writes to databases whose name starts with `_`); the
//! server fills it through the crate-internal apply path.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use crate::atom::Atom;
use crate::datum::Datum;
use crate::db::{ChangeSet, Database, Row, RowChange, TableChanges};
use crate::schema::{Schema, COL_UUID, COL_VERSION};

/// Name of the server database.
pub const SERVER_DB_NAME: &str = "_Server";

/// The `_Server` schema exactly as ovsdb-server 3.1 reports it.
pub const SERVER_SCHEMA: &str = r#"{"cksum":"3009684573 744","name":"_Server","tables":{"Database":{"columns":{"cid":{"type":{"key":"uuid","min":0}},"connected":{"type":"boolean"},"index":{"type":{"key":"integer","min":0}},"leader":{"type":"boolean"},"model":{"type":{"key":{"enum":["set",["clustered","relay","standalone"]],"type":"string"}}},"name":{"type":"string"},"schema":{"type":{"key":"string","min":0}},"sid":{"type":{"key":"uuid","min":0}}}}},"version":"1.2.0"}"#;

/// Builds the `_Server` database describing databases with the given schemas (`_Server`'s own row
/// is added too), then returns it with the UUID of each row by database name.
pub(crate) fn build(
    schemas: &[(String, Value)],
    rng_seed: Option<u64>,
) -> Result<(Database, HashMap<String, Uuid>), crate::Error> {
    let schema = Schema::from_str_json(SERVER_SCHEMA)?;
    let mut db = match rng_seed {
        Some(s) => Database::with_seed(schema.clone(), s),
        None => Database::new(schema.clone()),
    };
    let server_schema_json: Value =
        serde_json::from_str(SERVER_SCHEMA).map_err(|e| crate::Error::Syntax {
            details: e.to_string(),
            syntax: None,
        })?;
    let mut all: Vec<(String, Value)> = schemas.to_vec();
    all.push((SERVER_DB_NAME.to_owned(), server_schema_json));
    let ts = &schema.tables[0];
    let col = |n: &str| ts.column_index(n).unwrap_or(usize::MAX);
    let mut rows = Vec::new();
    let mut ids = HashMap::new();
    let mut seed = rand::random::<u128>();
    for (name, sch) in all {
        let mut fields: Vec<Datum> = ts.columns.iter().map(|c| c.type_.default_datum()).collect();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let uuid = uuid::Builder::from_random_bytes(seed.to_le_bytes()).into_uuid();
        let version = uuid::Builder::from_random_bytes((!seed).to_le_bytes()).into_uuid();
        let mut set = |c: usize, d: Datum| {
            if let Some(f) = fields.get_mut(c) {
                *f = d;
            }
        };
        set(COL_UUID, Datum::scalar(Atom::Uuid(uuid)));
        set(COL_VERSION, Datum::scalar(Atom::Uuid(version)));
        set(
            col("name"),
            Datum::scalar(Atom::String(name.as_str().into())),
        );
        set(
            col("model"),
            Datum::scalar(Atom::String("standalone".into())),
        );
        set(col("connected"), Datum::scalar(Atom::Boolean(true)));
        set(col("leader"), Datum::scalar(Atom::Boolean(true)));
        set(
            col("schema"),
            Datum::scalar(Atom::String(sch.to_string().into())),
        );
        ids.insert(name, uuid);
        rows.push(RowChange {
            uuid,
            old: None,
            new: Some(Arc::new(Row { fields })),
            changed: vec![true; ts.columns.len()],
        });
    }
    let changes = ChangeSet {
        tables: vec![TableChanges {
            table: 0,
            name: ts.name.clone(),
            rows,
        }],
        comment: None,
        durable: false,
    };
    db.apply(&changes, &crate::hash::FastMap::default());
    Ok((db, ids))
}
