//! The last lines each stage printed during a run, kept for the run store: a subscriber to the
//! run's events, bounded so that a chatty stage costs little.

use std::collections::{BTreeMap, VecDeque};

use tokio::sync::mpsc;

use crate::exec::Event;

/// Lines kept per stage.
const LINES: usize = 200;

/// Characters kept per line.
const WIDTH: usize = 1000;

/// Collects until the run finishes (or every sender is gone); the tail of each stage that
/// printed, as text.
pub(super) async fn collect(mut rx: mpsc::UnboundedReceiver<Event>) -> BTreeMap<String, String> {
    let mut tails: BTreeMap<String, VecDeque<String>> = BTreeMap::new();
    while let Some(event) = rx.recv().await {
        match event {
            Event::Output { stage, line, .. } => {
                let tail = tails.entry(stage).or_default();
                if tail.len() == LINES {
                    tail.pop_front();
                }
                tail.push_back(line.chars().take(WIDTH).collect());
            }
            Event::RunFinished => break,
            _ => {}
        }
    }
    tails
        .into_iter()
        .map(|(stage, lines)| {
            let mut text = lines.into_iter().collect::<Vec<_>>().join("\n");
            text.push('\n');
            (stage, text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Events;

    #[test]
    fn only_the_last_lines_of_each_stage_are_kept() {
        let runtime = crate::exec::runtime().unwrap();
        let mut events = Events::none();
        let rx = events.subscribe();
        for i in 0..LINES + 5 {
            events.send(Event::Output {
                stage: "a".into(),
                line: format!("line {i}"),
                stderr: false,
            });
        }
        events.send(Event::Output {
            stage: "b".into(),
            line: "x".repeat(WIDTH + 10),
            stderr: true,
        });
        events.send(Event::RunFinished);
        let tails = runtime.block_on(collect(rx));
        let a: Vec<&str> = tails["a"].lines().collect();
        assert_eq!(a.len(), LINES);
        assert_eq!(
            (a[0], a[LINES - 1]),
            ("line 5", &*format!("line {}", LINES + 4))
        );
        assert_eq!(tails["b"].trim_end().len(), WIDTH);
    }
}
