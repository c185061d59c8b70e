//! Python's text of numbers, as DVC prints them (`str(float)`), shared by the YAML reader
//! (float mapping keys) and params values.

/// Python's `str(float)`: the shortest text that reads back to the same float, in scientific
/// notation when the exponent is below -4 or at least 16 (`1e-05`, `1e+16`, `0.1`, `2.0`).
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "1.5e-7", "1e16", "0e0".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..16).contains(&exp) {
        let mantissa = mantissa.trim_end_matches(".0");
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let plain = format!("{f}");
    if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(f: f64, expected: &str) {
        assert_eq!(python_float(f), expected);
    }

    #[test]
    fn floats_print_as_python_does() {
        case(0.1, "0.1");
        case(1.0, "1.0");
        case(-2.5, "-2.5");
        case(0.0, "0.0");
        case(1e-5, "1e-05");
        case(0.0001, "0.0001");
        case(1.5e-7, "1.5e-07");
        case(1e16, "1e+16");
        case(1234567890123456.0, "1234567890123456.0");
        case(123456789.123, "123456789.123");
        case(f64::INFINITY, "inf");
    }
}
