//! Graphviz (DOT) drawings of a workflow's tokens, for `ect dag --format dot` and
//! `ect ledger show --format dot`.
//!
//! [`workflow_dot`] draws one node per token, labelled with its `exec_act` and the first eight
//! characters of its `jti`, and one edge from each parent to its child (the direction work
//! flows). Rejected tokens are drawn red and dashed with their error code; parents that some
//! token names but that are not among the nodes are drawn as grey, dashed "missing" nodes.
//!
//! Labels come from token claims, which an attacker controls (a rejected token's claims were
//! not even verified): every label is escaped ([`escape_label`]) so that no claim can end the
//! quoted string, add attributes or statements, or use Graphviz's `\N`-style label escapes.
//!
//! The output is deterministic: nodes in input order (`t0`, `t1`, ...), missing parents in
//! order of first mention (`m0`, `m1`, ...), edges by child and then in `par` order
//! (`tests::a_root_and_its_child` shows the output).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Whether a token was accepted, or rejected with an error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Accepted (or read from a ledger, which holds only accepted tokens).
    Accepted,
    /// Rejected with this error code (e.g. `dag.duplicate_jti`).
    Rejected(String),
}

/// One token to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotNode {
    /// The token's `jti`; `None` when a rejected token could not be read at all.
    pub jti: Option<String>,
    /// The token's `wid`: parents are looked up among nodes with the same `wid` (the scope of
    /// SPEC.md §7).
    pub wid: Option<String>,
    /// The token's `exec_act`; `None` when it could not be read.
    pub exec_act: Option<String>,
    /// The token's `par`.
    pub par: Vec<String>,
    /// Accepted or rejected.
    pub status: NodeStatus,
}

impl DotNode {
    /// An accepted token (the tests' shorthand).
    #[cfg(test)]
    pub fn accepted(jti: &str, wid: Option<&str>, exec_act: &str, par: &[&str]) -> Self {
        DotNode {
            jti: Some(jti.to_owned()),
            wid: wid.map(str::to_owned),
            exec_act: Some(exec_act.to_owned()),
            par: par.iter().map(|&p| p.to_owned()).collect(),
            status: NodeStatus::Accepted,
        }
    }
}

/// How many characters of a `jti` a label shows.
pub const JTI_PREFIX_CHARS: usize = 8;

/// Draws `nodes` as a Graphviz digraph named `workflow` (see the module documentation).
///
/// A parent reference resolves, in the child's `wid` scope, to the first accepted node with
/// that `jti`, else to the first rejected one (so a child of a refused token points at it),
/// else to a missing node. A node that repeats an earlier `jti` (a refused duplicate) is drawn
/// on its own. Repeated `par` elements give one edge.
pub fn workflow_dot(nodes: &[DotNode]) -> String {
    type Scope<'a> = (Option<&'a str>, &'a str);
    // (wid, jti) -> index of the node parents resolve to.
    let mut target: HashMap<Scope<'_>, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        let Some(jti) = n.jti.as_deref() else {
            continue;
        };
        let key = (n.wid.as_deref(), jti);
        match target.get(&key) {
            None => {
                target.insert(key, i);
            }
            Some(&j)
                if nodes[j].status != NodeStatus::Accepted && n.status == NodeStatus::Accepted =>
            {
                target.insert(key, i);
            }
            Some(_) => {}
        }
    }

    let mut out = String::from("digraph workflow {\n");
    out.push_str("  rankdir=TB;\n");
    out.push_str("  node [shape=box, fontname=\"Helvetica\"];\n");

    for (i, n) in nodes.iter().enumerate() {
        let mut label = match &n.exec_act {
            Some(act) => escape_label(act),
            None => "(unreadable token)".to_owned(),
        };
        if let Some(jti) = &n.jti {
            label.push_str("\\n");
            label.push_str(&escape_label(&jti_prefix(jti)));
        }
        match &n.status {
            NodeStatus::Accepted => {
                let _ = writeln!(out, "  t{i} [label=\"{label}\"];");
            }
            NodeStatus::Rejected(code) => {
                let _ = writeln!(
                    out,
                    "  t{i} [label=\"{label}\\nrejected: {}\", color=red, fontcolor=red, style=dashed];",
                    escape_label(code)
                );
            }
        }
    }

    // Missing parents, in order of first mention, then every edge.
    let mut missing: HashMap<Scope<'_>, usize> = HashMap::new();
    let mut missing_order: Vec<Scope<'_>> = Vec::new();
    let mut edges: Vec<(String, usize, bool)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let mut seen: HashSet<&str> = HashSet::new();
        for p in &n.par {
            if !seen.insert(p) {
                continue;
            }
            let key = (n.wid.as_deref(), p.as_str());
            let from = match target.get(&key) {
                Some(&j) => format!("t{j}"),
                None => {
                    let next = missing_order.len();
                    let m = *missing.entry(key).or_insert_with(|| {
                        missing_order.push(key);
                        next
                    });
                    format!("m{m}")
                }
            };
            let from_missing = !target.contains_key(&key);
            edges.push((from, i, from_missing));
        }
    }
    for (m, (_, jti)) in missing_order.iter().enumerate() {
        let _ = writeln!(
            out,
            "  m{m} [label=\"missing\\n{}\", color=grey, fontcolor=grey, style=dashed];",
            escape_label(&jti_prefix(jti))
        );
    }
    for (from, to, from_missing) in edges {
        let rejected = nodes[to].status != NodeStatus::Accepted;
        let style = match (from_missing, rejected) {
            (true, _) => " [color=grey, style=dashed]",
            (false, true) => " [color=red, style=dashed]",
            (false, false) => "",
        };
        let _ = writeln!(out, "  {from} -> t{to}{style};");
    }
    out.push_str("}\n");
    out
}

/// The first [`JTI_PREFIX_CHARS`] characters of a `jti` (characters, not bytes: a rejected
/// token's `jti` may be any text).
pub fn jti_prefix(jti: &str) -> String {
    jti.chars().take(JTI_PREFIX_CHARS).collect()
}

/// Escapes text for use inside a double-quoted DOT label.
///
/// `"` becomes `\"` and `\` becomes `\\` (so no Graphviz escape such as `\N`, `\G` or `\l`
/// can be formed from the text), a line feed becomes the label line break `\n`, and every
/// other control character (including carriage return, which Graphviz would otherwise treat
/// as a line end) becomes U+FFFD.
pub fn escape_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_and_its_child() {
        let root = DotNode::accepted("6ba7b810-9dad-11d1-80b4-00c04fd430c8", None, "fetch", &[]);
        let child = DotNode::accepted(
            "9a4d2f81-3c6e-4b7d-8e1a-6f5c0d3b2a97",
            None,
            "score",
            &["6ba7b810-9dad-11d1-80b4-00c04fd430c8"],
        );
        let dot = workflow_dot(&[root, child]);
        assert!(dot.starts_with("digraph workflow {\n"));
        assert!(dot.contains("  t0 [label=\"fetch\\n6ba7b810\"];\n"));
        assert!(dot.contains("  t0 -> t1;\n"));
    }

    #[test]
    fn escapes_quotes_backslashes_newlines_and_controls() {
        assert_eq!(escape_label("plain"), "plain");
        assert_eq!(escape_label(r#"a"b"#), r#"a\"b"#);
        assert_eq!(escape_label(r"a\b"), r"a\\b");
        assert_eq!(escape_label("a\\"), "a\\\\");
        assert_eq!(escape_label("a\nb"), "a\\nb");
        assert_eq!(escape_label("a\r\tb\u{0}"), "a\u{FFFD}\u{FFFD}b\u{FFFD}");
        assert_eq!(escape_label(r#"\"];x"#), r#"\\\"];x"#);
        assert_eq!(escape_label("é日本"), "é日本");
    }

    #[test]
    fn jti_prefix_counts_characters() {
        assert_eq!(jti_prefix("6ba7b810-9dad"), "6ba7b810");
        assert_eq!(jti_prefix("short"), "short");
        assert_eq!(jti_prefix("ééééééééé"), "éééééééé");
    }

    #[test]
    fn empty_graph() {
        assert_eq!(
            workflow_dot(&[]),
            "digraph workflow {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n}\n"
        );
    }

    #[test]
    fn rejected_duplicates_missing_and_scopes() {
        let a = "aaaaaaaa-0000-4000-8000-000000000000";
        let b = "bbbbbbbb-0000-4000-8000-000000000000";
        let gone = "cccccccc-0000-4000-8000-000000000000";
        let mut dup = DotNode::accepted(a, None, "again", &[]);
        dup.status = NodeStatus::Rejected("dag.duplicate_jti".into());
        let mut unreadable = DotNode::accepted("", None, "", &[]);
        unreadable.jti = None;
        unreadable.exec_act = None;
        unreadable.status = NodeStatus::Rejected("jws.malformed".into());
        let nodes = [
            DotNode::accepted(a, None, "root", &[]),
            dup,
            // Parent `a` twice (one edge), and a missing parent.
            DotNode::accepted(b, None, "child", &[a, a, gone]),
            // Another scope: `a` is missing there, and `gone` is a second missing node.
            DotNode::accepted(b, Some("w"), "other", &[a, gone]),
            unreadable,
        ];
        assert_eq!(
            workflow_dot(&nodes),
            "digraph workflow {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n\
             \x20 t0 [label=\"root\\naaaaaaaa\"];\n\
             \x20 t1 [label=\"again\\naaaaaaaa\\nrejected: dag.duplicate_jti\", color=red, fontcolor=red, style=dashed];\n\
             \x20 t2 [label=\"child\\nbbbbbbbb\"];\n\
             \x20 t3 [label=\"other\\nbbbbbbbb\"];\n\
             \x20 t4 [label=\"(unreadable token)\\nrejected: jws.malformed\", color=red, fontcolor=red, style=dashed];\n\
             \x20 m0 [label=\"missing\\ncccccccc\", color=grey, fontcolor=grey, style=dashed];\n\
             \x20 m1 [label=\"missing\\naaaaaaaa\", color=grey, fontcolor=grey, style=dashed];\n\
             \x20 m2 [label=\"missing\\ncccccccc\", color=grey, fontcolor=grey, style=dashed];\n\
             \x20 t0 -> t2;\n\
             \x20 m0 -> t2 [color=grey, style=dashed];\n\
             \x20 m1 -> t3 [color=grey, style=dashed];\n\
             \x20 m2 -> t3 [color=grey, style=dashed];\n\
             }\n"
        );
    }

    #[test]
    fn parents_resolve_to_an_accepted_node_first() {
        let a = "aaaaaaaa-0000-4000-8000-000000000000";
        let b = "bbbbbbbb-0000-4000-8000-000000000000";
        let mut refused = DotNode::accepted(a, None, "first try", &[]);
        refused.status = NodeStatus::Rejected("time.expired".into());
        let mut child = DotNode::accepted(b, None, "child", &[a]);
        child.status = NodeStatus::Rejected("dag.parent_policy".into());
        let nodes = [
            refused,
            DotNode::accepted(a, None, "second try", &[]),
            child,
        ];
        let dot = workflow_dot(&nodes);
        assert!(
            dot.contains("  t1 -> t2 [color=red, style=dashed];\n"),
            "{dot}"
        );
        assert_eq!(dot.matches(" -> ").count(), 1);
        // Only the first of two rejected nodes is a target when none is accepted.
        let dot = workflow_dot(&[
            nodes[0].clone(),
            nodes[0].clone(),
            DotNode::accepted(b, None, "child", &[a]),
        ]);
        assert!(dot.contains("  t0 -> t2;\n"), "{dot}");
        assert_eq!(dot.matches(" -> ").count(), 1);
    }
}
