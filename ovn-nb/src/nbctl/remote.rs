//! Running command lists through the OVSDB client against a remote server (a real ovsdb-server,
//! standalone or clustered, or ours): the replica is the read view and the diff is sent as one
//! `transact`.

use ovsdb::client::{Client, Txn};

use super::error::{NbctlError, Result};
use super::txn::{check_results, Committed, Nbctl, Snapshot};

/// The current contents of the client's replica (which must replicate every NB table the verbs
/// read; [`ovsdb::client::ClientConfig::new`] does).
pub fn snapshot(client: &Client) -> Result<Snapshot> {
    client
        .with_replica(Snapshot::of_replica)
        .ok_or_else(|| NbctlError::Connection("not connected to the database yet".into()))
}

/// Starts a command list on the client's replica.
pub fn start(client: &Client) -> Result<Nbctl> {
    Ok(Nbctl::new(snapshot(client)?))
}

/// Commits `nb` through `client` as one transaction.
pub async fn commit(nb: Nbctl, client: &Client) -> Result<Committed> {
    let ops = nb.ops();
    if ops.is_empty() {
        return Ok(nb.finish(&[]));
    }
    let mut txn = Txn::new();
    for op in ops {
        txn.op(op);
    }
    let results = match client.transact(txn).await {
        Ok(reply) => reply.results,
        Err(ovsdb::client::ClientError::TxnFailed { error, details, .. }) => {
            return Err(NbctlError::Transaction {
                error,
                details: details.unwrap_or_default(),
            })
        }
        Err(e) => return Err(NbctlError::Connection(e.to_string())),
    };
    let results = check_results(&serde_json::Value::Array(results))?;
    Ok(nb.finish(&results))
}
