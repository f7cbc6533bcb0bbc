//! The order in which libseccomp tries the conditional rules of one syscall.
//!
//! libseccomp does not keep profile order. It turns each rule into a chain of comparisons on
//! 32-bit argument halves (arguments by ascending index, the high half first on 64-bit ABIs),
//! merges the chains into a tree, and keeps the nodes of each tree level sorted, the "greatest"
//! first (db.c, `_db_chain_lt`): higher argument (and high half before low half), then
//! EQ/NE/MASKED_EQ before LT/LE before GT/GE, then larger values first (smaller first for
//! LT/LE); nodes that tie keep the order they were added in. The BPF tries the nodes of a level
//! in that order, and a rule whose chain is a prefix of another one's wins over it (the shorter
//! rule replaces the subtree). Sorting the rules by their chains with that order and taking the
//! first match gives the same decisions, which the tests check against libseccomp's programs.
//!
//! Not modelled: when the high halves of an argument differ, libseccomp decides some merged
//! NE/range rules at the shared high-half node by the rule added first; and libseccomp 2.5.4
//! merges some GE/LT combinations into a tree that returns the action of a rule that does not
//! match. husk evaluates every rule exactly, so it can only differ by picking another rule that
//! does match.

use std::cmp::Ordering;

use super::profile::{Cmp, Rule};

/// The comparison libseccomp keeps in a tree node for one half of an argument: LT/LE/NE are
/// stored as GE/GT/EQ with the branches swapped, and a 64-bit GT/LE compares the high half
/// with GE (`_db_rule_gen_64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// One comparison of a chain: a half of an argument.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// `(index << 1) | high`, libseccomp's argument priority.
    arg: u32,
    /// 3 for EQ/NE/MASKED_EQ, 2 for LT/LE, 1 for GT/GE (of the rule's own operator).
    prio: u32,
    /// The value, inverted for LT/LE so that "greater first" puts small values first.
    key: u32,
    op: Op,
    mask: u32,
    datum: u32,
    /// NE, LT and LE take the node's false branch.
    inverted: bool,
}

impl PartialEq for Node {
    /// `_db_chain_eq`: equal nodes are merged into one, whatever the rules' operators were.
    fn eq(&self, other: &Self) -> bool {
        (self.arg, self.op, self.datum, self.mask) == (other.arg, other.op, other.datum, other.mask)
    }
}

fn chain(rule: &Rule, wide: bool) -> Vec<Node> {
    let mut conds = rule.conds.clone();
    conds.sort_by_key(|c| c.index);
    let halves: &[bool] = if wide { &[true, false] } else { &[false] };
    let mut out = Vec::with_capacity(conds.len() * halves.len());
    for c in conds {
        for &high in halves {
            let half = |v: u64| if high { (v >> 32) as u32 } else { v as u32 };
            let (mask, datum) = match c.cmp {
                Cmp::MaskedEq => (half(c.value), half(c.value_two)),
                _ => (u32::MAX, half(c.value)),
            };
            let (prio, key) = match c.cmp {
                Cmp::Eq | Cmp::Ne | Cmp::MaskedEq => (3, datum),
                Cmp::Le | Cmp::Lt => (2, u32::MAX - datum),
                Cmp::Ge | Cmp::Gt => (1, datum),
            };
            let op = match c.cmp {
                Cmp::Eq | Cmp::Ne => Op::Eq,
                Cmp::MaskedEq => Op::MaskedEq,
                Cmp::Ge | Cmp::Lt => Op::Ge,
                Cmp::Gt | Cmp::Le if high => Op::Ge,
                Cmp::Gt | Cmp::Le => Op::Gt,
            };
            out.push(Node {
                arg: (u32::from(c.index) << 1) | u32::from(high),
                prio,
                key,
                op,
                mask,
                datum,
                inverted: matches!(c.cmp, Cmp::Ne | Cmp::Lt | Cmp::Le),
            });
        }
    }
    out
}

/// `Less` = tried first. `Equal` for ties, which a stable sort leaves in profile order.
fn compare(a: &[Node], b: &[Node]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x == y {
            continue; // a shared node: the rules part further down the tree
        }
        return (y.arg, y.prio, y.key).cmp(&(x.arg, x.prio, x.key));
    }
    // One chain is a prefix of the other: the shorter rule wins.
    a.len().cmp(&b.len())
}

/// The same comparisons with the same outcome: a duplicate rule, or a conflict.
fn same_conditions(a: &[Node], b: &[Node]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y && x.inverted == y.inverted)
}

/// Put `rules` in libseccomp's order and drop exact duplicates. `Err((i, j))` names the
/// entries of two rules that libseccomp refuses together (EEXIST): the same conditions with
/// different actions, or a later rule whose conditions start an earlier one's.
pub(crate) fn libseccomp_order(rules: &mut Vec<Rule>, wide: bool) -> Result<(), (usize, usize)> {
    let mut keyed: Vec<(Vec<Node>, Rule)> = rules.drain(..).map(|r| (chain(&r, wide), r)).collect();
    // libseccomp also refuses (EEXIST) a rule added after a longer one that starts with the
    // same comparisons, when the actions differ (the other way round it drops the longer one).
    for (j, (later, rule)) in keyed.iter().enumerate() {
        for (earlier, first) in &keyed[..j] {
            if later.len() < earlier.len()
                && same_conditions(later, &earlier[..later.len()])
                && first.action != rule.action
            {
                return Err((first.entry, rule.entry));
            }
        }
    }
    keyed.sort_by(|a, b| compare(&a.0, &b.0));
    let mut out: Vec<(Vec<Node>, Rule)> = Vec::with_capacity(keyed.len());
    for (nodes, rule) in keyed {
        if let Some((_, first)) = out.iter().find(|(n, _)| same_conditions(n, &nodes)) {
            if first.action != rule.action {
                let (i, j) = (first.entry, rule.entry);
                return Err((i.min(j), i.max(j)));
            }
            continue;
        }
        out.push((nodes, rule));
    }
    rules.extend(out.into_iter().map(|(_, r)| r));
    Ok(())
}
