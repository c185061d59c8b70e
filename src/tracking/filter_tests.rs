//! The filter grammar and its evaluation, without a server: what each string parses to, and
//! which values pass.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::filter::{Clause, EXPERIMENTS, Entity, Op, Operand, RUNS};
use super::search::{Field, Searchable, matches};

#[track_caller]
fn case(filter: &str, expected: &[(Entity, &str, Op, Operand)]) {
    let got = RUNS
        .filter(filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    let want: Vec<Clause> = expected
        .iter()
        .map(|(entity, key, op, value)| Clause {
            entity: *entity,
            key: (*key).to_string(),
            op: *op,
            value: value.clone(),
        })
        .collect();
    assert_eq!(got, want, "{filter}");
}

fn text(s: &str) -> Operand {
    Operand::Text(s.into())
}

#[test]
fn filters_parse_into_clauses() {
    use Entity::*;
    case("", &[]);
    case("   ", &[]);
    case(
        "metrics.acc > 0.9",
        &[(Metric, "acc", Op::Gt, Operand::Number(0.9))],
    );
    case(
        "metric.acc>=-1e-3",
        &[(Metric, "acc", Op::Ge, Operand::Number(-1e-3))],
    );
    case(
        "metrics.a.b <= .5",
        &[(Metric, "a.b", Op::Le, Operand::Number(0.5))],
    );
    case(
        "metrics.`f1 score` < 1",
        &[(Metric, "f1 score", Op::Lt, Operand::Number(1.0))],
    );
    case(
        "`metrics`.`loss/val` != 2",
        &[(Metric, "loss/val", Op::Ne, Operand::Number(2.0))],
    );
    case("params.C = '1.0'", &[(Param, "C", Op::Eq, text("1.0"))]);
    case(
        "param.\"my key\" = \"it''s\"",
        &[(Param, "my key", Op::Eq, text("it''s"))],
    );
    case(
        "parameters.x = 'it''s'",
        &[(Param, "x", Op::Eq, text("it's"))],
    );
    case("tags.x <> 'y'", &[(Tag, "x", Op::Ne, text("y"))]);
    case("tag.x like '%y'", &[(Tag, "x", Op::Like, text("%y"))]);
    case("tags.x ILIKE 'Y%'", &[(Tag, "x", Op::ILike, text("Y%"))]);
    case(
        "tags.x is null",
        &[(Tag, "x", Op::IsNull, Operand::Nothing)],
    );
    case(
        "params.x IS NOT NULL",
        &[(Param, "x", Op::IsNotNull, Operand::Nothing)],
    );
    case(
        "attributes.status = 'FINISHED'",
        &[(Attribute, "status", Op::Eq, text("FINISHED"))],
    );
    case(
        "attr.start_time > 5",
        &[(Attribute, "start_time", Op::Gt, Operand::Number(5.0))],
    );
    case(
        "run.end_time < 5",
        &[(Attribute, "end_time", Op::Lt, Operand::Number(5.0))],
    );
    case(
        "Created >= 5",
        &[(Attribute, "start_time", Op::Ge, Operand::Number(5.0))],
    );
    case(
        "run_id IN ('a', 'b')",
        &[(
            Attribute,
            "run_id",
            Op::In,
            Operand::List(vec!["a".into(), "b".into()]),
        )],
    );
    case(
        "attributes.run_id not in ('a')",
        &[(
            Attribute,
            "run_id",
            Op::NotIn,
            Operand::List(vec!["a".into()]),
        )],
    );
    case(
        "metrics.acc > 0.9 and params.C = '1.0' AND tags.x != 'y' and attributes.status = 'FINISHED'",
        &[
            (Metric, "acc", Op::Gt, Operand::Number(0.9)),
            (Param, "C", Op::Eq, text("1.0")),
            (Tag, "x", Op::Ne, text("y")),
            (Attribute, "status", Op::Eq, text("FINISHED")),
        ],
    );
}

#[test]
fn experiments_take_name_and_time_filters_only() {
    assert!(EXPERIMENTS.filter("name = 'iris'").is_ok());
    assert!(
        EXPERIMENTS
            .filter("name LIKE 'ir%' and creation_time > 1")
            .is_ok()
    );
    assert!(EXPERIMENTS.filter("tags.team = 'ml'").is_ok());
    for bad in ["params.C = '1'", "metrics.acc > 1", "status = 'x'"] {
        assert!(EXPERIMENTS.filter(bad).is_err(), "{bad}");
    }
    assert!(EXPERIMENTS.order("name DESC").is_ok());
    assert!(EXPERIMENTS.order("tags.team").is_err());
}

#[test]
fn orders_parse_a_column_and_a_direction() {
    let o = RUNS.order("metrics.`f1 score` DESC").unwrap();
    assert_eq!(
        (o.entity, o.key.as_str(), o.ascending),
        (Entity::Metric, "f1 score", false)
    );
    let o = RUNS.order("attributes.start_time").unwrap();
    assert_eq!(
        (o.entity, o.key.as_str(), o.ascending),
        (Entity::Attribute, "start_time", true)
    );
    let o = RUNS.order("params.C asc").unwrap();
    assert!(o.ascending);
    assert!(RUNS.order("metrics.acc DESC extra").is_err());
    assert!(RUNS.order("").is_err());
}

struct Row {
    metrics: BTreeMap<&'static str, f64>,
    text: BTreeMap<&'static str, &'static str>,
}

impl Searchable for Row {
    fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).copied()
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.text.get(key).copied()
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.text.get(key).copied()
    }

    fn attribute(&self, key: &str) -> Option<Field<'_>> {
        self.text.get(key).map(|v| Field::Text(Cow::Borrowed(*v)))
    }
}

#[test]
fn like_matches_as_sql_and_nan_compares_only_unequal() {
    let row = |name: &'static str, acc: f64| Row {
        metrics: BTreeMap::from([("acc", acc)]),
        text: BTreeMap::from([("run_name", name)]),
    };
    let passes = |filter: &str, r: &Row| matches(&RUNS.filter(filter).unwrap(), r);
    let r = row("svm_rbf-2", 0.5);
    for (pattern, want) in [
        ("svm%", true),
        ("%rbf%", true),
        ("svm_rbf-2", true),
        ("svm", false),
        ("s_m%2", true),
        ("%2%", true),
        ("%-", false),
        ("%", true),
        ("SVM%", false),
    ] {
        let filter = format!("run_name LIKE '{pattern}'");
        assert_eq!(passes(&filter, &r), want, "{pattern}");
    }
    assert!(passes("run_name ILIKE 'SVM%'", &r));
    let nan = row("x", f64::NAN);
    assert!(!passes("metrics.acc > 0", &nan));
    assert!(!passes("metrics.acc = 0", &nan));
    assert!(passes("metrics.acc != 0", &nan));
    // A missing metric passes no comparison, not even `!=`.
    assert!(!passes("metrics.loss != 0", &r));
}
