//! The `-S` values of `wf exp run`, in Hydra's override grammar as `dvc exp run -S` passes it
//! on: `[FILE:]key=value` changes a key, `+key=value` adds one, `~key` removes one; a value is
//! YAML-like (`1`, `1.5`, `true`, `null`, `'text'`, `[1, 2]`, `{a: 1}`); `a,b,c`, `choice(a, b)`
//! and `range(start, stop[, step])` sweep.

use crate::spec::value::Value;

/// What an override does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `key=value`: change an existing key.
    Set,
    /// `+key=value`: add a key that must not exist.
    Add,
    /// `~key`: remove a key.
    Remove,
}

/// One `-S` value, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The params file (`None`: the default one).
    pub file: Option<String>,
    /// What it does.
    pub op: Op,
    /// The dotted key.
    pub key: String,
    /// One value, or several for a sweep; empty for a removal.
    pub values: Vec<Value>,
    /// The override as typed.
    pub text: String,
}

impl Override {
    /// Whether it makes several experiments.
    pub fn is_sweep(&self) -> bool {
        self.values.len() > 1
    }
}

/// One key of one experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The params file (`None`: the default one).
    pub file: Option<String>,
    /// What it does.
    pub op: Op,
    /// The dotted key.
    pub key: String,
    /// The value (`None` for a removal).
    pub value: Option<Value>,
}

/// An override that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct HydraError {
    text: String,
    column: usize,
    message: String,
    help: Option<String>,
}

impl HydraError {
    /// The override as typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 0-based column (in chars) of the mistake.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What to do about it.
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

/// The most values one sweep may make.
const MAX_SWEEP: usize = 10_000;

/// Parses one override.
pub fn parse(text: &str) -> Result<Override, HydraError> {
    let fail = |column: usize, message: String, help: Option<&str>| HydraError {
        text: text.to_string(),
        column,
        message,
        help: help.map(str::to_string),
    };
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let mut file = None;
    if let Some(colon) = chars.iter().position(|&c| c == ':') {
        let prefix: String = chars[..colon].iter().collect();
        let path_like = [".yaml", ".yml", ".json", ".toml", ".py"]
            .iter()
            .any(|e| prefix.ends_with(e))
            || prefix.contains('/');
        if !prefix.contains('=') && path_like {
            file = Some(prefix);
            at = colon + 1;
        }
    }
    let op = match chars.get(at) {
        Some('+') => {
            at += 1;
            Op::Add
        }
        Some('~') => {
            at += 1;
            Op::Remove
        }
        _ => Op::Set,
    };
    let eq = chars[at..].iter().position(|&c| c == '=').map(|p| p + at);
    let key_end = eq.unwrap_or(chars.len());
    let key: String = chars[at..key_end].iter().collect();
    if key.is_empty() {
        return Err(fail(
            at,
            "the override has no key".into(),
            Some("write `key=value`"),
        ));
    }
    if let Some(bad) = key.chars().position(|c| c.is_whitespace()) {
        return Err(fail(at + bad, format!("the key `{key}` has a space"), None));
    }
    if key.split('.').any(str::is_empty) {
        return Err(fail(
            at,
            format!("the key `{key}` has an empty part"),
            Some("dotted keys look like `train.lr`"),
        ));
    }
    let Some(eq) = eq else {
        if op == Op::Remove {
            return Ok(Override {
                file,
                op,
                key,
                values: Vec::new(),
                text: text.to_string(),
            });
        }
        return Err(fail(
            chars.len(),
            format!("`{text}` sets no value"),
            Some("write `key=value` (or `~key` to remove a key)"),
        ));
    };
    let mut p = Parser {
        chars: &chars,
        at: eq + 1,
        text,
    };
    let values = if op == Op::Remove {
        Vec::new()
    } else {
        p.sweep()?
    };
    Ok(Override {
        file,
        op,
        key,
        values,
        text: text.to_string(),
    })
}

/// The cartesian product of the overrides' values, the first varying slowest: one list of
/// assignments per experiment.
pub fn expand(overrides: &[Override]) -> Vec<Vec<Assignment>> {
    let mut all: Vec<Vec<Assignment>> = vec![Vec::new()];
    for o in overrides {
        let values: Vec<Option<Value>> = if o.values.is_empty() {
            vec![None]
        } else {
            o.values.iter().cloned().map(Some).collect()
        };
        all = all
            .into_iter()
            .flat_map(|done| {
                values.iter().map(move |v| {
                    let mut next = done.clone();
                    next.push(Assignment {
                        file: o.file.clone(),
                        op: o.op,
                        key: o.key.clone(),
                        value: v.clone(),
                    });
                    next
                })
            })
            .collect();
    }
    all
}

struct Parser<'a> {
    chars: &'a [char],
    at: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn fail(&self, column: usize, message: impl Into<String>, help: Option<&str>) -> HydraError {
        HydraError {
            text: self.text.to_string(),
            column,
            message: message.into(),
            help: help.map(str::to_string),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// The whole value: a function sweep, a comma sweep, or one value.
    fn sweep(&mut self) -> Result<Vec<Value>, HydraError> {
        let start = self.at;
        let rest: String = self.chars[self.at..].iter().collect();
        if let Some(open) = rest.find('(') {
            let name = &rest[..open];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                self.at += name.chars().count() + 1;
                let args = self.items(')', start + name.chars().count())?;
                self.end()?;
                return match name {
                    "choice" if args.is_empty() => {
                        Err(self.fail(start, "`choice()` needs at least one value", None))
                    }
                    "choice" => Ok(args),
                    "range" => self.range(start, &args),
                    _ => Err(self.fail(
                        start,
                        format!("unknown sweep function `{name}`"),
                        Some("wf knows `choice(a, b)` and `range(start, stop[, step])`; quote the value to set it as text"),
                    )),
                };
            }
        }
        let mut values = vec![self.value()?];
        loop {
            self.skip_space();
            match self.peek() {
                None => break,
                Some(',') => {
                    self.at += 1;
                    self.skip_space();
                    if matches!(self.peek(), None | Some(',')) {
                        return Err(self.fail(self.at, "an empty value in the sweep", None));
                    }
                    values.push(self.value()?);
                }
                Some(c) => {
                    return Err(self.fail(self.at, format!("unexpected `{c}`"), None));
                }
            }
        }
        Ok(values)
    }

    fn end(&mut self) -> Result<(), HydraError> {
        self.skip_space();
        match self.peek() {
            None => Ok(()),
            Some(c) => Err(self.fail(self.at, format!("unexpected `{c}` after the sweep"), None)),
        }
    }

    /// Values separated by commas up to `close` (its opener at `open`).
    fn items(&mut self, close: char, open: usize) -> Result<Vec<Value>, HydraError> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => {
                    return Err(self.fail(
                        open,
                        format!("this is never closed with `{close}`"),
                        None,
                    ));
                }
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => {}
            }
            items.push(self.value()?);
            self.skip_space();
            match self.peek() {
                Some(',') => self.at += 1,
                Some(c) if c == close => {}
                None => {
                    return Err(self.fail(
                        open,
                        format!("this is never closed with `{close}`"),
                        None,
                    ));
                }
                Some(c) => return Err(self.fail(self.at, format!("unexpected `{c}`"), None)),
            }
        }
    }

    /// One value.
    fn value(&mut self) -> Result<Value, HydraError> {
        self.skip_space();
        let start = self.at;
        match self.peek() {
            Some(q @ ('\'' | '"')) => {
                self.at += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return Err(self.fail(start, "this quote is never closed", None)),
                        Some('\\') if self.chars.get(self.at + 1).is_some() => {
                            s.push(self.chars[self.at + 1]);
                            self.at += 2;
                        }
                        Some(c) if c == q => {
                            self.at += 1;
                            return Ok(Value::Str(s));
                        }
                        Some(c) => {
                            s.push(c);
                            self.at += 1;
                        }
                    }
                }
            }
            Some('[') => {
                self.at += 1;
                Ok(Value::List(self.items(']', start)?))
            }
            Some('{') => {
                self.at += 1;
                let mut map = indexmap::IndexMap::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        None => {
                            return Err(self.fail(start, "this is never closed with `}`", None));
                        }
                        Some('}') => {
                            self.at += 1;
                            return Ok(Value::Map(map));
                        }
                        _ => {}
                    }
                    let key_at = self.at;
                    while self.peek().is_some_and(|c| !matches!(c, ':' | ',' | '}')) {
                        self.at += 1;
                    }
                    let key: String = self.chars[key_at..self.at].iter().collect();
                    if self.peek() != Some(':') {
                        return Err(self.fail(key_at, "a mapping entry needs `key: value`", None));
                    }
                    self.at += 1;
                    let v = self.value()?;
                    map.insert(key.trim().to_string(), v);
                    self.skip_space();
                    match self.peek() {
                        Some(',') => self.at += 1,
                        Some('}') => {}
                        None => {
                            return Err(self.fail(start, "this is never closed with `}`", None));
                        }
                        Some(c) => {
                            return Err(self.fail(self.at, format!("unexpected `{c}`"), None));
                        }
                    }
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | ']' | '}' | ')' | '[' | '{'))
                {
                    self.at += 1;
                }
                let word: String = self.chars[start..self.at].iter().collect();
                Ok(scalar(word.trim()))
            }
        }
    }

    /// `range(start, stop[, step])`: Python's, stop excluded; floats too.
    fn range(&self, at: usize, args: &[Value]) -> Result<Vec<Value>, HydraError> {
        let number = |v: &Value| match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        };
        let nums: Option<Vec<f64>> = args.iter().map(number).collect();
        let (Some(nums), 2..=3) = (nums, args.len()) else {
            return Err(self.fail(
                at,
                "`range` takes two or three numbers",
                Some("write `range(start, stop)` or `range(start, stop, step)`"),
            ));
        };
        let ints = args.iter().all(|v| matches!(v, Value::Int(_)));
        let (start, stop, step) = (nums[0], nums[1], nums.get(2).copied().unwrap_or(1.0));
        if step == 0.0 {
            return Err(self.fail(at, "`range` with a step of 0", None));
        }
        let count = ((stop - start) / step).ceil();
        if count <= 0.0 {
            return Err(self.fail(
                at,
                "this `range` has no values",
                Some("stop is excluded, as in Python"),
            ));
        }
        if count > MAX_SWEEP as f64 {
            return Err(self.fail(
                at,
                format!("this `range` makes more than {MAX_SWEEP} values"),
                None,
            ));
        }
        Ok((0..count as usize)
            .map(|i| {
                let v = start + i as f64 * step;
                if ints {
                    Value::Int(v as i64)
                } else {
                    Value::Float(format!("{v:.12}").parse().unwrap_or(v))
                }
            })
            .collect())
    }
}

/// A plain word as YAML reads it.
fn scalar(word: &str) -> Value {
    match word {
        "null" | "~" | "" => return Value::Null,
        "true" | "True" => return Value::Bool(true),
        "false" | "False" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = word.parse::<i64>() {
        return Value::Int(i);
    }
    let numeric = word
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && word.chars().any(|c| c.is_ascii_digit());
    if numeric && let Ok(f) = word.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<Value> {
        parse(text).unwrap().values
    }

    #[test]
    fn values_are_typed_as_yaml_reads_them() {
        assert_eq!(values("a=1"), [Value::Int(1)]);
        assert_eq!(values("a=1.5"), [Value::Float(1.5)]);
        assert_eq!(values("a=1e-3"), [Value::Float(0.001)]);
        assert_eq!(values("a=true"), [Value::Bool(true)]);
        assert_eq!(values("a=null"), [Value::Null]);
        assert_eq!(values("a=rbf"), [Value::Str("rbf".into())]);
        assert_eq!(values("a='x,y'"), [Value::Str("x,y".into())]);
        assert_eq!(
            values("a=[1, 2]"),
            [Value::List(vec![Value::Int(1), Value::Int(2)])]
        );
        let Value::Map(m) = &values("a={b: 1, c: x}")[0] else {
            panic!()
        };
        assert_eq!(m.get("b"), Some(&Value::Int(1)));
    }

    #[test]
    fn sweeps_and_their_product() {
        assert_eq!(values("a=1,2,3").len(), 3);
        assert_eq!(
            values("a=choice(x, y)"),
            [Value::Str("x".into()), Value::Str("y".into())]
        );
        assert_eq!(
            values("a=range(1,10,3)"),
            [Value::Int(1), Value::Int(4), Value::Int(7)]
        );
        assert_eq!(
            values("a=range(0.1, 0.5, 0.1)"),
            [0.1, 0.2, 0.3, 0.4].map(Value::Float)
        );
        let all = expand(&[parse("a=1,2").unwrap(), parse("b=x,y").unwrap()]);
        let pairs: Vec<String> = all
            .iter()
            .map(|e| {
                e.iter()
                    .map(|a| a.value.as_ref().unwrap().to_text())
                    .collect::<Vec<_>>()
                    .join("")
            })
            .collect();
        assert_eq!(pairs, ["1x", "1y", "2x", "2y"]);
    }

    #[test]
    fn files_and_operations() {
        let o = parse("other.yaml:+train.lr=0.1").unwrap();
        assert_eq!(
            (o.file.as_deref(), o.op, o.key.as_str()),
            (Some("other.yaml"), Op::Add, "train.lr")
        );
        let o = parse("~seed").unwrap();
        assert_eq!((o.op, o.values.len()), (Op::Remove, 0));
        assert_eq!(parse("url=http://x").unwrap().file, None);
    }

    #[test]
    fn mistakes_are_pointed_at() {
        let col = |t: &str| parse(t).unwrap_err().column();
        assert_eq!(col("=3"), 0);
        assert!(
            parse("train.C")
                .unwrap_err()
                .help()
                .unwrap()
                .contains("key=value")
        );
        assert_eq!(col("a=[1, 2"), 2);
        assert_eq!(col("a='x"), 2);
        assert_eq!(col("a=range(1,"), 7);
        assert!(parse("a=foo(1,2)").unwrap_err().to_string().contains("foo"));
        assert!(parse("a=range(1,1)").is_err());
        assert!(parse("a=range(1,5,0)").is_err());
        assert_eq!(col("a=1,,2"), 4);
        assert!(parse("a..b=1").is_err());
        assert!(parse("a b=1").is_err());
    }
}
