//! Kubernetes label selectors: checking them once and matching them against label sets.
//!
//! A [`LabelSelector`] as it comes from a manifest is checked into a [`Selector`] (operators
//! known, value lists present exactly where the operator needs them); matching is then a pure
//! function over a label map, with the Kubernetes semantics: all `matchLabels` pairs and all
//! `matchExpressions` must hold, an empty selector matches everything, and `NotIn` /
//! `DoesNotExist` hold for a label that is absent.
//!
//! What this does not do: set-based selector strings (`app in (a,b)`) as `kubectl -l` takes them,
//! or field selectors.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A label map as objects carry it in `metadata.labels`.
pub type Labels = BTreeMap<String, String>;

/// Why a label selector is invalid. `index` is the position in `matchExpressions`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorError {
    /// The operator is not one of `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[error(
        "matchExpressions[{index}].operator: unknown operator {operator:?} \
         (expected In, NotIn, Exists or DoesNotExist)"
    )]
    UnknownOperator {
        /// Position in `matchExpressions`.
        index: usize,
        /// The operator as written.
        operator: String,
    },
    /// `In` or `NotIn` without values.
    #[error("matchExpressions[{index}].values: operator {operator} needs at least one value")]
    MissingValues {
        /// Position in `matchExpressions`.
        index: usize,
        /// The operator as written.
        operator: &'static str,
    },
    /// `Exists` or `DoesNotExist` with values.
    #[error("matchExpressions[{index}].values: operator {operator} takes no values")]
    UnexpectedValues {
        /// Position in `matchExpressions`.
        index: usize,
        /// The operator as written.
        operator: &'static str,
    },
    /// An empty key.
    #[error("{field}: empty label key")]
    EmptyKey {
        /// Where the key was (`matchLabels` or `matchExpressions[i].key`).
        field: String,
    },
}

impl SelectorError {
    /// The field inside the selector that was wrong, as a dotted path.
    pub fn field(&self) -> String {
        match self {
            Self::UnknownOperator { index, .. } => format!("matchExpressions[{index}].operator"),
            Self::MissingValues { index, .. } | Self::UnexpectedValues { index, .. } => {
                format!("matchExpressions[{index}].values")
            }
            Self::EmptyKey { field } => field.clone(),
        }
    }
}

/// One checked `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// The label is present and its value is one of these.
    In(String, Vec<String>),
    /// The label is absent, or its value is none of these.
    NotIn(String, Vec<String>),
    /// The label is present (any value).
    Exists(String),
    /// The label is absent.
    DoesNotExist(String),
}

impl Requirement {
    /// True when `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Self::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Self::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Self::Exists(k) => labels.contains_key(k),
            Self::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

/// A checked label selector: `matchLabels` and `matchExpressions`, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    /// Exact key/value pairs (`matchLabels`).
    pub match_labels: Labels,
    /// Set-based requirements (`matchExpressions`), in manifest order.
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches every label set (`{}`).
    pub fn everything() -> Self {
        Self::default()
    }

    /// Checks a selector from a manifest.
    pub fn new(sel: &LabelSelector) -> Result<Self, SelectorError> {
        let match_labels = sel.match_labels.clone().unwrap_or_default();
        if match_labels.keys().any(String::is_empty) {
            return Err(SelectorError::EmptyKey {
                field: "matchLabels".into(),
            });
        }
        let mut requirements = Vec::new();
        for (index, e) in sel.match_expressions.iter().flatten().enumerate() {
            if e.key.is_empty() {
                return Err(SelectorError::EmptyKey {
                    field: format!("matchExpressions[{index}].key"),
                });
            }
            let values = e.values.clone().unwrap_or_default();
            let key = e.key.clone();
            let req = match e.operator.as_str() {
                "In" | "NotIn" => {
                    let operator = if e.operator == "In" { "In" } else { "NotIn" };
                    if values.is_empty() {
                        return Err(SelectorError::MissingValues { index, operator });
                    }
                    if operator == "In" {
                        Requirement::In(key, values)
                    } else {
                        Requirement::NotIn(key, values)
                    }
                }
                "Exists" | "DoesNotExist" => {
                    let exists = e.operator == "Exists";
                    if !values.is_empty() {
                        let operator = if exists { "Exists" } else { "DoesNotExist" };
                        return Err(SelectorError::UnexpectedValues { index, operator });
                    }
                    if exists {
                        Requirement::Exists(key)
                    } else {
                        Requirement::DoesNotExist(key)
                    }
                }
                other => {
                    return Err(SelectorError::UnknownOperator {
                        index,
                        operator: other.to_owned(),
                    })
                }
            };
            requirements.push(req);
        }
        Ok(Self {
            match_labels,
            requirements,
        })
    }

    /// True when the selector selects every label set.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.requirements.is_empty()
    }

    /// True when `labels` satisfy every pair and every requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for Selector {
    /// Prints the selector in `kubectl -l` syntax (`a=b,c in (d,e),!f`); empty prints nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for r in &self.requirements {
            parts.push(match r {
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            });
        }
        f.write_str(&parts.join(","))
    }
}

/// Checks `sel` and matches it against `labels` in one step.
pub fn selector_matches(sel: &LabelSelector, labels: &Labels) -> Result<bool, SelectorError> {
    Ok(Selector::new(sel)?.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: Option<&[&str]>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: values.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn sel(ml: &[(&str, &str)], exprs: Vec<LabelSelectorRequirement>) -> LabelSelector {
        LabelSelector {
            match_labels: (!ml.is_empty()).then(|| labels(ml)),
            match_expressions: (!exprs.is_empty()).then_some(exprs),
        }
    }

    #[test]
    fn empty_selector_matches_everything() {
        let s = Selector::new(&LabelSelector::default()).unwrap();
        assert!(s.is_empty());
        assert!(s.matches(&Labels::new()));
        assert!(s.matches(&labels(&[("a", "b")])));
        assert_eq!(s.to_string(), "");
    }

    #[test]
    fn match_labels_all_must_hold() {
        let s = Selector::new(&sel(&[("app", "web"), ("tier", "fe")], vec![])).unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe"), ("x", "y")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "be")])));
    }

    #[test]
    fn operators() {
        let l = labels(&[("env", "prod"), ("team", "a")]);
        let cases = [
            (expr("env", "In", Some(&["prod", "qa"])), true),
            (expr("env", "In", Some(&["qa"])), false),
            (expr("missing", "In", Some(&["x"])), false),
            (expr("env", "NotIn", Some(&["qa"])), true),
            (expr("env", "NotIn", Some(&["prod"])), false),
            (expr("missing", "NotIn", Some(&["x"])), true),
            (expr("team", "Exists", None), true),
            (expr("missing", "Exists", Some(&[])), false),
            (expr("team", "DoesNotExist", None), false),
            (expr("missing", "DoesNotExist", None), true),
        ];
        for (e, want) in cases {
            let desc = format!("{e:?}");
            assert_eq!(
                selector_matches(&sel(&[], vec![e]), &l).unwrap(),
                want,
                "{desc}"
            );
        }
        let both = sel(
            &[("team", "a")],
            vec![
                expr("env", "In", Some(&["prod"])),
                expr("gone", "DoesNotExist", None),
            ],
        );
        let s = Selector::new(&both).unwrap();
        assert!(s.matches(&l));
        assert_eq!(s.to_string(), "team=a,env in (prod),!gone");
    }

    #[test]
    fn invalid_selectors() {
        let e = Selector::new(&sel(&[], vec![expr("a", "Equals", Some(&["b"]))])).unwrap_err();
        assert_eq!(
            e,
            SelectorError::UnknownOperator {
                index: 0,
                operator: "Equals".into()
            }
        );
        assert_eq!(e.field(), "matchExpressions[0].operator");
        let e = Selector::new(&sel(
            &[],
            vec![expr("a", "Exists", None), expr("b", "In", None)],
        ))
        .unwrap_err();
        assert_eq!(
            e,
            SelectorError::MissingValues {
                index: 1,
                operator: "In"
            }
        );
        let e =
            Selector::new(&sel(&[], vec![expr("a", "DoesNotExist", Some(&["x"]))])).unwrap_err();
        assert!(matches!(
            e,
            SelectorError::UnexpectedValues { index: 0, .. }
        ));
        let e = Selector::new(&sel(&[], vec![expr("", "Exists", None)])).unwrap_err();
        assert_eq!(e.field(), "matchExpressions[0].key");
    }
}
