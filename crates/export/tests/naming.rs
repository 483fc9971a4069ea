//! The output path encoder: every name stays inside --out as one visible component,
//! different names get different components, and encoded names decode back.

use std::collections::HashMap;
use std::path::{Component, Path};

use influx_tsm_export::naming::{MAX_COMPONENT, decode, encode, is_safe};
use influx_tsm_export::output::relative_path;
use proptest::prelude::*;

/// Names built from the characters that cause trouble, often long.
fn nasty_name() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b".".to_vec()),
        Just(b"..".to_vec()),
        Just(b"/".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"%".to_vec()),
        Just(b"%2F".to_vec()),
        Just(b"~".to_vec()),
        Just(b"\0".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"CON".to_vec()),
        Just("ả".as_bytes().to_vec()),
        Just("\u{202E}".as_bytes().to_vec()),
        Just(vec![0xff]),
        Just(vec![0xc3]),
        "[a-zA-Z0-9_-]{1,8}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 1..4),
    ];
    prop_oneof![
        prop::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
        prop::collection::vec(any::<u8>(), 0..300),
        (prop::collection::vec(any::<u8>(), 0..8), 150usize..400).prop_map(|(tail, n)| [
            vec![b'a'; n],
            tail
        ]
        .concat()),
    ]
}

fn assert_inside(name: &[u8]) {
    let encoded = encode(name);
    assert!(is_safe(&encoded), "{name:?} -> {encoded:?}");
    assert!(encoded.len() <= MAX_COMPONENT);
    let components: Vec<Component<'_>> = Path::new(&encoded).components().collect();
    assert_eq!(components.len(), 1, "{name:?} -> {encoded:?}");
    assert!(
        matches!(components[0], Component::Normal(_)),
        "{name:?} -> {encoded:?}"
    );
    assert!(!encoded.starts_with('.'), "{name:?} -> hidden {encoded:?}");

    let out = Path::new("/out");
    let path = out.join(relative_path(&String::from_utf8_lossy(name), "rp", name, 7));
    assert!(path.starts_with(out));
    assert_eq!(path.components().count(), 6, "{path:?}");
    assert!(
        path.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::RootDir))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn stays_inside(name in nasty_name()) {
        assert_inside(&name);
    }

    #[test]
    fn reversible(name in nasty_name()) {
        let encoded = encode(&name);
        if encoded.contains('~') {
            // Cut: only long encodings are cut.
            prop_assert!(encoded.len() > MAX_COMPONENT - 40);
            prop_assert_eq!(decode(&encoded), None);
        } else {
            prop_assert_eq!(decode(&encoded), Some(name));
        }
    }

    #[test]
    fn injective(a in nasty_name(), b in nasty_name()) {
        if a != b {
            prop_assert_ne!(encode(&a), encode(&b));
        }
    }

    #[test]
    fn injective_on_near_misses(name in nasty_name(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut other = name.clone();
        if other.is_empty() {
            other.push(byte);
        } else {
            let i = at.index(other.len());
            if other[i] == byte { other.insert(i, byte) } else { other[i] = byte }
        }
        prop_assert_ne!(encode(&name), encode(&other));
    }
}

/// Every name of up to two bytes from a set of troublesome bytes: all distinct.
#[test]
fn injective_exhaustively_on_short_names() {
    let alphabet: Vec<u8> = b"./\\%~ \0\naA0"
        .iter()
        .copied()
        .chain([0x7f, 0x80, 0xc3, 0xa1, 0xff])
        .collect();
    let mut names = vec![Vec::new()];
    for &a in &alphabet {
        names.push(vec![a]);
        for &b in &alphabet {
            names.push(vec![a, b]);
            for &c in &alphabet {
                names.push(vec![a, b, c]);
            }
        }
    }
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    for name in names {
        assert_inside(&name);
        let encoded = encode(&name);
        assert_eq!(decode(&encoded).as_deref(), Some(&name[..]));
        if let Some(earlier) = seen.insert(encoded.clone(), name.clone()) {
            panic!("{earlier:?} and {name:?} both encode to {encoded:?}");
        }
    }
}
