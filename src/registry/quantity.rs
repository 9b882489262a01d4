//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`) as exact numbers, for comparing and
//! adding them the way upstream's `resource.Quantity` does.

/// A quantity in billionths (10^-9) of its unit: exact for every suffix Kubernetes allows
/// down to `n`, and wide enough for `E`/`Ei` (10^27 < 2^127).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(pub i128);

impl Quantity {
    /// Parses upstream's quantity syntax; None when it is not one. Digits past a billionth
    /// round up, as upstream rounds to its smallest scale.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (sign, rest) = match s.strip_prefix('-') {
            Some(r) => (-1, r),
            None => (1, s.strip_prefix('+').unwrap_or(s)),
        };
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        // Value = digits × 10^-frac_len.
        let digits: String = format!("{whole}{frac}");
        let mut mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let mut exp10: i32 = -(frac.len() as i32);
        let mut factor: i128 = 1;
        match suffix {
            "" => {}
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            "Ki" => factor = 1 << 10,
            "Mi" => factor = 1 << 20,
            "Gi" => factor = 1 << 30,
            "Ti" => factor = 1 << 40,
            "Pi" => factor = 1 << 50,
            "Ei" => factor = 1 << 60,
            e if e.starts_with(['e', 'E']) => {
                exp10 = exp10.checked_add(e[1..].parse::<i32>().ok()?)?;
            }
            _ => return None,
        }
        mantissa = mantissa.checked_mul(factor)?;
        // To billionths: × 10^(exp10 + 9), rounding a remainder up.
        let shift = exp10.checked_add(9)?;
        let nanos = if shift >= 0 {
            mantissa.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?
        } else {
            let div = 10i128.checked_pow(u32::try_from(-shift).ok()?)?;
            let q = mantissa / div;
            if mantissa % div == 0 {
                q
            } else {
                q + 1
            }
        };
        Some(Self(sign * nanos))
    }

    /// Whether the quantity is above zero.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// The sum, None on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const NANO: i128 = 1_000_000_000;

    #[test]
    fn forms() {
        let q = |s| Quantity::parse(s).unwrap().0;
        assert_eq!(q("1"), NANO);
        assert_eq!(q("500m"), NANO / 2);
        assert_eq!(q("0.5"), NANO / 2);
        assert_eq!(q("1.5Gi"), 3 * (1 << 29) * NANO);
        assert_eq!(q("2e3"), 2000 * NANO);
        assert_eq!(q("1k"), 1000 * NANO);
        assert_eq!(q("128974848"), 128_974_848 * NANO);
        assert_eq!(q("129e6"), 129_000_000 * NANO);
        assert_eq!(q("123Mi"), 123 * (1 << 20) * NANO);
        assert_eq!(q("-1m"), -NANO / 1000);
        assert_eq!(q("0.1n"), 1, "rounded up to a billionth");
        assert_eq!(Quantity::parse("1.5Gi"), Quantity::parse("1536Mi"));
        for bad in ["", "m", "1x", "1.2.3", "--1", "Gi"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn huge_exponents_are_not_quantities() {
        // fuzz/quantity (read off the code): the exponent arithmetic overflowed.
        for s in ["1e2147483647", "1e2147483640", "1.5e-2147483648"] {
            assert!(Quantity::parse(s).is_none(), "{s}");
        }
    }
}
