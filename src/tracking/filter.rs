//! MLflow's search grammar: a filter (`metrics.acc > 0.9 and params.C = '1.0'`) and order-by
//! clauses (`metrics.acc DESC`), parsed into clauses with MLflow's rules for which comparisons
//! each kind of column takes; `search.rs` applies them.

/// What a column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    /// `metrics.x`: a run's latest value of a metric.
    Metric,
    /// `params.x`.
    Param,
    /// `tags.x`.
    Tag,
    /// `attributes.x`, or a bare name.
    Attribute,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Op {
    /// As the filter spells it.
    fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }
}

/// The right side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Number(f64),
    Text(String),
    List(Vec<String>),
    Nothing,
}

/// One `column op value` of a filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    pub(crate) entity: Entity,
    pub(crate) key: String,
    pub(crate) op: Op,
    pub(crate) value: Operand,
}

/// One order-by clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Order {
    pub(crate) entity: Entity,
    pub(crate) key: String,
    pub(crate) ascending: bool,
}

/// The columns one search takes.
#[derive(Debug)]
pub(crate) struct Schema {
    entities: &'static [Entity],
    /// What it can order by.
    orderable: &'static [Entity],
    strings: &'static [&'static str],
    numbers: &'static [&'static str],
    /// The attributes that take `IN (…)`.
    lists: &'static [&'static str],
}

/// As MLflow's runs search.
pub(crate) const RUNS: Schema = Schema {
    entities: &[
        Entity::Metric,
        Entity::Param,
        Entity::Tag,
        Entity::Attribute,
    ],
    orderable: &[
        Entity::Metric,
        Entity::Param,
        Entity::Tag,
        Entity::Attribute,
    ],
    strings: &["run_id", "run_name", "status", "artifact_uri", "user_id"],
    numbers: &["start_time", "end_time"],
    lists: &["run_id"],
};

/// As MLflow's experiments search.
pub(crate) const EXPERIMENTS: Schema = Schema {
    entities: &[Entity::Tag, Entity::Attribute],
    orderable: &[Entity::Attribute],
    strings: &["name", "experiment_id"],
    numbers: &["creation_time", "last_update_time"],
    lists: &[],
};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A bare word: a keyword or an attribute.
    Word(String),
    /// `entity.key`; `None` for a backquoted name alone.
    Column(Option<String>, String),
    Text(String),
    Number(f64),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    let quoted = |i: &mut usize, q: char| -> Result<String, String> {
        let mut text = String::new();
        *i += 1;
        loop {
            match chars.get(*i) {
                None => return Err(format!("unterminated {q}-quoted text")),
                // As SQL: a doubled quote is the quote itself.
                Some(&c) if c == q && chars.get(*i + 1) == Some(&q) => {
                    text.push(q);
                    *i += 2;
                }
                Some(&c) if c == q => {
                    *i += 1;
                    return Ok(text);
                }
                Some(&c) => {
                    text.push(c);
                    *i += 1;
                }
            }
        }
    };
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            out.push(Token::Text(quoted(&mut i, c)?));
        } else if c.is_ascii_digit()
            || ((c == '-' || c == '+' || c == '.') && next.is_some_and(|n| n.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while let Some(&d) = chars.get(i) {
                let exponent_sign =
                    (d == '-' || d == '+') && matches!(chars.get(i - 1), Some('e') | Some('E'));
                if d.is_ascii_alphanumeric() || d == '.' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse()
                .map_err(|_| format!("`{text}` is not a number"))?;
            out.push(Token::Number(n));
        } else if word_char(c) || c == '`' {
            let first = if c == '`' {
                quoted(&mut i, '`')?
            } else {
                let start = i;
                while chars.get(i).is_some_and(|&d| word_char(d)) {
                    i += 1;
                }
                chars[start..i].iter().collect()
            };
            if chars.get(i) != Some(&'.') {
                out.push(if c == '`' {
                    Token::Column(None, first)
                } else {
                    Token::Word(first)
                });
                continue;
            }
            i += 1;
            let key = match chars.get(i) {
                Some(&q @ ('`' | '\'' | '"')) => quoted(&mut i, q)?,
                _ => {
                    let start = i;
                    while chars.get(i).is_some_and(|&d| word_char(d) || d == '.') {
                        i += 1;
                    }
                    chars[start..i].iter().collect()
                }
            };
            if key.is_empty() {
                return Err(format!("`{first}.` names no key"));
            }
            out.push(Token::Column(Some(first), key));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let (op, len) = match (two.as_str(), c) {
                ("!=", _) => ("!=", 2),
                ("<>", _) => ("!=", 2),
                ("<=", _) => ("<=", 2),
                (">=", _) => (">=", 2),
                ("==", _) => ("=", 2),
                (_, '=') => ("=", 1),
                (_, '<') => ("<", 1),
                (_, '>') => (">", 1),
                (_, '(') => ("(", 1),
                (_, ')') => (")", 1),
                (_, ',') => (",", 1),
                _ => return Err(format!("unexpected character `{c}`")),
            };
            i += len;
            out.push(match op {
                "(" => Token::Open,
                ")" => Token::Close,
                "," => Token::Comma,
                op => Token::Op(op),
            });
        }
    }
    Ok(out)
}

fn keyword(t: Option<&Token>, k: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(k))
}

fn describe(t: Option<&Token>) -> String {
    match t {
        None => "the end".into(),
        Some(Token::Word(w)) => format!("`{w}`"),
        Some(Token::Column(Some(e), k)) => format!("`{e}.{k}`"),
        Some(Token::Column(None, k)) => format!("`{k}`"),
        Some(Token::Text(s)) => format!("'{s}'"),
        Some(Token::Number(n)) => format!("`{n}`"),
        Some(Token::Op(op)) => format!("`{op}`"),
        Some(Token::Open) => "`(`".into(),
        Some(Token::Close) => "`)`".into(),
        Some(Token::Comma) => "`,`".into(),
    }
}

impl Schema {
    /// Parses a filter: clauses joined by `AND`; an empty filter is no clause.
    pub(crate) fn filter(&self, s: &str) -> Result<Vec<Clause>, String> {
        let tokens = lex(s)?;
        let mut it = tokens.iter().peekable();
        let mut clauses = Vec::new();
        if it.peek().is_none() {
            return Ok(clauses);
        }
        loop {
            let (entity, key) = self.column(it.next())?;
            let op = match it.next() {
                Some(Token::Op(op)) => match *op {
                    "=" => Op::Eq,
                    "!=" => Op::Ne,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    _ => Op::Ge,
                },
                t if keyword(t, "LIKE") => Op::Like,
                t if keyword(t, "ILIKE") => Op::ILike,
                t if keyword(t, "IN") => Op::In,
                t if keyword(t, "NOT") && keyword(it.peek().copied(), "IN") => {
                    it.next();
                    Op::NotIn
                }
                t if keyword(t, "IS") => {
                    let not = keyword(it.peek().copied(), "NOT");
                    if not {
                        it.next();
                    }
                    let t = it.next();
                    if !keyword(t, "NULL") {
                        return Err(format!("expected `NULL` after `IS`, found {}", describe(t)));
                    }
                    if not { Op::IsNotNull } else { Op::IsNull }
                }
                t => {
                    return Err(format!(
                        "expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS NULL) \
                         after `{key}`, found {}",
                        describe(t)
                    ));
                }
            };
            let value = match op {
                Op::IsNull | Op::IsNotNull => Operand::Nothing,
                _ => match it.next() {
                    Some(Token::Text(s)) => Operand::Text(s.clone()),
                    Some(Token::Number(n)) => Operand::Number(*n),
                    Some(Token::Open) => {
                        let mut items = Vec::new();
                        loop {
                            match it.next() {
                                Some(Token::Text(s)) => items.push(s.clone()),
                                t => {
                                    return Err(format!(
                                        "expected a quoted string in the list, found {}",
                                        describe(t)
                                    ));
                                }
                            }
                            match it.next() {
                                Some(Token::Comma) => {}
                                Some(Token::Close) => break,
                                t => {
                                    return Err(format!(
                                        "expected `,` or `)` in the list, found {}",
                                        describe(t)
                                    ));
                                }
                            }
                        }
                        Operand::List(items)
                    }
                    t => {
                        return Err(format!(
                            "expected a value after `{key}`, found {}",
                            describe(t)
                        ));
                    }
                },
            };
            if matches!(value, Operand::List(_)) != matches!(op, Op::In | Op::NotIn) {
                return Err(format!(
                    "`IN` and `NOT IN` take a list `('a', 'b')`, and only they do (`{key}`)"
                ));
            }
            self.check(entity, &key, op, &value)?;
            clauses.push(Clause {
                entity,
                key,
                op,
                value,
            });
            match it.next() {
                None => return Ok(clauses),
                t if keyword(t, "AND") => {}
                t if keyword(t, "OR") => {
                    return Err(
                        "`OR` is not supported: MLflow's filters join clauses with `AND`".into(),
                    );
                }
                t => return Err(format!("expected `AND` or the end, found {}", describe(t))),
            }
        }
    }

    /// Parses an order-by clause: a column, then `ASC` or `DESC`.
    pub(crate) fn order(&self, s: &str) -> Result<Order, String> {
        let tokens = lex(s)?;
        let mut it = tokens.iter();
        let (entity, key) = self.column(it.next())?;
        let ascending = match it.next() {
            None => true,
            t if keyword(t, "ASC") => true,
            t if keyword(t, "DESC") => false,
            t => return Err(format!("expected `ASC` or `DESC`, found {}", describe(t))),
        };
        if let Some(t) = it.next() {
            return Err(format!("unexpected {} after the order", describe(Some(t))));
        }
        if !self.orderable.contains(&entity) {
            return Err(format!("cannot order by `{key}`: only by attributes here"));
        }
        Ok(Order {
            entity,
            key,
            ascending,
        })
    }

    fn column(&self, t: Option<&Token>) -> Result<(Entity, String), String> {
        let (entity, key) = match t {
            Some(Token::Column(e, k)) => (e.as_deref(), k.clone()),
            Some(Token::Word(w))
                if !["AND", "OR", "NOT", "IN", "IS", "LIKE", "ILIKE", "NULL"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                (None, w.clone())
            }
            t => {
                return Err(format!(
                    "expected a column such as `metrics.accuracy`, found {}",
                    describe(t)
                ));
            }
        };
        let raw = entity;
        let entity = match entity {
            None | Some("attribute" | "attributes" | "attr" | "run") => Entity::Attribute,
            Some("metric" | "metrics") => Entity::Metric,
            Some("parameter" | "parameters" | "param" | "params") => Entity::Param,
            Some("tag" | "tags") => Entity::Tag,
            Some(other) => {
                return Err(format!(
                    "invalid entity type `{other}`: expected metrics, params, tags or attributes"
                ));
            }
        };
        if !self.entities.contains(&entity) {
            let column = raw.map_or(key.clone(), |e| format!("{e}.{key}"));
            return Err(format!("`{column}` cannot be searched here"));
        }
        if entity != Entity::Attribute {
            return Ok((entity, key));
        }
        // As MLflow's aliases.
        let key = match key.as_str() {
            "created" | "Created" if self.numbers.contains(&"start_time") => "start_time".into(),
            "run name" | "Run name" | "Run Name" => "run_name".into(),
            _ => key,
        };
        if !self.strings.contains(&key.as_str()) && !self.numbers.contains(&key.as_str()) {
            let mut valid: Vec<_> = self.strings.iter().chain(self.numbers).collect();
            valid.sort();
            return Err(format!(
                "invalid attribute `{key}`: expected one of {}",
                valid
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok((entity, key))
    }

    /// MLflow's rules: which comparisons and values each kind of column takes.
    fn check(&self, entity: Entity, key: &str, op: Op, value: &Operand) -> Result<(), String> {
        let numeric = entity == Entity::Metric
            || (entity == Entity::Attribute && self.numbers.contains(&key));
        let ops: &[Op] = match entity {
            _ if numeric => &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge],
            Entity::Param | Entity::Tag => &[
                Op::Eq,
                Op::Ne,
                Op::Like,
                Op::ILike,
                Op::IsNull,
                Op::IsNotNull,
            ],
            _ => &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn],
        };
        if !ops.contains(&op) {
            return Err(format!("`{key}` cannot be compared with `{}`", op.text()));
        }
        match value {
            Operand::Number(_) if !numeric => {
                Err(format!("`{key}` takes a quoted string, e.g. '1.0'"))
            }
            Operand::Text(_) if numeric => Err(format!("`{key}` takes a number")),
            Operand::List(_) if !self.lists.contains(&key) => Err(format!(
                "only {} take a list of quoted strings",
                self.lists.join(", ")
            )),
            _ => Ok(()),
        }
    }
}
