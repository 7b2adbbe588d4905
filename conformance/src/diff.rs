//! First difference between two JSON values, by field path.

use crate::Mismatch;
use serde_json::Value;

/// Returns the first place where `got` differs from `expected`, or `None` if equal.
pub fn first_diff(expected: &Value, got: &Value) -> Option<Mismatch> {
    walk(expected, got, &mut String::new())
}

fn walk(expected: &Value, got: &Value, path: &mut String) -> Option<Mismatch> {
    let here = |path: &String, e: &Value, g: &Value| {
        Some(Mismatch {
            field: if path.is_empty() {
                "<root>".into()
            } else {
                path.clone()
            },
            expected: short(e),
            got: short(g),
        })
    };
    match (expected, got) {
        (Value::Object(e), Value::Object(g)) => {
            for (k, ev) in e {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let r = match g.get(k) {
                    Some(gv) => walk(ev, gv, path),
                    None => here(path, ev, &Value::String("<missing>".into())),
                };
                if r.is_some() {
                    return r;
                }
                path.truncate(len);
            }
            for (k, gv) in g {
                if !e.contains_key(k) {
                    let mut p = path.clone();
                    if !p.is_empty() {
                        p.push('.');
                    }
                    p.push_str(k);
                    return here(&p, &Value::String("<absent>".into()), gv);
                }
            }
            None
        }
        (Value::Array(e), Value::Array(g)) => {
            for (i, (ev, gv)) in e.iter().zip(g).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let r = walk(ev, gv, path);
                if r.is_some() {
                    return r;
                }
                path.truncate(len);
            }
            if e.len() != g.len() {
                let p = format!("{path}.len()");
                return Some(Mismatch {
                    field: p,
                    expected: e.len().to_string(),
                    got: g.len().to_string(),
                });
            }
            None
        }
        (e, g) if e == g => None,
        (e, g) => here(path, e, g),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        format!("{}…({} chars)", &s[..157], s.len())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nested_difference() {
        let e = json!({"a": {"b": [1, 2, 3]}, "c": "x"});
        let g = json!({"a": {"b": [1, 5, 3]}, "c": "x"});
        let m = first_diff(&e, &g).unwrap();
        assert_eq!(m.field, "a.b[1]");
        assert_eq!(m.expected, "2");
        assert_eq!(m.got, "5");
        assert!(first_diff(&e, &e).is_none());
    }
}
