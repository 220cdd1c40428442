//! Key generation: a small fast PRNG, the key distributions, and key
//! formatting straight into a caller's buffer (no allocation).

/// wyrand: a tiny, fast, statistically good 64-bit generator. One per
/// connection, so nothing is shared.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let product = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        ((product >> 64) ^ product) as u64
    }

    /// Uniform in `0..bound` (multiply-shift; the bias is below 2^-32 for
    /// any bound used here).
    #[inline]
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Zipf sampler over ranks `1..=n` with exponent `s`, by rejection-inversion
/// (Hörmann and Derflinger, "Rejection-inversion to generate variates from
/// monotone discrete distributions", 1996): O(1) memory and expected time,
/// so it works for any key space size.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: f64,
    exponent: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    squeeze: f64,
}

impl Zipf {
    /// Sampler over `1..=n`.
    pub fn new(n: u64, exponent: f64) -> Zipf {
        let mut zipf = Zipf {
            n: n as f64,
            exponent,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        zipf.h_integral_x1 = zipf.h_integral(1.5) - 1.0;
        zipf.h_integral_n = zipf.h_integral(zipf.n + 0.5);
        zipf.squeeze = 2.0 - zipf.h_integral_inverse(zipf.h_integral(2.5) - zipf.h(2.0));
        zipf
    }

    /// A rank in `1..=n`; rank 1 is the most likely.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.unit() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.squeeze || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    /// h(x) = x^-s, the unnormalised density.
    fn h(&self, x: f64) -> f64 {
        (-self.exponent * x.ln()).exp()
    }

    /// H(x) = integral of h: (x^(1-s) - 1) / (1-s), or ln x for s = 1.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.exponent) * log_x) * log_x
    }

    /// Inverse of [`Zipf::h_integral`].
    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.exponent)).max(-1.0);
        (ln1p_over_x(t) * x).exp()
    }
}

/// (e^x - 1) / x, accurate near 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + x * 0.25))
    }
}

/// ln(1 + x) / x, accurate near 0.
fn ln1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - x * 0.25))
    }
}

/// How keys are drawn from the key space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Every key equally likely.
    Uniform,
    /// Zipf with exponent `s`: key 0 is the hottest.
    Zipf(f64),
    /// Each connection walks the key space in order, interleaved with the
    /// other connections, so all of them together cover it key by key.
    Sequential,
}

/// Draws key indexes in `0..nr_keys` for one connection.
#[derive(Debug, Clone)]
pub enum KeyChooser {
    /// Uniform over the key space.
    Uniform {
        /// Key space size.
        nr_keys: u64,
    },
    /// Zipf: index = rank - 1, so key 0 is the hottest.
    Zipf(Zipf),
    /// `next`, `next + stride`, ... wrapping at the key space.
    Sequential {
        /// Next index to hand out.
        next: u64,
        /// Distance between two indexes of this connection.
        stride: u64,
        /// Key space size.
        nr_keys: u64,
    },
}

impl KeyChooser {
    /// The chooser of connection `conn_index` out of `nr_conns`.
    pub fn new(
        distribution: Distribution,
        nr_keys: u64,
        conn_index: usize,
        nr_conns: usize,
    ) -> KeyChooser {
        match distribution {
            Distribution::Uniform => KeyChooser::Uniform { nr_keys },
            Distribution::Zipf(exponent) => KeyChooser::Zipf(Zipf::new(nr_keys, exponent)),
            Distribution::Sequential => KeyChooser::Sequential {
                next: conn_index as u64 % nr_keys,
                stride: nr_conns as u64,
                nr_keys,
            },
        }
    }

    /// Next key index.
    #[inline]
    pub fn next_index(&mut self, rng: &mut Rng) -> u64 {
        match self {
            KeyChooser::Uniform { nr_keys } => rng.below(*nr_keys),
            KeyChooser::Zipf(zipf) => zipf.sample(rng) - 1,
            KeyChooser::Sequential {
                next,
                stride,
                nr_keys,
            } => {
                let index = *next;
                *next = (index + *stride) % *nr_keys;
                index
            }
        }
    }
}

/// Appends `number` in decimal.
#[inline]
pub fn write_u64(out: &mut Vec<u8>, mut number: u64) {
    if number < 10 {
        out.push(b'0' + number as u8);
        return;
    }
    // Two digits per division.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while number >= 100 {
        let pair = (number % 100) as usize * 2;
        number /= 100;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if number >= 10 {
        let pair = number as usize * 2;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        start -= 1;
        digits[start] = b'0' + number as u8;
    }
    out.extend_from_slice(&digits[start..]);
}

/// "00", "01", ..., "99".
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the key of `index`: prefix then the decimal index.
#[inline]
pub fn write_key(out: &mut Vec<u8>, prefix: &[u8], index: u64) {
    out.extend_from_slice(prefix);
    write_u64(out, index);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_keys() {
        let mut out = Vec::new();
        write_key(&mut out, b"key:", 0);
        assert_eq!(out, b"key:0");
        out.clear();
        write_key(&mut out, b"k", u64::MAX);
        assert_eq!(out, format!("k{}", u64::MAX).as_bytes());
        for number in (0..100_000u64).chain([u64::MAX - 1, 1 << 40, 10u64.pow(19)]) {
            out.clear();
            write_u64(&mut out, number);
            assert_eq!(out, number.to_string().as_bytes());
        }
    }

    #[test]
    fn uniform_covers_the_space_evenly() {
        let mut rng = Rng::new(7);
        let mut chooser = KeyChooser::new(Distribution::Uniform, 10, 0, 1);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[chooser.next_index(&mut rng) as usize] += 1;
        }
        for count in counts {
            assert!((9_000..11_000).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn sequential_connections_interleave() {
        let mut rng = Rng::new(1);
        let mut first = KeyChooser::new(Distribution::Sequential, 5, 0, 2);
        let mut second = KeyChooser::new(Distribution::Sequential, 5, 1, 2);
        let a: Vec<u64> = (0..4).map(|_| first.next_index(&mut rng)).collect();
        let b: Vec<u64> = (0..3).map(|_| second.next_index(&mut rng)).collect();
        assert_eq!(a, vec![0, 2, 4, 1]);
        assert_eq!(b, vec![1, 3, 0]);
    }

    #[test]
    fn zipf_follows_the_power_law() {
        for exponent in [0.5, 0.99, 1.0, 1.5] {
            let nr_keys = 1000u64;
            let zipf = Zipf::new(nr_keys, exponent);
            let mut rng = Rng::new(42);
            let mut counts = vec![0u64; nr_keys as usize];
            let samples = 400_000;
            for _ in 0..samples {
                let rank = zipf.sample(&mut rng);
                assert!((1..=nr_keys).contains(&rank));
                counts[rank as usize - 1] += 1;
            }
            let norm: f64 = (1..=nr_keys).map(|k| (k as f64).powf(-exponent)).sum();
            for rank in [1usize, 2, 10] {
                let expected = samples as f64 * (rank as f64).powf(-exponent) / norm;
                let observed = counts[rank - 1] as f64;
                assert!(
                    (observed - expected).abs() < expected * 0.05 + 30.0,
                    "s={exponent} rank {rank}: expected {expected}, saw {observed}"
                );
            }
        }
    }

    #[test]
    fn zipf_of_one_key() {
        let zipf = Zipf::new(1, 0.99);
        let mut rng = Rng::new(3);
        for _ in 0..100 {
            assert_eq!(zipf.sample(&mut rng), 1);
        }
    }
}
