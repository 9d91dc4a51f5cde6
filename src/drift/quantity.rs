//! Kubernetes resource quantities in one spelling, so `8G` and `8000M`,
//! `1` and `1000m` compare equal while `4Gi` and `4G` do not.

use serde_json::Value;

const DECIMAL: [(&str, u32); 6] = [
    ("E", 18),
    ("P", 15),
    ("T", 12),
    ("G", 9),
    ("M", 6),
    ("k", 3),
];
const BINARY: [(&str, u32); 6] = [
    ("Ei", 60),
    ("Pi", 50),
    ("Ti", 40),
    ("Gi", 30),
    ("Mi", 20),
    ("Ki", 10),
];

/// The quantity in thousandths, exactly; None for what is not a quantity
/// or is finer than a thousandth.
pub fn millis(q: &str) -> Option<i128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let (neg, num) = match num.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        || int.len() + frac.len() > 30
    {
        return None;
    }
    let mantissa: i128 = format!("{int}{frac}").parse().ok()?;
    // value = mantissa / 10^frac * multiplier; in thousandths: * 1000.
    let (mul_num, mul_den): (i128, i128) = match suffix {
        "" => (1, 1),
        "m" => (1, 1000),
        s => {
            if let Some((_, p)) = DECIMAL.iter().find(|(n, _)| *n == s) {
                (10i128.pow(*p), 1)
            } else if let Some((_, p)) = BINARY.iter().find(|(n, _)| *n == s) {
                (1i128 << p, 1)
            } else {
                let e: i32 = s.strip_prefix(['e', 'E'])?.parse().ok()?;
                if !(-3..=18).contains(&e) {
                    return None;
                }
                if e >= 0 {
                    (10i128.pow(e as u32), 1)
                } else {
                    (1, 10i128.pow((-e) as u32))
                }
            }
        }
    };
    let num = mantissa.checked_mul(mul_num)?.checked_mul(1000)?;
    let den = 10i128
        .checked_pow(frac.len() as u32)?
        .checked_mul(mul_den)?;
    if num % den != 0 {
        return None;
    }
    let v = num / den;
    Some(if neg { -v } else { v })
}

/// The shortest exact spelling: `8000M` -> `8G`, `1000m` -> `1`,
/// `1073741824` -> `1Gi`.
pub fn canonical(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let m = millis(&text)?;
    if m % 1000 != 0 {
        return Some(format!("{m}m"));
    }
    let units = m / 1000;
    let mut best = units.to_string();
    if units == 0 {
        return Some(best);
    }
    let mut consider = |s: String| {
        if s.len() < best.len() {
            best = s;
        }
    };
    if let Some((n, p)) = DECIMAL.iter().find(|(_, p)| units % 10i128.pow(*p) == 0) {
        consider(format!("{}{n}", units / 10i128.pow(*p)));
    }
    if let Some((n, p)) = BINARY.iter().find(|(_, p)| units % (1i128 << p) == 0) {
        consider(format!("{}{n}", units / (1i128 << p)));
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_quantities_spell_the_same() {
        let c = |v: Value| canonical(&v).unwrap();
        assert_eq!(c(json!("8G")), c(json!("8000M")));
        assert_eq!(c(json!("1")), c(json!("1000m")));
        assert_eq!(c(json!(1)), c(json!("1")));
        assert_eq!(c(json!("0.5")), "500m");
        assert_eq!(c(json!("1024Mi")), "1Gi");
        assert_ne!(c(json!("4Gi")), c(json!("4G")));
        assert_eq!(c(json!("1.5Gi")), "1536Mi");
        assert_eq!(c(json!("1e3")), "1k");
        assert_eq!(canonical(&json!("lots")), None);
        assert_eq!(canonical(&json!("")), None);
    }
}
