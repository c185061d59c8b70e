//! Applies a search's parsed clauses (`filter.rs`) to runs or experiments: which pass, in which
//! order.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::filter::{Clause, Entity, Op, Operand, Order};

/// A value a column has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a> {
    Number(f64),
    Text(Cow<'a, str>),
}

/// What a search looks at.
pub(crate) trait Searchable {
    /// The latest value of a metric.
    fn metric(&self, key: &str) -> Option<f64>;
    /// A param.
    fn param(&self, key: &str) -> Option<&str>;
    /// A tag.
    fn tag(&self, key: &str) -> Option<&str>;
    /// An attribute (a key of the schema).
    fn attribute(&self, key: &str) -> Option<Field<'_>>;
    /// An attribute as it sorts (an id of digits sorts as a number).
    fn sort_attribute(&self, key: &str) -> Option<Field<'_>> {
        self.attribute(key)
    }
}

/// Whether `s` passes every clause.
pub(crate) fn matches(clauses: &[Clause], s: &impl Searchable) -> bool {
    clauses.iter().all(|c| {
        let field = match c.entity {
            Entity::Metric => s.metric(&c.key).map(Field::Number),
            Entity::Param => s.param(&c.key).map(|v| Field::Text(Cow::Borrowed(v))),
            Entity::Tag => s.tag(&c.key).map(|v| Field::Text(Cow::Borrowed(v))),
            Entity::Attribute => s.attribute(&c.key),
        };
        match (c.op, field, &c.value) {
            (Op::IsNull, f, _) => f.is_none(),
            (Op::IsNotNull, f, _) => f.is_some(),
            (_, None, _) => false,
            (op, Some(Field::Number(x)), Operand::Number(y)) => match op {
                Op::Eq => x == *y,
                Op::Ne => x != *y,
                Op::Lt => x < *y,
                Op::Le => x <= *y,
                Op::Gt => x > *y,
                Op::Ge => x >= *y,
                _ => false,
            },
            (op, Some(Field::Text(x)), Operand::Text(y)) => match op {
                Op::Eq => x == y.as_str(),
                Op::Ne => x != y.as_str(),
                Op::Like => like(&x, y),
                Op::ILike => like(&x.to_lowercase(), &y.to_lowercase()),
                _ => false,
            },
            (Op::In, Some(Field::Text(x)), Operand::List(ys)) => ys.iter().any(|y| *y == x),
            (Op::NotIn, Some(Field::Text(x)), Operand::List(ys)) => !ys.iter().any(|y| *y == x),
            _ => false,
        }
    })
}

/// SQL's LIKE: `%` is any text, `_` any one character.
fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0, 0);
    // Where the last `%` was, and the text position it matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('%') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '_' || c == t[ti] => {
                ti += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == '%')
}

/// Sorts by the clauses, keeping the given order among ties; a missing value or NaN sorts last
/// either way (as MLflow).
pub(crate) fn sort<T: Searchable>(items: &mut [T], orders: &[Order]) {
    fn value<'a, T: Searchable>(s: &'a T, o: &Order) -> Option<Field<'a>> {
        let f = match o.entity {
            Entity::Metric => s.metric(&o.key).map(Field::Number),
            Entity::Param => s.param(&o.key).map(|v| Field::Text(Cow::Borrowed(v))),
            Entity::Tag => s.tag(&o.key).map(|v| Field::Text(Cow::Borrowed(v))),
            Entity::Attribute => s.sort_attribute(&o.key),
        };
        f.filter(|f| !matches!(f, Field::Number(n) if n.is_nan()))
    }
    items.sort_by(|a, b| {
        for o in orders {
            let ord = match (value(a, o), value(b, o)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let ord = match (x, y) {
                        (Field::Number(x), Field::Number(y)) => x.total_cmp(&y),
                        (Field::Text(x), Field::Text(y)) => x.cmp(&y),
                        (Field::Number(_), Field::Text(_)) => Ordering::Less,
                        (Field::Text(_), Field::Number(_)) => Ordering::Greater,
                    };
                    if o.ascending { ord } else { ord.reverse() }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}
