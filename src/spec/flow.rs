//! Flow collections (`[...]`, `{...}`) found in YAML text by a light scan, for the errors the
//! parser words poorly: a `[` never closed is reported where the parser gave up (often the next
//! key's `:`), and `${x}` inside `[...]` breaks on its braces, which are flow indicators.

/// A `[` or `{` that opens a flow collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Open {
    /// `[` or `{`.
    pub(crate) bracket: char,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in chars.
    pub(crate) col: usize,
}

/// The innermost flow collection still open at `line`:`col` (1-based) when the parser failed
/// there, if it was opened on an earlier line whose indentation is at least that of the failing
/// line: then the failing line is a new key or item, and the collection was never closed. Inside
/// a collection spread over lines the failure is the parser's to place.
pub(crate) fn unclosed(text: &str, line: usize, col: usize) -> Option<Open> {
    let failing = text.lines().nth(line.checked_sub(1)?)?;
    let open = *scan(text, line, col).last()?;
    let opened = text.lines().nth(open.line - 1)?;
    (open.line < line && indent(failing) <= indent(opened)).then_some(open)
}

/// The value holding `${` inside a flow collection on `line` (1-based), if there is one: the
/// collection's bracket and the item as written (`a${item}.txt`), which must be quoted there.
pub(crate) fn interpolation_in_flow(text: &str, line: usize) -> Option<(char, String)> {
    let body = text.lines().nth(line.checked_sub(1)?)?;
    let at = body.find("${")?;
    let end_col = body[..at].chars().count() + 1;
    let bracket = scan(text, line, end_col).last()?.bracket;
    // The value runs from after the `[`, `{`, `,` or `: ` before it to the `,`, `]` or `}`
    // after its last `}` (braces of `${}` nest).
    let start = [
        body[..at].rfind(['[', '{', ',']).map(|i| i + 1),
        body[..at].rfind(": ").map(|i| i + 1),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    let mut depth = 0usize;
    let mut end = body.len();
    for (i, c) in body[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            ',' | ']' | '}' if depth == 0 => {
                end = start + i;
                break;
            }
            _ => {}
        }
    }
    let item = body[start..end].trim();
    (!item.is_empty()).then(|| (bracket, item.to_string()))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The flow collections open just before `line`:`col`, outermost first. Brackets count only
/// where YAML reads them as indicators: at the start of a value or inside a flow collection, not
/// in quotes, comments, block scalars or the middle of a plain scalar (`echo a[1]`).
fn scan(text: &str, line: usize, col: usize) -> Vec<Open> {
    let mut stack: Vec<Open> = Vec::new();
    let mut quote: Option<char> = None;
    let mut block: Option<usize> = None;
    for (n, body) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if n > line {
            break;
        }
        if let Some(parent) = block {
            if body.trim().is_empty() || indent(body) > parent {
                continue;
            }
            block = None;
        }
        let mut start = quote.is_none();
        let mut prev = ' ';
        let len = body.chars().count();
        let mut chars = body.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            if n == line && i + 1 >= col {
                break;
            }
            let next = chars.peek().map_or(' ', |&(_, c)| c);
            if let Some(q) = quote {
                match c {
                    '\\' if q == '"' => {
                        chars.next();
                    }
                    '\'' if q == '\'' && next == '\'' => {
                        chars.next();
                    }
                    _ if c == q => {
                        quote = None;
                        start = false;
                    }
                    _ => {}
                }
                prev = c;
                continue;
            }
            let flow = !stack.is_empty();
            match c {
                ' ' | '\t' => {}
                '#' if start || prev == ' ' || prev == '\t' => break,
                '\'' | '"' if start => quote = Some(c),
                '[' | '{' if start || flow => {
                    stack.push(Open {
                        bracket: c,
                        line: n,
                        col: i + 1,
                    });
                    start = true;
                }
                ']' | '}' if flow => {
                    stack.pop();
                    start = false;
                }
                ',' if flow => start = true,
                '|' | '>' if start && !flow => {
                    block = Some(indent(body));
                    break;
                }
                '-' | '?' if start && matches!(next, ' ' | '\t') => {}
                ':' if matches!(next, ' ' | '\t')
                    || i + 1 == len
                    || (flow && matches!(next, ',' | ']' | '}')) =>
                {
                    start = true;
                }
                _ => start = false,
            }
            prev = c;
        }
    }
    stack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(text: &str, at: (usize, usize), expected: Option<(usize, usize)>) {
        let found = unclosed(text, at.0, at.1).map(|o| (o.line, o.col));
        assert_eq!(found, expected, "{text:?}");
    }

    #[test]
    fn an_unclosed_bracket_is_found_where_it_opens() {
        case("lr: 1\nxs: [1, 2\ny: 3\n", (3, 2), Some((2, 5)));
        case("a:\n  xs: {k: 1\n  y: 2\n", (3, 4), Some((2, 7)));
        case("xs: [1, [2, 3\ny: 1\n", (2, 2), Some((1, 9)));
        case("- [a, b\n- c\n", (2, 1), Some((1, 3)));
    }

    #[test]
    fn brackets_that_are_not_indicators_are_ignored() {
        // Inside a plain scalar, quotes, comments and block scalars.
        case("cmd: echo a[1\ny: :\n", (2, 4), None);
        case("cmd: 'a [b'\ny: :\n", (2, 4), None);
        case("cmd: it's [\ny: :\n", (2, 4), None);
        case("cmd: x # [\ny: :\n", (2, 4), None);
        case("cmd: |\n  echo [\ny: :\n", (3, 4), None);
        // A list spread over lines, failing inside: the parser's place stands.
        case("xs: [1,\n  2: 3: 4]\n", (2, 6), None);
        // Closed on an earlier line.
        case("xs: [1,\n  2]\ny: :\n", (3, 4), None);
    }

    #[test]
    fn interpolation_inside_a_flow_list() {
        let text = "stages:\n  a:\n    outs: [a${item}.txt, b]\n    cmd: echo ${x}\n";
        let found = |text: &str, line| interpolation_in_flow(text, line);
        assert_eq!(found(text, 3), Some(('[', "a${item}.txt".into())));
        assert_eq!(found(text, 4), None);
        assert_eq!(
            found("deps: [x, ${a.b}/c]\n", 1),
            Some(('[', "${a.b}/c".into()))
        );
        assert_eq!(found("env: {A: x${a}}\n", 1), Some(('{', "x${a}".into())));
    }
}
