//! `Given`: a model's hyper-parameters as `train`'s free-form `params:` mapping holds them,
//! read against the kind's [`ParamSpec`]s: an unknown name, a wrong type or a value past its
//! limit is refused with the model's and the parameter's name.

use serde_json::{Map, Value};

use crate::Error;
use crate::kind::{Limit, ParamSpec, Range, backticked};

/// Typed reads out of `params:`, after refusing names the model does not know.
pub(crate) struct Given<'a> {
    model: &'static str,
    params: &'a Map<String, Value>,
    space: Vec<ParamSpec>,
}

impl<'a> Given<'a> {
    pub(crate) fn new(
        model: &'static str,
        params: &'a Map<String, Value>,
        space: Vec<ParamSpec>,
    ) -> Result<Given<'a>, Error> {
        if let Some(name) = params
            .keys()
            .find(|k| !space.iter().any(|s| s.name == k.as_str()))
        {
            return Err(Error::UnknownParam {
                model,
                name: name.clone(),
                expected: backticked(space.iter().map(|s| s.name)),
            });
        }
        let given = Given {
            model,
            params,
            space,
        };
        for spec in &given.space {
            if let (Some((other, needs)), Some(_)) = (spec.when, given.get(spec.name)) {
                let value = given.choice(other)?;
                if value != needs {
                    return Err(given.error(
                        spec.name,
                        format!("applies only to {other} `{needs}`, not `{value}`"),
                    ));
                }
            }
        }
        Ok(given)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.params.get(name).filter(|v| !v.is_null())
    }

    fn spec(&self, name: &str) -> Option<&ParamSpec> {
        self.space.iter().find(|s| s.name == name)
    }

    fn error(&self, name: &str, message: String) -> Error {
        Error::Param {
            model: self.model,
            name: name.into(),
            message,
        }
    }

    fn limit(&self, name: &str) -> Limit {
        self.spec(name).map_or(Limit::Any, |s| s.limit)
    }

    fn check_limit(&self, name: &str, x: f64, shown: String) -> Result<(), Error> {
        let limit = self.limit(name);
        if limit.allows(x) {
            return Ok(());
        }
        let message = match limit {
            Limit::Above(lo) => format!("must be > {lo}, got {shown}"),
            Limit::AtLeast(lo) => format!("must be >= {lo}, got {shown}"),
            Limit::Any => format!("must be a finite number, got {shown}"),
        };
        Err(self.error(name, message))
    }

    /// A real number; `default` replaces the spec's default where that depends on the data.
    pub(crate) fn float_or(&self, name: &str, default: f64) -> Result<f64, Error> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        let x = v
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| self.error(name, format!("must be a number, got `{v}`")))?;
        self.check_limit(name, x, x.to_string())?;
        Ok(x)
    }

    /// A real number with the spec's default.
    pub(crate) fn float(&self, name: &str) -> Result<f64, Error> {
        let default = self
            .spec(name)
            .and_then(|s| s.default.as_f64())
            .unwrap_or(0.0);
        self.float_or(name, default)
    }

    /// A whole number, `None` when absent and the spec's default is `null`.
    pub(crate) fn optional_int(&self, name: &str) -> Result<Option<u64>, Error> {
        let Some(v) = self.get(name) else {
            return Ok(self.spec(name).and_then(|s| s.default.as_u64()));
        };
        let n = v
            .as_u64()
            .ok_or_else(|| self.error(name, format!("must be a whole number, got `{v}`")))?;
        self.check_limit(name, n as f64, n.to_string())?;
        Ok(Some(n))
    }

    /// A whole number with the spec's default.
    pub(crate) fn int(&self, name: &str) -> Result<u64, Error> {
        Ok(self.optional_int(name)?.unwrap_or(0))
    }

    /// One of the spec's choices, or its default.
    pub(crate) fn choice(&self, name: &str) -> Result<&'static str, Error> {
        let Some(spec) = self.spec(name) else {
            return Err(self.error(name, "is not a parameter of this model".into()));
        };
        let Range::Choice(allowed) = &spec.range else {
            return Err(self.error(name, "is not a choice".into()));
        };
        let Some(v) = self.get(name) else {
            let default = spec.default.as_str().unwrap_or_default();
            return Ok(allowed
                .iter()
                .find(|a| **a == default)
                .copied()
                .unwrap_or_default());
        };
        match v.as_str().and_then(|s| allowed.iter().find(|a| **a == s)) {
            Some(s) => Ok(s),
            None => Err(self.error(
                name,
                format!(
                    "must be one of {}, got `{v}`",
                    backticked(allowed.iter().copied())
                ),
            )),
        }
    }
}

/// The resolved parameters as the model file records them: keys sorted.
pub(crate) fn sorted_map(entries: Vec<(&str, Value)>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}
