//! Readable names for experiments (`brave-lynx`), as DVC gives them: an adjective and an animal,
//! chosen by the run's id, so names are stable and rarely clash.

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "azure", "bold", "brave", "brisk", "calm", "clever", "crisp", "dapper",
    "eager", "early", "fancy", "fleet", "fuzzy", "gentle", "glad", "grand", "happy", "hardy",
    "jolly", "keen", "kind", "lively", "lucky", "merry", "mellow", "nimble", "noble", "plucky",
    "proud", "quick", "quiet", "rapid", "ruddy", "sandy", "shiny", "sleek", "snowy", "solid",
    "sunny", "swift", "tidy", "vivid", "warm", "wiry", "witty", "zesty",
];

const ANIMALS: &[&str] = &[
    "auk", "badger", "bison", "crane", "dingo", "eagle", "egret", "ferret", "finch", "gecko",
    "gibbon", "heron", "hyena", "ibis", "impala", "jackal", "koala", "lemur", "lynx", "marten",
    "mink", "moose", "newt", "ocelot", "okapi", "orca", "otter", "panda", "puffin", "quail",
    "raven", "robin", "sable", "seal", "shrew", "skink", "sloth", "stoat", "swan", "tapir", "tern",
    "toad", "trout", "vole", "walrus", "wombat", "wren", "yak",
];

/// The name of run `id` (hex); `attempt` > 0 gives another one after a clash.
pub(super) fn readable(id: &str, attempt: u32) -> String {
    let n = u64::from_str_radix(id.get(..12).unwrap_or(id), 16).unwrap_or(0);
    let pairs = (ADJECTIVES.len() * ANIMALS.len()) as u64;
    let pick = (n.wrapping_add(u64::from(attempt))) % pairs;
    let adjective = ADJECTIVES[(pick / ANIMALS.len() as u64) as usize];
    let animal = ANIMALS[(pick % ANIMALS.len() as u64) as usize];
    if u64::from(attempt) < pairs {
        format!("{adjective}-{animal}")
    } else {
        format!("{adjective}-{animal}-{attempt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_a_clash_gives_another() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(readable(id, 0), readable(id, 0));
        assert_ne!(readable(id, 0), readable(id, 1));
        assert!(readable(id, 0).contains('-'));
    }
}
