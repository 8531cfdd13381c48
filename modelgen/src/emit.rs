//! Rust source emission, formatted as rustfmt (default configuration) formats it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ovsdb::types::BaseType;
use ovsdb::{Atom, AtomicType, ColumnSchema, RefType, Schema, TableSchema};

use crate::naming;
use crate::GenError;

/// rustfmt's `max_width`.
const MAX_WIDTH: usize = 100;
/// rustfmt's `array_width` and `fn_call_width` (60% of `max_width`).
const LIST_WIDTH: usize = 60;

/// The Rust type of one atom of a column.
#[derive(Debug, Clone)]
enum AtomTy {
    Int,
    Real,
    Bool,
    Str,
    Uuid,
    Ref(String),
    Enum { name: String, ord: bool },
}

impl AtomTy {
    fn rust(&self) -> String {
        match self {
            Self::Int => "i64".into(),
            Self::Real => "f64".into(),
            Self::Bool => "bool".into(),
            Self::Str => "String".into(),
            Self::Uuid => "Uuid".into(),
            Self::Ref(t) => format!("Ref<{t}>"),
            Self::Enum { name, .. } => name.clone(),
        }
    }

    fn ord(&self) -> bool {
        match self {
            Self::Real => false,
            Self::Enum { ord, .. } => *ord,
            _ => true,
        }
    }
}

/// How a column is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Scalar,
    Optional,
    Set,
    Map,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    field: String,
    konst: String,
    shape: Shape,
    key: AtomTy,
    value: Option<AtomTy>,
    doc: String,
    /// Hold an ordered-key map as a [`ovsdb::model::SortedMap`] rather than a `BTreeMap`.
    sorted_map: bool,
}

impl Column {
    fn rust_type(&self) -> String {
        let k = self.key.rust();
        match (self.shape, &self.value) {
            (Shape::Map, Some(v)) if self.key.ord() && self.sorted_map => {
                format!("SortedMap<{k}, {}>", v.rust())
            }
            (Shape::Map, Some(v)) if self.key.ord() => format!("BTreeMap<{k}, {}>", v.rust()),
            (Shape::Map, Some(v)) => format!("Vec<({k}, {})>", v.rust()),
            (Shape::Scalar, _) => k,
            (Shape::Optional, _) => format!("Option<{k}>"),
            (Shape::Set, _) if self.key.ord() => format!("BTreeSet<{k}>"),
            _ => format!("Vec<{k}>"),
        }
    }

    fn reader(&self, i: usize) -> String {
        let method = match self.shape {
            Shape::Scalar => "scalar",
            Shape::Optional => "optional",
            Shape::Set if self.key.ord() => "set",
            Shape::Set => "list",
            Shape::Map if self.key.ord() && self.sorted_map => "sorted_map",
            Shape::Map if self.key.ord() => "map",
            Shape::Map => "pairs",
        };
        format!("{}: f.{method}({i})?,", self.field)
    }

    fn writer(&self) -> String {
        let f = &self.field;
        match self.shape {
            Shape::Scalar => format!("model::scalar_datum(&self.{f})"),
            Shape::Optional => format!("model::optional_datum(self.{f}.as_ref())"),
            Shape::Set => format!("model::set_datum(&self.{f})"),
            Shape::Map if self.key.ord() => format!("model::map_datum(&self.{f})"),
            Shape::Map => format!("model::map_datum(self.{f}.iter().map(|(k, v)| (k, v)))"),
        }
    }

    fn uses_real(&self) -> bool {
        !self.key.ord() || self.value.as_ref().is_some_and(|v| !v.ord())
    }
}

#[derive(Debug, Clone)]
struct EnumDef {
    name: String,
    /// "`ACL.action`" and what the enum lists (values, keys or map values).
    what: String,
    /// Short description for error messages.
    expected: String,
    integer: bool,
    /// (variant, value) in OVSDB order.
    variants: Vec<(String, Atom)>,
}

#[derive(Debug, Clone)]
struct Table {
    name: String,
    ty: String,
    index: usize,
    doc: String,
    columns: Vec<Column>,
}

struct Model<'s> {
    schema: &'s Schema,
    tables: Vec<Table>,
    enums: Vec<EnumDef>,
}

/// Choices in how the generated code holds column values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Hold maps with ordered keys as `ovsdb::model::SortedMap` (one vector of pairs sorted by
    /// key) rather than `BTreeMap` (a whole tree node per non-empty map).
    pub sorted_maps: bool,
}

/// Generates the Rust module for `schema` with the default [`Options`]; `source` names the schema
/// file in the header.
pub fn generate(schema: &Schema, source: &str) -> Result<String, GenError> {
    generate_with(schema, source, Options::default())
}

/// Generates the Rust module for `schema` as `options` say; `source` names the schema file in the
/// header.
pub fn generate_with(schema: &Schema, source: &str, options: Options) -> Result<String, GenError> {
    let model = analyze(schema, options)?;
    Ok(model.emit(source))
}

fn analyze(schema: &Schema, options: Options) -> Result<Model<'_>, GenError> {
    let mut type_names: BTreeMap<String, String> = BTreeMap::new();
    for t in &schema.tables {
        let ty = naming::type_name(&t.name);
        if let Some(other) = type_names.insert(ty.clone(), t.name.clone()) {
            return Err(GenError::Collision(format!(
                "tables {other} and {} are both {ty}",
                t.name
            )));
        }
    }
    let mut taken: BTreeSet<String> = type_names.keys().cloned().collect();
    taken.insert("AnyRow".into());
    let mut enums = Vec::new();
    let mut tables = Vec::new();
    for (index, t) in schema.tables.iter().enumerate() {
        let ty = naming::type_name(&t.name);
        let mut columns = Vec::new();
        let mut fields = BTreeSet::new();
        for c in t.user_columns() {
            let mut col = analyze_column(schema, t, &ty, c, &mut taken, &mut enums)?;
            col.sorted_map = options.sorted_maps;
            if !fields.insert(col.field.clone()) {
                return Err(GenError::Collision(format!(
                    "two columns of table {} are field {}",
                    t.name, col.field
                )));
            }
            columns.push(col);
        }
        tables.push(Table {
            name: t.name.clone(),
            ty,
            index,
            doc: table_doc(schema, t),
            columns,
        });
    }
    Ok(Model {
        schema,
        tables,
        enums,
    })
}

fn analyze_column(
    schema: &Schema,
    table: &TableSchema,
    ty: &str,
    c: &ColumnSchema,
    taken: &mut BTreeSet<String>,
    enums: &mut Vec<EnumDef>,
) -> Result<Column, GenError> {
    let t = &c.type_;
    let shape = if t.is_map() {
        Shape::Map
    } else if t.is_scalar() {
        Shape::Scalar
    } else if t.is_optional_scalar() {
        Shape::Optional
    } else {
        Shape::Set
    };
    let base = format!("{ty}{}", naming::camel(&c.name));
    let (key_role, value_role) = if t.is_map() {
        ("key", "value")
    } else {
        ("value", "")
    };
    let key = atom_ty(schema, table, c, &t.key, &base, key_role, taken, enums)?;
    let value = match &t.value {
        Some(v) => Some(atom_ty(
            schema,
            table,
            c,
            v,
            &format!("{base}Value"),
            value_role,
            taken,
            enums,
        )?),
        None => None,
    };
    let doc = column_doc(c, &key, value.as_ref());
    Ok(Column {
        name: c.name.clone(),
        field: naming::field_name(&c.name),
        konst: naming::column_const(&c.name),
        shape,
        key,
        value,
        doc,
        sorted_map: false,
    })
}

#[allow(clippy::too_many_arguments)]
fn atom_ty(
    schema: &Schema,
    table: &TableSchema,
    c: &ColumnSchema,
    base: &BaseType,
    enum_name: &str,
    role: &str,
    taken: &mut BTreeSet<String>,
    enums: &mut Vec<EnumDef>,
) -> Result<AtomTy, GenError> {
    let cons = &base.constraints;
    if let Some(values) = &cons.enum_values {
        if matches!(base.atomic, AtomicType::String | AtomicType::Integer) {
            let mut name = enum_name.to_owned();
            if taken.contains(&name) {
                name.push_str("Enum");
            }
            if !taken.insert(name.clone()) {
                return Err(GenError::Collision(format!("enum name {name} is taken")));
            }
            let integer = base.atomic == AtomicType::Integer;
            let mut variants = Vec::new();
            let mut seen = BTreeSet::new();
            for a in values {
                let v = match a {
                    Atom::String(s) => naming::string_variant(s),
                    Atom::Integer(i) => naming::integer_variant(*i),
                    _ => continue,
                };
                if !seen.insert(v.clone()) {
                    return Err(GenError::Collision(format!(
                        "two values of {}.{} are variant {name}::{v}",
                        table.name, c.name
                    )));
                }
                variants.push((v, a.clone()));
            }
            let noun = if role == "key" { "keys" } else { "values" };
            let expected = if c.type_.is_map() {
                format!("{} {} {role}", table.name, c.name)
            } else {
                format!("{} {}", table.name, c.name)
            };
            enums.push(EnumDef {
                name: name.clone(),
                what: format!(
                    "The allowed {noun} of column `{}` of table `{}`",
                    c.name, table.name
                ),
                expected,
                integer,
                variants,
            });
            return Ok(AtomTy::Enum { name, ord: true });
        }
    }
    Ok(match base.atomic {
        AtomicType::Integer => AtomTy::Int,
        AtomicType::Real => AtomTy::Real,
        AtomicType::Boolean => AtomTy::Bool,
        AtomicType::String => AtomTy::Str,
        AtomicType::Uuid => match &cons.ref_table {
            Some(rt) if schema.table(rt).is_some() => AtomTy::Ref(naming::type_name(rt)),
            _ => AtomTy::Uuid,
        },
    })
}

/// Describes one base type from its type and constraints (never from schema prose).
fn base_doc(base: &BaseType, ty: &AtomTy) -> String {
    let c = &base.constraints;
    let mut s = match ty {
        AtomTy::Enum { name, .. } => format!("[`{name}`]"),
        AtomTy::Ref(t) => {
            let strength = match c.ref_type {
                RefType::Strong => "strong",
                RefType::Weak => "weak",
            };
            let table = c.ref_table.as_deref().unwrap_or_default();
            format!("{strength} reference to [`{t}`] (`{table}`)")
        }
        _ => base.atomic.name().to_owned(),
    };
    let range = |lo: Option<String>, hi: Option<String>| match (lo, hi) {
        (Some(a), Some(b)) => format!(" in {a}..={b}"),
        (Some(a), None) => format!(" ≥ {a}"),
        (None, Some(b)) => format!(" ≤ {b}"),
        (None, None) => String::new(),
    };
    match base.atomic {
        AtomicType::Integer => s.push_str(&range(
            c.min_integer.map(|v| v.to_string()),
            c.max_integer.map(|v| v.to_string()),
        )),
        AtomicType::Real => s.push_str(&range(
            c.min_real.map(ovsdb::atom::format_real),
            c.max_real.map(ovsdb::atom::format_real),
        )),
        AtomicType::String if !matches!(ty, AtomTy::Enum { .. }) => {
            let len = range(
                c.min_length.map(|v| v.to_string()),
                c.max_length.map(|v| v.to_string()),
            );
            if !len.is_empty() {
                s.push_str(&format!(" of length{len}"));
            }
        }
        _ => {}
    }
    if !matches!(ty, AtomTy::Enum { .. }) {
        if let Some(values) = &c.enum_values {
            let list: Vec<String> = values.iter().map(Atom::to_display).collect();
            s.push_str(&format!(", one of {}", list.join(", ")));
        }
    }
    s
}

fn bounds(min: u64, max: u64) -> String {
    match (min, max) {
        (0, u64::MAX) => String::new(),
        (m, u64::MAX) => format!(" (at least {m})"),
        (0, n) => format!(" (at most {n})"),
        (m, n) => format!(" ({m} to {n})"),
    }
}

fn column_doc(c: &ColumnSchema, key: &AtomTy, value: Option<&AtomTy>) -> String {
    let t = &c.type_;
    let kd = base_doc(&t.key, key);
    let mut s = match (&t.value, value) {
        (Some(vb), Some(v)) => {
            format!(
                "map{} from {kd} to {}",
                bounds(t.min, t.max),
                base_doc(vb, v)
            )
        }
        _ if t.is_scalar() => kd,
        _ if t.is_optional_scalar() => format!("optional {kd}"),
        _ => format!("set{} of {kd}", bounds(t.min, t.max)),
    };
    if !c.mutable {
        s.push_str("; immutable");
    }
    if c.ephemeral {
        s.push_str("; ephemeral (not persisted)");
    }
    format!("`{}`: {s}.", c.name)
}

fn table_doc(schema: &Schema, t: &TableSchema) -> String {
    let mut parts = Vec::new();
    parts.push(if t.is_root {
        "root table".to_owned()
    } else {
        "non-root: unreferenced rows are deleted".to_owned()
    });
    if let Some(m) = t.max_rows {
        parts.push(format!("at most {m} rows"));
    }
    for ix in &t.indexes {
        let cols: Vec<String> = ix
            .iter()
            .filter_map(|&i| t.columns.get(i))
            .map(|c| format!("`{}`", c.name))
            .collect();
        parts.push(format!("unique {}", cols.join(" + ")));
    }
    format!(
        "A row of table `{}` of `{}` ({}).",
        t.name,
        schema.name,
        parts.join("; ")
    )
}

/// Writes `head` + items + `tail` as rustfmt lays out an array or argument list: on one line when
/// it fits, else one item per line with a trailing comma.
fn list(out: &mut String, indent: usize, head: &str, items: &[String], tail: &str) {
    let pad = " ".repeat(indent);
    let inline = items.join(", ");
    let fits_list = inline.len() <= LIST_WIDTH;
    if fits_list && indent + head.len() + inline.len() + tail.len() <= MAX_WIDTH {
        let _ = writeln!(out, "{pad}{head}{inline}{tail}");
    } else if let Some((lhs, rhs)) = head.split_once(" = ").filter(|(_, rhs)| {
        fits_list && indent + 4 + rhs.len() + inline.len() + tail.len() <= MAX_WIDTH
    }) {
        // rustfmt breaks after `=` when the right-hand side then fits on one line.
        let _ = writeln!(out, "{pad}{lhs} =\n{pad}    {rhs}{inline}{tail}");
    } else {
        let _ = writeln!(out, "{pad}{head}");
        for i in items {
            let _ = writeln!(out, "{pad}    {i},");
        }
        let _ = writeln!(out, "{pad}{tail}");
    }
}

/// A raw string literal delimiter long enough for `text`.
fn raw_hashes(text: &str) -> String {
    let mut hashes = "#".to_owned();
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    hashes
}

impl Model<'_> {
    fn uses(&self, pred: impl Fn(&Column) -> bool) -> bool {
        self.tables.iter().flat_map(|t| &t.columns).any(pred)
    }

    fn emit(&self, source: &str) -> String {
        let s = self.schema;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "// @generated by ovnkit-modelgen from {source} ({} {}). Do not edit.",
            s.name, s.version
        );
        o.push_str("// Regenerate: `cargo run -p modelgen -- --write`; check: `cargo run -p modelgen -- --check`.\n");
        let _ = writeln!(
            o,
            "//! Typed model of the `{}` database, schema version {}.",
            s.name, s.version
        );
        o.push_str("//!\n");
        o.push_str("//! One struct per table implementing [`Model`] (conversion to and from rows and JSON rows,\n");
        o.push_str("//! checked against the schema), [`Ref`]s typed by the table they point to, one enum per enum\n");
        o.push_str("//! column, `COL_*` column-name constants, [`AnyRow`] for dispatching on a table name, and the\n");
        o.push_str(
            "//! schema itself ([`schema`]), so nothing needs the schema file at run time.\n\n",
        );

        let btreemap = self.uses(|c| c.shape == Shape::Map && c.key.ord() && !c.sorted_map);
        let sorted_map = self.uses(|c| c.shape == Shape::Map && c.key.ord() && c.sorted_map);
        let btreeset = self.uses(|c| c.shape == Shape::Set && c.key.ord());
        let has_enums = !self.enums.is_empty();
        match (btreemap, btreeset) {
            (true, true) => o.push_str("use std::collections::{BTreeMap, BTreeSet};\n"),
            (true, false) => o.push_str("use std::collections::BTreeMap;\n"),
            (false, true) => o.push_str("use std::collections::BTreeSet;\n"),
            (false, false) => {}
        }
        o.push_str("use std::sync::LazyLock;\n\n");
        let mut model_items = vec!["self"];
        if has_enums {
            model_items.extend(["AtomValue", "EnumParseError"]);
        }
        model_items.extend(["FieldReader", "Model", "ModelError", "Ref"]);
        if sorted_map {
            model_items.push("SortedMap");
        }
        // Every model uses `Uuid`: the rows' `_version` is one.
        model_items.push("Uuid");
        let items = model_items.join(", ");
        let one_line = format!("use ovsdb::model::{{{items}}};");
        if one_line.len() <= MAX_WIDTH {
            let _ = writeln!(o, "{one_line}");
        } else {
            // rustfmt's vertical form (the items fit on one indented line).
            let _ = writeln!(o, "use ovsdb::model::{{\n    {items},\n}};");
        }
        if has_enums {
            o.push_str("use ovsdb::{Atom, AtomicType, Datum, Row, Schema, TableSchema};\n");
        } else {
            o.push_str("use ovsdb::{Datum, Row, Schema, TableSchema};\n");
        }
        o.push_str("use serde_json::Value;\n\n");

        let _ = writeln!(
            o,
            "/// The database name.\npub const DATABASE: &str = \"{}\";",
            s.name
        );
        let _ = writeln!(
            o,
            "/// The schema version the model was generated from.\npub const VERSION: &str = \"{}\";",
            s.version
        );
        let names: Vec<String> = self
            .tables
            .iter()
            .map(|t| format!("\"{}\"", t.name))
            .collect();
        o.push_str("/// The table names, in schema order.\n");
        list(&mut o, 0, "pub const TABLES: &[&str] = &[", &names, "];");
        o.push('\n');

        let json = serde_json::to_string_pretty(&s.to_json()).unwrap_or_default();
        let h = raw_hashes(&json);
        o.push_str("/// The schema, as `ovsdb::Schema::to_json` serializes it.\n");
        let _ = writeln!(o, "pub const SCHEMA_JSON: &str = r{h}\"{json}\"{h};\n");
        o.push_str(
            "#[allow(clippy::expect_used, reason = \"generated from a parsed schema; tested\")]\n",
        );
        o.push_str("fn parse_schema() -> Schema {\n");
        o.push_str(
            "    Schema::from_str_json(SCHEMA_JSON).expect(\"the embedded schema parses\")\n",
        );
        o.push_str("}\n\n");
        o.push_str("static SCHEMA: LazyLock<Schema> = LazyLock::new(parse_schema);\n\n");
        o.push_str("/// The embedded schema, parsed once.\n");
        o.push_str("pub fn schema() -> &'static Schema {\n    &SCHEMA\n}\n");

        for t in &self.tables {
            self.emit_table(&mut o, t);
        }
        for e in &self.enums {
            emit_enum(&mut o, e);
        }
        self.emit_any_row(&mut o);
        o
    }

    fn emit_table(&self, o: &mut String, t: &Table) {
        let eq = if t.columns.iter().any(Column::uses_real) {
            ""
        } else {
            " Eq,"
        };
        let _ = writeln!(o, "\n/// {}", t.doc);
        let _ = writeln!(o, "#[derive(Debug, Clone, PartialEq,{eq} Default)]");
        let _ = writeln!(o, "pub struct {} {{", t.ty);
        o.push_str("    /// The row's `_uuid` (nil for a row not read from a database).\n");
        o.push_str("    pub uuid: Ref<Self>,\n");
        o.push_str("    /// The row's `_version`, when read from a database.\n");
        o.push_str("    pub version: Option<Uuid>,\n");
        for c in &t.columns {
            let _ = writeln!(o, "    /// {}", c.doc);
            let _ = writeln!(o, "    pub {}: {},", c.field, c.rust_type());
        }
        o.push_str("}\n\n");

        let _ = writeln!(o, "impl {} {{", t.ty);
        let _ = writeln!(
            o,
            "    /// The table name.\n    pub const TABLE: &'static str = \"{}\";",
            t.name
        );
        for c in &t.columns {
            let _ = writeln!(o, "    /// Column `{}`.", c.name);
            let _ = writeln!(
                o,
                "    pub const {}: &'static str = \"{}\";",
                c.konst, c.name
            );
        }
        o.push_str("}\n\n");

        let _ = writeln!(o, "impl Model for {} {{", t.ty);
        let _ = writeln!(o, "    const TABLE: &'static str = \"{}\";", t.name);
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("Self::{}", c.konst))
            .collect();
        list(
            o,
            4,
            "const COLUMNS: &'static [&'static str] = &[",
            &cols,
            "];",
        );
        o.push('\n');
        o.push_str("    fn schema() -> &'static Schema {\n        schema()\n    }\n\n");
        o.push_str("    fn table_schema() -> &'static TableSchema {\n");
        let _ = writeln!(o, "        &schema().tables[{}]\n    }}\n", t.index);
        o.push_str("    fn uuid(&self) -> Ref<Self> {\n        self.uuid\n    }\n\n");
        o.push_str("    fn version(&self) -> Option<Uuid> {\n        self.version\n    }\n\n");
        o.push_str("    fn from_fields(f: &FieldReader<'_>) -> Result<Self, ModelError> {\n");
        o.push_str("        Ok(Self {\n");
        o.push_str("            uuid: f.uuid(),\n            version: f.version(),\n");
        for (i, c) in t.columns.iter().enumerate() {
            let _ = writeln!(o, "            {}", c.reader(i));
        }
        o.push_str("        })\n    }\n\n");
        o.push_str("    fn to_datums(&self) -> Vec<Datum> {\n");
        let writers: Vec<String> = t.columns.iter().map(Column::writer).collect();
        list(o, 8, "vec![", &writers, "]");
        o.push_str("    }\n}\n");
    }

    fn emit_any_row(&self, o: &mut String) {
        let _ = writeln!(o, "\n/// A row of any table of `{}`.", self.schema.name);
        o.push_str("#[derive(Debug, Clone, PartialEq)]\npub enum AnyRow {\n");
        for t in &self.tables {
            let _ = writeln!(o, "    /// A `{}` row.", t.name);
            let _ = writeln!(o, "    {}(Box<{}>),", t.ty, t.ty);
        }
        o.push_str("}\n\nimpl AnyRow {\n");
        o.push_str("    /// Reads a JSON row of table `table` (see [`Model::from_json`]).\n");
        o.push_str(
            "    pub fn from_json(table: &str, json: &Value) -> Result<Self, ModelError> {\n",
        );
        o.push_str("        match table {\n");
        for t in &self.tables {
            let _ = writeln!(o, "            \"{}\" => {{", t.name);
            let _ = writeln!(o, "                let row = {}::from_json(json)?;", t.ty);
            let _ = writeln!(o, "                Ok(Self::{}(Box::new(row)))", t.ty);
            o.push_str("            }\n");
        }
        o.push_str("            _ => Err(ModelError::UnknownTable {\n");
        o.push_str("                database: DATABASE,\n");
        o.push_str("                table: table.to_owned(),\n");
        o.push_str("            }),\n        }\n    }\n\n");
        o.push_str("    /// Reads a row of table `table` laid out as `layout` says (see [`Model::from_row`]).\n");
        o.push_str("    pub fn from_row(table: &str, row: &Row, layout: &TableSchema) -> Result<Self, ModelError> {\n");
        o.push_str("        match table {\n");
        for t in &self.tables {
            let _ = writeln!(o, "            \"{}\" => {{", t.name);
            let _ = writeln!(
                o,
                "                let row = {}::from_row(row, layout)?;",
                t.ty
            );
            let _ = writeln!(o, "                Ok(Self::{}(Box::new(row)))", t.ty);
            o.push_str("            }\n");
        }
        o.push_str("            _ => Err(ModelError::UnknownTable {\n");
        o.push_str("                database: DATABASE,\n");
        o.push_str("                table: table.to_owned(),\n");
        o.push_str("            }),\n        }\n    }\n\n");
        o.push_str("    /// The row laid out as `layout` says (see [`Model::to_row`]).\n");
        o.push_str("    pub fn to_row(&self, layout: &TableSchema) -> Result<Row, ModelError> {\n        match self {\n");
        for t in &self.tables {
            let _ = writeln!(o, "            Self::{}(r) => r.to_row(layout),", t.ty);
        }
        o.push_str("        }\n    }\n\n");
        o.push_str("    /// The table name.\n    pub fn table(&self) -> &'static str {\n        match self {\n");
        for t in &self.tables {
            let _ = writeln!(o, "            Self::{}(_) => {}::TABLE,", t.ty, t.ty);
        }
        o.push_str("        }\n    }\n\n");
        o.push_str(
            "    /// The row's `_uuid`.\n    pub fn uuid(&self) -> Uuid {\n        match self {\n",
        );
        for t in &self.tables {
            let _ = writeln!(o, "            Self::{}(r) => r.uuid.uuid(),", t.ty);
        }
        o.push_str("        }\n    }\n\n");
        o.push_str("    /// The JSON row (see [`Model::to_json`]).\n");
        o.push_str(
            "    pub fn to_json(&self) -> Result<Value, ModelError> {\n        match self {\n",
        );
        for t in &self.tables {
            let _ = writeln!(o, "            Self::{}(r) => r.to_json(),", t.ty);
        }
        o.push_str("        }\n    }\n}\n");
    }
}

fn emit_enum(o: &mut String, e: &EnumDef) {
    let name = &e.name;
    let _ = writeln!(o, "\n/// {}.", e.what);
    o.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]\n");
    let _ = writeln!(o, "pub enum {name} {{");
    for (i, (v, a)) in e.variants.iter().enumerate() {
        let _ = writeln!(o, "    /// `{}`.", a.to_json());
        if i == 0 {
            o.push_str("    #[default]\n");
        }
        let _ = writeln!(o, "    {v},");
    }
    o.push_str("}\n\n");
    let _ = writeln!(o, "impl {name} {{");
    if e.integer {
        o.push_str("    /// The value as stored in the database.\n");
        o.push_str("    pub const fn value(self) -> i64 {\n        match self {\n");
        for (v, a) in &e.variants {
            let _ = writeln!(o, "            Self::{v} => {},", a.to_json());
        }
        o.push_str("        }\n    }\n\n");
        o.push_str("    /// The variant storing `value`, if it is allowed.\n");
        o.push_str(
            "    pub const fn from_value(value: i64) -> Option<Self> {\n        match value {\n",
        );
        for (v, a) in &e.variants {
            let _ = writeln!(o, "            {} => Some(Self::{v}),", a.to_json());
        }
        o.push_str("            _ => None,\n        }\n    }\n}\n\n");
    } else {
        o.push_str("    /// The value as stored in the database.\n");
        o.push_str("    pub const fn as_str(self) -> &'static str {\n        match self {\n");
        for (v, a) in &e.variants {
            let _ = writeln!(o, "            Self::{v} => {},", a.to_json());
        }
        o.push_str("        }\n    }\n}\n\n");
    }
    let _ = writeln!(o, "impl std::fmt::Display for {name} {{");
    o.push_str("    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n");
    if e.integer {
        o.push_str("        write!(f, \"{}\", self.value())\n    }\n}\n\n");
    } else {
        o.push_str("        f.write_str(self.as_str())\n    }\n}\n\n");
    }
    let _ = writeln!(o, "impl std::str::FromStr for {name} {{");
    o.push_str("    type Err = EnumParseError;\n\n");
    o.push_str("    fn from_str(s: &str) -> Result<Self, Self::Err> {\n");
    let err = "EnumParseError {\n                expected: Self::EXPECTED,\n                value: s.to_owned(),\n            }";
    if e.integer {
        o.push_str("        match s.parse().ok().and_then(Self::from_value) {\n");
        o.push_str("            Some(v) => Ok(v),\n");
        let _ = writeln!(o, "            None => Err({err}),");
        o.push_str("        }\n");
    } else {
        o.push_str("        match s {\n");
        for (v, a) in &e.variants {
            let _ = writeln!(o, "            {} => Ok(Self::{v}),", a.to_json());
        }
        let _ = writeln!(o, "            _ => Err({err}),");
        o.push_str("        }\n");
    }
    o.push_str("    }\n}\n\n");
    let _ = writeln!(o, "impl AtomValue for {name} {{");
    if e.integer {
        o.push_str("    const ATOMIC: AtomicType = AtomicType::Integer;\n");
    } else {
        o.push_str("    const ATOMIC: AtomicType = AtomicType::String;\n");
    }
    let _ = writeln!(
        o,
        "    const EXPECTED: &'static str = \"{}\";\n",
        e.expected
    );
    o.push_str("    fn from_atom(atom: &Atom) -> Option<Self> {\n        match atom {\n");
    if e.integer {
        o.push_str("            Atom::Integer(i) => Self::from_value(*i),\n");
    } else {
        o.push_str("            Atom::String(s) => s.parse().ok(),\n");
    }
    o.push_str("            _ => None,\n        }\n    }\n\n");
    o.push_str("    fn to_atom(&self) -> Atom {\n");
    if e.integer {
        o.push_str("        Atom::Integer(self.value())\n    }\n}\n");
    } else {
        o.push_str("        Atom::String(self.as_str().into())\n    }\n}\n");
    }
}
