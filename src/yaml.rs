//! YAML reading shared by the scenario and object readers: a parser budget that grows with
//! the input (a 5,000-node cluster's `kubectl get endpointslices -A -o yaml` is ~300 MB and
//! millions of nodes), while nesting, aliases and anchors stay bounded (billion laughs, deep
//! nesting), and parser messages in our own words.

use serde_saphyr::{Budget, Options};

/// The deepest nesting accepted (serde-saphyr's default): objects are never deeper than ~10.
pub const MAX_DEPTH: usize = 64;

/// Parser options for an input of `len` bytes: node, event and scalar budgets proportional to
/// the input (a YAML node takes at least 2 bytes, and 2 events at most), never below serde-saphyr's defaults; the
/// alias, anchor and depth limits are the defaults, which is what stops YAML bombs.
pub fn options(len: usize) -> Options {
    let mut budget = Budget::default();
    budget.max_reader_input_bytes = None;
    budget.max_events = budget.max_events.max(len);
    budget.max_nodes = budget.max_nodes.max(len / 2);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    budget.max_documents = budget.max_documents.max(len / 4);
    budget.max_depth = MAX_DEPTH;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options
}

/// serde-saphyr's message rewritten for a user: its first line, without the position (printed
/// in front) and without advice addressed to programmers.
pub fn message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.split(" at line ").next().unwrap_or(first).trim();
    if let Some(rest) = first.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("the key `{key}` appears twice in one mapping");
    }
    if first.starts_with("multiple YAML documents detected") {
        return "expected one YAML document, found several (separated by `---`)".into();
    }
    if let Some(rest) = first.strip_prefix("budget breached: ") {
        let what = rest.split([' ', '{']).next().unwrap_or(rest);
        return match what {
            "Depth" => format!("nested more than {MAX_DEPTH} levels deep"),
            "Aliases" | "AliasAnchorRatio" | "RecordedAnchorEvents" | "RecordedAnchorBytes" => {
                "too many aliases (`*name`) for its anchors: refused as a YAML bomb".into()
            }
            // The budgets grow with the input, so only aliases can pass them.
            "Events" | "Nodes" | "ScalarBytes" => {
                "expands (through aliases, `*name`) to far more than the file holds: refused \
                 as a YAML bomb"
                    .into()
            }
            "Anchors" => "too many anchors (`&name`)".into(),
            "Documents" => "too many YAML documents".into(),
            "MergeKeys" => "too many merge keys (`<<`)".into(),
            _ => "too large for the YAML reader's limits".into(),
        };
    }
    first.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<serde_json::Value, String> {
        serde_saphyr::from_str_with_options(text, options(text.len())).map_err(|e| message(&e))
    }

    #[test]
    fn large_inputs_pass_and_bombs_do_not() {
        // 400,000 nodes: over serde-saphyr's default of 250,000.
        let big = "- a\n".repeat(400_000);
        assert!(parse(&big).is_ok());
        let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
        assert_eq!(parse(&deep), Err("nested more than 64 levels deep".into()));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let (prev, next) = (char::from(b'a' + i), char::from(b'a' + i + 1));
            bomb += &format!(
                "{next}: &{next} [{}]\n",
                vec![format!("*{prev}"); 10].join(", ")
            );
        }
        let err = parse(&bomb).unwrap_err();
        assert!(err.contains("YAML bomb"), "{err}");
    }

    #[test]
    fn messages_are_ours() {
        assert_eq!(
            parse("a: 1\na: 2\n"),
            Err("the key `a` appears twice in one mapping".into())
        );
    }
}
