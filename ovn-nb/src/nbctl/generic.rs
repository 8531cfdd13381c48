//! The generic database commands ovn-nbctl shares with the other OVS `*ctl` tools: `list`, `get`,
//! `set`, `add`, `remove`, `clear`, `create`, `destroy` and `find`, with table-name
//! abbreviations, records named by UUID (or a unique UUID prefix) or by the column ovn-nbctl
//! indexes them by, and `COLUMN[:KEY]=VALUE` arguments.

use ovsdb::model::Uuid;
use ovsdb::{Atom, ColumnSchema, Datum};

use super::error::{NbctlError, Result};
use super::text::{
    atom_arg, atom_from_string, datum_from_string, datum_to_string, split_column_arg, Symbols,
};
use super::txn::Nbctl;

/// The column by which ovn-nbctl finds records of each table besides their UUID.
const ROW_IDS: &[(&str, &str)] = &[
    ("Logical_Switch", "name"),
    ("Logical_Switch_Port", "name"),
    ("Logical_Router", "name"),
    ("Logical_Router_Port", "name"),
    ("Address_Set", "name"),
    ("Port_Group", "name"),
    ("Load_Balancer", "name"),
    ("Load_Balancer_Group", "name"),
    ("Load_Balancer_Health_Check", "vip"),
    ("HA_Chassis_Group", "name"),
    ("HA_Chassis", "chassis_name"),
    ("NAT", "external_ip"),
    ("Meter", "name"),
    ("Forwarding_Group", "name"),
    ("Copp", "name"),
    ("Mirror", "name"),
];

/// `ctl` comparison operators of `find`.
const FIND_OPS: &[&str] = &[
    "=", "!=", "<", ">", "<=", ">=", "{=}", "{!=}", "{<}", "{>}", "{<=}", "{>=}",
];

impl Nbctl {
    /// Resolves a table name or unique case-insensitive abbreviation.
    pub fn resolve_table(&self, name: &str) -> Result<usize> {
        let tables = &self.schema().tables;
        if let Some(i) = tables
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(name))
        {
            return Ok(i);
        }
        let lower = name.to_ascii_lowercase();
        let matches: Vec<usize> = tables
            .iter()
            .enumerate()
            .filter(|(_, t)| t.name.to_ascii_lowercase().starts_with(&lower))
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [i] => Ok(*i),
            [] => Err(NbctlError::Usage(format!("unknown table \"{name}\""))),
            _ => {
                let mut names: Vec<&str> =
                    matches.iter().map(|i| tables[*i].name.as_str()).collect();
                names.sort_unstable();
                Err(NbctlError::Usage(format!(
                    "\"{name}\" matches multiple table names: {}",
                    names.join(", ")
                )))
            }
        }
    }

    fn resolve_column(&self, t: usize, name: &str) -> Result<&ColumnSchema> {
        let ts = self.table_schema(t);
        if let Some(c) = ts.columns.iter().find(|c| c.name == name) {
            return Ok(c);
        }
        let lower = name.to_ascii_lowercase();
        let matches: Vec<&ColumnSchema> = ts
            .columns
            .iter()
            .filter(|c| c.name.to_ascii_lowercase().starts_with(&lower))
            .collect();
        match matches.as_slice() {
            [c] => Ok(c),
            [] => Err(NbctlError::invalid(format!(
                "{} does not contain a column whose name matches \"{name}\"",
                ts.name
            ))),
            _ => Err(NbctlError::invalid(format!(
                "{} contains more than one column whose name matches \"{name}\"",
                ts.name
            ))),
        }
    }

    /// Finds a record by UUID, unique UUID prefix, `.` (single-row tables) or the table's name
    /// column.
    pub fn resolve_record(&self, t: usize, id: &str, must_exist: bool) -> Result<Option<Uuid>> {
        let ts = self.table_schema(t);
        let table = ts.name.clone();
        if id == "." && ts.max_rows == Some(1) {
            let first = self.uuids(t).into_iter().next();
            if first.is_none() && must_exist {
                return Err(NbctlError::not_found(format!(
                    "no row \".\" in table {table}"
                )));
            }
            return Ok(first);
        }
        if let Some(u) = super::lookup::parse_uuid(id) {
            if self.exists(t, u) {
                return Ok(Some(u));
            }
        }
        if let Some((_, col)) = ROW_IDS.iter().find(|(tn, _)| *tn == table) {
            let mut found: Vec<Uuid> = self
                .uuids(t)
                .into_iter()
                .filter(|u| {
                    self.get(t, *u, col)
                        .set_atoms()
                        .iter()
                        .any(|a| matches!(a, Atom::String(s) if &**s == id))
                })
                .collect();
            if found.len() > 1 {
                return Err(NbctlError::Ambiguous(format!(
                    "multiple rows in {table} match \"{id}\""
                )));
            }
            if let Some(u) = found.pop() {
                return Ok(Some(u));
            }
        }
        if id.len() >= 4 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let hits: Vec<Uuid> = self
                .uuids(t)
                .into_iter()
                .filter(|u| u.to_string().starts_with(&id.to_ascii_lowercase()))
                .collect();
            if hits.len() == 1 {
                return Ok(hits.first().copied());
            }
        }
        if must_exist {
            return Err(NbctlError::not_found(format!(
                "no row \"{id}\" in table {table}"
            )));
        }
        Ok(None)
    }

    fn record(&self, table: &str, id: &str) -> Result<(usize, Uuid)> {
        let t = self.resolve_table(table)?;
        let u = self
            .resolve_record(t, id, true)?
            .ok_or_else(|| NbctlError::not_found(format!("no row \"{id}\" in table {table}")))?;
        Ok((t, u))
    }

    fn check_mutable(&self, t: usize, c: &ColumnSchema) -> Result<()> {
        if !c.mutable || c.name.starts_with('_') {
            return Err(NbctlError::invalid(format!(
                "cannot modify read-only column {} in table {}",
                c.name,
                self.table_schema(t).name
            )));
        }
        Ok(())
    }

    /// Applies one `COLUMN[:KEY]=VALUE` argument to row `u` of table `t`.
    pub fn set_column_arg(&mut self, t: usize, u: Uuid, arg: &str) -> Result<()> {
        self.set_column_arg_with(t, u, arg, &Symbols::new())
    }

    pub(crate) fn set_column_arg_with(
        &mut self,
        t: usize,
        u: Uuid,
        arg: &str,
        symbols: &Symbols,
    ) -> Result<()> {
        let (col, key, _, value) = split_column_arg(arg, &["="])?;
        let c = self.resolve_column(t, &col)?.clone();
        self.check_mutable(t, &c)?;
        let ty = &c.type_;
        match key {
            Some(k) => {
                let Some(vty) = ty.value.as_ref() else {
                    return Err(NbctlError::invalid(format!(
                        "cannot specify key to set for non-map column {}",
                        c.name
                    )));
                };
                let k = atom_arg(&ty.key, &k, symbols)?;
                let v = atom_from_string(vty, value, symbols)?;
                let mut d = self.get(t, u, &c.name);
                d.remove_where(|x, _| *x == k);
                d.union_with(&Datum::Map(vec![(k, v)].into()));
                self.set(t, u, &c.name, d);
            }
            None => {
                let d = datum_from_string(ty, value, symbols)?;
                self.set(t, u, &c.name, d);
            }
        }
        Ok(())
    }

    /// `set TABLE RECORD COLUMN[:KEY]=VALUE...`.
    pub fn db_set(
        &mut self,
        table: &str,
        record: &str,
        args: &[&str],
        symbols: &Symbols,
    ) -> Result<()> {
        let (t, u) = self.record(table, record)?;
        for a in args {
            self.set_column_arg_with(t, u, a, symbols)?;
        }
        Ok(())
    }

    /// `add TABLE RECORD COLUMN [KEY=]VALUE...`: adds elements (existing map keys keep their
    /// values).
    pub fn db_add(
        &mut self,
        table: &str,
        record: &str,
        column: &str,
        values: &[&str],
        symbols: &Symbols,
    ) -> Result<()> {
        let (t, u) = self.record(table, record)?;
        let c = self.resolve_column(t, column)?.clone();
        self.check_mutable(t, &c)?;
        let mut d = self.get(t, u, &c.name);
        let mut elem_ty = c.type_.clone();
        elem_ty.min = 0;
        elem_ty.max = u64::MAX;
        for v in values {
            let add = datum_from_string(&elem_ty, v, symbols)?;
            if let Datum::Map(pairs) = &add {
                d.remove_where(|k, _| pairs.iter().any(|(x, _)| x == k));
            }
            d.union_with(&add);
        }
        if !d.conforms_to(&c.type_) {
            return Err(NbctlError::invalid(format!(
                "\"add\" operation would put {} values in column {} of table {} but the maximum \
                 number is {}",
                d.len(),
                c.name,
                self.table_schema(t).name,
                c.type_.max
            )));
        }
        self.set(t, u, &c.name, d);
        Ok(())
    }

    /// `remove TABLE RECORD COLUMN VALUE... | KEY... | KEY=VALUE...`.
    pub fn db_remove(
        &mut self,
        table: &str,
        record: &str,
        column: &str,
        values: &[&str],
        symbols: &Symbols,
    ) -> Result<()> {
        let (t, u) = self.record(table, record)?;
        let c = self.resolve_column(t, column)?.clone();
        self.check_mutable(t, &c)?;
        let mut d = self.get(t, u, &c.name);
        let mut any_ty = c.type_.clone();
        any_ty.min = 0;
        any_ty.max = u64::MAX;
        for v in values {
            match datum_from_string(&any_ty, v, symbols) {
                Ok(rm) => d.subtract(&rm),
                Err(e) => {
                    if !c.type_.is_map() {
                        return Err(e);
                    }
                    let mut key_ty = any_ty.clone();
                    key_ty.value = None;
                    let keys = datum_from_string(&key_ty, v, symbols)?;
                    d.subtract(&keys);
                }
            }
        }
        if !d.conforms_to(&c.type_) {
            return Err(NbctlError::invalid(format!(
                "\"remove\" operation would put {} values in column {} of table {} but the \
                 minimum number is {}",
                d.len(),
                c.name,
                self.table_schema(t).name,
                c.type_.min
            )));
        }
        self.set(t, u, &c.name, d);
        Ok(())
    }

    /// `clear TABLE RECORD COLUMN...`.
    pub fn db_clear(&mut self, table: &str, record: &str, columns: &[&str]) -> Result<()> {
        let (t, u) = self.record(table, record)?;
        for col in columns {
            let c = self.resolve_column(t, col)?.clone();
            self.check_mutable(t, &c)?;
            if c.type_.min > 0 {
                return Err(NbctlError::invalid(format!(
                    "\"clear\" operation cannot be applied to column {} of table {}, which is not \
                     allowed to be empty",
                    c.name,
                    self.table_schema(t).name
                )));
            }
            self.set(t, u, &c.name, c.type_.default_datum());
        }
        Ok(())
    }

    /// `create TABLE COLUMN[:KEY]=VALUE...`: returns the new row's (temporary) UUID.
    pub fn db_create(&mut self, table: &str, args: &[&str], symbols: &Symbols) -> Result<Uuid> {
        let t = self.resolve_table(table)?;
        let u = self.insert(t, vec![]);
        for a in args {
            self.set_column_arg_with(t, u, a, symbols)?;
        }
        Ok(u)
    }

    /// `destroy TABLE RECORD...` (or every row with `all`).
    pub fn db_destroy(
        &mut self,
        table: &str,
        records: &[&str],
        if_exists: bool,
        all: bool,
    ) -> Result<()> {
        let t = self.resolve_table(table)?;
        if all {
            for u in self.uuids(t) {
                self.delete(t, u);
            }
            return Ok(());
        }
        for r in records {
            if let Some(u) = self.resolve_record(t, r, !if_exists)? {
                self.delete(t, u);
            }
        }
        Ok(())
    }

    /// Formats rows as `list` does (`--columns` selects and orders columns).
    pub fn format_rows(
        &self,
        t: usize,
        rows: &[Uuid],
        columns: Option<&[&str]>,
        bare: bool,
    ) -> Result<String> {
        let ts = self.table_schema(t);
        let cols: Vec<&ColumnSchema> = match columns {
            Some(list) => list
                .iter()
                .map(|c| self.resolve_column(t, c))
                .collect::<Result<_>>()?,
            None => {
                let mut v: Vec<&ColumnSchema> =
                    ts.columns.iter().filter(|c| c.name != "_version").collect();
                v.sort_by(|a, b| {
                    (a.name != "_uuid", a.name.as_str()).cmp(&(b.name != "_uuid", b.name.as_str()))
                });
                v
            }
        };
        let mut out = String::new();
        for (i, u) in rows.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            for c in &cols {
                let d = self.get(t, *u, &c.name);
                let text = if bare {
                    bare_datum(&d)
                } else {
                    datum_to_string(&d, &c.type_)
                };
                if bare {
                    out.push_str(&format!("{text}\n"));
                } else {
                    out.push_str(&format!("{:<20}: {text}\n", c.name));
                }
            }
        }
        Ok(out)
    }

    /// `list TABLE [RECORD]...`.
    pub fn db_list(
        &self,
        table: &str,
        records: &[&str],
        columns: Option<&[&str]>,
        bare: bool,
    ) -> Result<String> {
        let t = self.resolve_table(table)?;
        let rows = if records.is_empty() {
            self.uuids(t)
        } else {
            records
                .iter()
                .map(|r| self.record(table, r).map(|(_, u)| u))
                .collect::<Result<_>>()?
        };
        self.format_rows(t, &rows, columns, bare)
    }

    /// `get TABLE RECORD COLUMN[:KEY]...`.
    pub fn db_get(
        &self,
        table: &str,
        record: &str,
        columns: &[&str],
        if_exists: bool,
    ) -> Result<String> {
        let (t, u) = self.record(table, record)?;
        let mut out = String::new();
        for arg in columns {
            let (col, key, _, _) = split_column_arg(arg, &[])?;
            let c = self.resolve_column(t, &col)?;
            let d = self.get(t, u, &c.name);
            match key {
                None => out.push_str(&format!("{}\n", datum_to_string(&d, &c.type_))),
                Some(k) => {
                    let k = atom_from_string(&c.type_.key, &k, &Symbols::new())?;
                    match d.map_pairs().iter().find(|(x, _)| *x == k) {
                        Some((_, v)) => {
                            out.push_str(&format!("{}\n", super::text::atom_to_string(v)))
                        }
                        None if if_exists => {}
                        None => {
                            return Err(NbctlError::not_found(format!(
                                "no key \"{}\" in {} record \"{record}\" column {}",
                                super::text::atom_to_string(&k),
                                self.table_schema(t).name,
                                c.name
                            )))
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// `find TABLE [COLUMN[:KEY]=VALUE]...` (equality and set comparisons).
    pub fn db_find(
        &self,
        table: &str,
        conds: &[&str],
        columns: Option<&[&str]>,
        bare: bool,
    ) -> Result<String> {
        let t = self.resolve_table(table)?;
        let mut parsed = Vec::new();
        for c in conds {
            let (col, key, op, value) = split_column_arg(c, FIND_OPS)?;
            let cs = self.resolve_column(t, &col)?.clone();
            let op = op.unwrap_or("=");
            let want = match &key {
                Some(_) => None,
                None => {
                    let mut ty = cs.type_.clone();
                    ty.min = 0;
                    Some(datum_from_string(&ty, value, &Symbols::new())?)
                }
            };
            let key = match key {
                Some(k) => Some((
                    atom_from_string(&cs.type_.key, &k, &Symbols::new())?,
                    atom_arg(
                        cs.type_.value.as_ref().unwrap_or(&cs.type_.key),
                        value,
                        &Symbols::new(),
                    )?,
                )),
                None => None,
            };
            parsed.push((cs, op, want, key));
        }
        let rows: Vec<Uuid> = self
            .uuids(t)
            .into_iter()
            .filter(|u| {
                parsed.iter().all(|(cs, op, want, key)| {
                    let have = self.get(t, *u, &cs.name);
                    match (key, want) {
                        (Some((k, v)), _) => {
                            let cur = have.map_pairs().iter().find(|(x, _)| x == k).map(|p| &p.1);
                            match *op {
                                "!=" => cur != Some(v),
                                _ => cur == Some(v),
                            }
                        }
                        (None, Some(w)) => match *op {
                            "=" | "{=}" => have == *w,
                            "!=" | "{!=}" => have != *w,
                            "{<=}" => w_contains(w, &have),
                            "{>=}" => w_contains(&have, w),
                            "{<}" => w_contains(w, &have) && have != *w,
                            "{>}" => w_contains(&have, w) && have != *w,
                            "<" => have.compare_3way(w).is_lt(),
                            ">" => have.compare_3way(w).is_gt(),
                            "<=" => have.compare_3way(w).is_le(),
                            ">=" => have.compare_3way(w).is_ge(),
                            _ => false,
                        },
                        (None, None) => false,
                    }
                })
            })
            .collect();
        self.format_rows(t, &rows, columns, bare)
    }
}

/// True when every element of `inner` is in `outer`.
fn w_contains(outer: &Datum, inner: &Datum) -> bool {
    inner.is_subset_of(outer)
}

fn bare_atom(a: &Atom) -> String {
    match a {
        Atom::String(s) => s.to_string(),
        other => super::text::atom_to_string(other),
    }
}

fn bare_datum(d: &Datum) -> String {
    match d {
        Datum::Set(a) => a.iter().map(bare_atom).collect::<Vec<_>>().join(" "),
        Datum::Map(p) => p
            .iter()
            .map(|(k, v)| format!("{}={}", bare_atom(k), bare_atom(v)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}
