//! `ModelKind`: the models `train` can fit, and [`KINDS`], the one list naming them. Adding a
//! kind is a new file in `kinds/` (implementing [`Kind`]) and one entry in that list.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::kind::{Fitted, Kind, ParamSpec, backticked};
use crate::kinds::{Knn, Logreg, Svm, Tree};

/// Every model kind, in the order error messages list them.
const KINDS: &[&dyn Kind] = &[&Logreg, &Svm, &Tree, &Knn];

/// A model kind, named in `model:` (`logreg`, `svm`, `tree`, `knn`).
#[derive(Clone, Copy)]
pub struct ModelKind(&'static dyn Kind);

impl ModelKind {
    /// Every kind `train` can fit.
    pub fn all() -> impl Iterator<Item = ModelKind> {
        KINDS.iter().map(|k| ModelKind(*k))
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<ModelKind> {
        ModelKind::all().find(|k| k.as_str() == name)
    }

    /// The name used in `model:`.
    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    /// The hyper-parameters of this kind, with defaults, limits and tuning ranges.
    pub fn space(self) -> Vec<ParamSpec> {
        self.0.space()
    }

    pub(crate) fn kind(self) -> &'static dyn Kind {
        self.0
    }
}

impl PartialEq for ModelKind {
    fn eq(&self, other: &ModelKind) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ModelKind {}

impl fmt::Debug for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelKind({})", self.as_str())
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ModelKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ModelKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ModelKind, D::Error> {
        let name = String::deserialize(d)?;
        ModelKind::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown variant `{name}`, expected one of {}",
                backticked(ModelKind::all().map(ModelKind::as_str))
            ))
        })
    }
}

/// A model file's `fitted` field: `{"<kind>": <state>}`, the layout serde gives an externally
/// tagged enum, so model files did not change when the kinds became modules.
#[derive(Debug)]
pub(crate) struct FittedState(pub(crate) Box<dyn Fitted>);

impl Serialize for FittedState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap};
        let state = self.0.state().map_err(S::Error::custom)?;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.0.kind(), &state)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for FittedState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FittedState, D::Error> {
        use serde::de::Error as _;
        let map = Map::<String, Value>::deserialize(d)?;
        let mut entries = map.into_iter();
        let (Some((name, state)), None) = (entries.next(), entries.next()) else {
            return Err(D::Error::custom(
                "`fitted` must hold exactly one model kind",
            ));
        };
        let kind = ModelKind::from_name(&name).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown variant `{name}`, expected one of {}",
                backticked(ModelKind::all().map(ModelKind::as_str))
            ))
        })?;
        kind.kind()
            .load(state)
            .map(FittedState)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_kind_lists_the_kinds() {
        let err = serde_json::from_value::<ModelKind>(json!("forest")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown variant `forest`, expected one of `logreg`, `svm`, `tree`, `knn`"
        );
        assert_eq!(
            serde_json::to_value(ModelKind::from_name("knn").unwrap()).unwrap(),
            json!("knn")
        );
    }
}
