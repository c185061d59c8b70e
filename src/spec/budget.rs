//! `Budget`: how much resolving one spec file may make. A `foreach` or `matrix` makes a stage
//! per item or combination, each with its own copy of what it interpolates, and YAML aliases
//! let a few lines name a large value: without a bound, a short spec could take all memory and
//! time. Every stage, resolved value and byte of interpolated text is counted against one
//! total, shared by the scopes of all the spec's stages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::SpecError;
use super::source::Loc;
use super::stage::Stage;
use super::value::Value;
use super::yaml::Node;

/// The most one spec file may resolve to, in bytes of stages, values and text: about 100,000
/// small stages, far more than a spec of thousands needs, and a few seconds of work.
pub(crate) const MAX_BYTES: usize = 64 << 20;

/// What one resolved value costs, besides its text.
pub(crate) const VALUE: usize = size_of::<Node>();

/// What one stage costs, besides its values.
pub(crate) const STAGE: usize = size_of::<Stage>();

/// The running total of one spec file's resolution, shared by every copy of its scope.
#[derive(Debug, Clone, Default)]
pub(crate) struct Budget {
    spent: Arc<AtomicUsize>,
}

impl Budget {
    /// Counts `bytes` more; past [`MAX_BYTES`], an error pointing at `at`.
    pub(crate) fn charge(&self, bytes: usize, at: impl FnOnce() -> Loc) -> Result<(), SpecError> {
        let bytes = bytes.min(MAX_BYTES + 1);
        let before = self.spent.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > MAX_BYTES {
            return Err(SpecError::TooLarge {
                limit: MAX_BYTES,
                loc: at(),
            });
        }
        Ok(())
    }
}

/// What a copy of `v` costs: [`VALUE`] for it and each value inside it, plus their text.
pub(crate) fn weight(v: &Value) -> usize {
    VALUE
        + match v {
            Value::Str(s) => s.len(),
            Value::List(items) => items.iter().map(weight).sum(),
            Value::Map(m) => m.iter().map(|(k, v)| k.len() + weight(v)).sum(),
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Source;
    use crate::spec::source::Span;

    #[test]
    fn charges_add_up_to_the_limit_across_copies() {
        let loc = || Loc {
            src: Arc::new(Source {
                name: "pipeline.yaml".into(),
                path: "pipeline.yaml".into(),
                text: String::new(),
            }),
            span: Span::default(),
        };
        let budget = Budget::default();
        let copy = budget.clone();
        assert!(budget.charge(MAX_BYTES / 2, loc).is_ok());
        assert!(copy.charge(MAX_BYTES / 2, loc).is_ok());
        let e = copy.charge(1, loc).unwrap_err();
        assert!(matches!(e, SpecError::TooLarge { .. }), "{e}");
        assert!(budget.charge(usize::MAX, loc).is_err());
    }

    #[test]
    fn a_value_weighs_its_values_and_text() {
        let v = Value::List(vec![Value::Int(1), Value::Str("abc".into())]);
        assert_eq!(weight(&v), 3 * VALUE + 3);
    }
}
