//! Merging two versions of one entity: per-field last-writer-wins by hybrid logical clock,
//! deletion wins. The merge is commutative, associative and idempotent, so replicas that saw
//! the same changes in any order, any number of times, hold the same state.

use crate::error::{Error, Result};
use crate::sync::wire::Entity;

/// Whether two entities are versions of one: same id, kind, author, walk and creation.
pub fn same_identity(a: &Entity, b: &Entity) -> bool {
    a.id == b.id
        && a.kind == b.kind
        && a.author_id == b.author_id
        && a.walk_id == b.walk_id
        && a.created_ms == b.created_ms
        && a.created_offset_s == b.created_offset_s
}

/// Merges `b` into `a`. Both must be versions of the same entity ([`same_identity`]), or the
/// merge is refused.
///
/// Equal clocks with different values never come from honest replicas (a clock names one
/// change of one device; the team server refuses a second value under a clock it holds, see
/// `docs/sync-protocol.md`); should they meet anyway, the value whose JSON text sorts higher
/// is kept, so the merge stays deterministic.
pub fn merge(a: &Entity, b: &Entity) -> Result<Entity> {
    if !same_identity(a, b) {
        return Err(Error::invalid("entity", "identity fields differ between versions"));
    }
    let mut out = Entity {
        kind: a.kind,
        id: a.id.clone(),
        walk_id: a.walk_id.clone(),
        author_id: a.author_id.clone(),
        created_ms: a.created_ms,
        created_offset_s: a.created_offset_s,
        sensitive: a.sensitive || b.sensitive,
        deleted: a.deleted || b.deleted,
        hlc: a.hlc.max(b.hlc),
        fields: Default::default(),
        clocks: Default::default(),
    };
    if out.deleted {
        return Ok(out);
    }
    let names: std::collections::BTreeSet<&String> = a.fields.keys().chain(b.fields.keys()).collect();
    for name in names {
        let (ca, cb) = (a.clock(name), b.clock(name));
        let (va, vb) = (a.fields.get(name), b.fields.get(name));
        let pick_b = match cb.cmp(&ca) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            // Equal clocks: the same change, or a field one side lacks; pick deterministically.
            std::cmp::Ordering::Equal => match (va, vb) {
                (None, Some(_)) => true,
                (Some(x), Some(y)) => canonical(y) > canonical(x),
                _ => false,
            },
        };
        let (v, c) = if pick_b { (vb, cb) } else { (va, ca) };
        if let Some(v) = v {
            out.fields.insert(name.clone(), v.clone());
        }
        if c != crate::hlc::Hlc::ZERO {
            out.clocks.insert(name.clone(), c);
        }
    }
    Ok(out)
}

/// A value's JSON text, to break ties deterministically.
fn canonical(v: &serde_json::Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::sync::wire::EntityKind;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn entity(fields: &[(&str, i64, u64)], deleted: bool) -> Entity {
        let mut e = Entity {
            kind: EntityKind::Observation,
            id: "r".into(),
            walk_id: Some("w".into()),
            author_id: "a".into(),
            created_ms: 1,
            created_offset_s: 0,
            sensitive: false,
            deleted,
            hlc: Hlc::ZERO,
            fields: BTreeMap::new(),
            clocks: BTreeMap::new(),
        };
        for (name, value, clock) in fields {
            e.hlc = e.hlc.max(Hlc { wall_ms: *clock, counter: 0, node: *clock % 3 });
            e.fields.insert(name.to_string(), serde_json::json!(value));
            if *clock > 0 {
                e.clocks.insert(name.to_string(), Hlc { wall_ms: *clock, counter: 0, node: *clock % 3 });
            }
        }
        e
    }

    fn arb_entity() -> impl Strategy<Value = Entity> {
        (
            prop::collection::vec(
                (prop::sample::select(vec!["note", "tone", "themes", "review_status"]), 0i64..4, 0u64..6),
                0..5,
            ),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(fs, del)| {
                let fs: Vec<(&str, i64, u64)> = fs.into_iter().map(|(n, v, c)| (n, v + c as i64 * 10, c)).collect();
                entity(&fs, del)
            })
    }

    #[test]
    fn newer_field_wins_and_others_are_kept() {
        let a = entity(&[("note", 1, 5), ("tone", 1, 0)], false);
        let b = entity(&[("note", 2, 3), ("tone", 2, 7)], false);
        let m = merge(&a, &b).unwrap();
        assert_eq!(m.fields["note"], serde_json::json!(1));
        assert_eq!(m.fields["tone"], serde_json::json!(2));
    }

    #[test]
    fn deletion_wins_and_erases() {
        let a = entity(&[("note", 1, 9)], false);
        let b = entity(&[], true);
        let m = merge(&a, &b).unwrap();
        assert!(m.deleted && m.fields.is_empty());
    }

    proptest! {
        #[test]
        fn merge_is_commutative_associative_idempotent(a in arb_entity(), b in arb_entity(), c in arb_entity()) {
            let ab = merge(&a, &b).unwrap();
            prop_assert_eq!(&ab, &merge(&b, &a).unwrap());
            prop_assert_eq!(merge(&ab, &c).unwrap(), merge(&a, &merge(&b, &c).unwrap()).unwrap());
            prop_assert_eq!(merge(&ab, &ab).unwrap(), ab.clone());
            prop_assert_eq!(merge(&ab, &a).unwrap(), ab);
        }
    }
}
