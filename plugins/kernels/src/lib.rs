//! CPU kernels shared by the `compute` plugin (compiled to wasm32-wasip2) and
//! the host (compiled natively), so "WASM vs native" compares one source.
//!
//! Each kernel returns a checksum that depends on all of its work, so neither
//! compiler can skip it.

/// Runs a kernel named by `command`: `matmul N` (N x N f64 matrix product),
/// `sieve N` (primes below N), `fib N` (N-th Fibonacci number mod 2^64, by
/// iteration, repeated to make it measurable), `sha256 N` (a digest of N
/// bytes), `parse N` (N records written as text and parsed back), `nbody N`
/// (N steps of a five-body f64 simulation).
pub fn run(command: &str) -> Result<u64, String> {
    let mut parts = command.split_whitespace();
    let kernel = parts.next().unwrap_or("");
    let n: usize = parts
        .next()
        .ok_or_else(|| format!("`{command}`: expected `<kernel> <n>`"))?
        .parse()
        .map_err(|e| format!("`{command}`: n is not a number: {e}"))?;
    match kernel {
        "matmul" if n <= 512 => Ok(matmul(n)),
        "sieve" if n <= 50_000_000 => Ok(sieve(n)),
        "fib" => Ok(fib(n as u64)),
        "sha256" if n <= 256 << 20 => Ok(sha256(n)),
        "parse" if n <= 10_000_000 => Ok(parse(n)),
        "nbody" => Ok(nbody(n)),
        "matmul" | "sieve" | "sha256" | "parse" => Err(format!("`{command}`: n too large")),
        other => Err(format!(
            "unknown kernel `{other}` (matmul, sieve, fib, sha256, parse, nbody)"
        )),
    }
}

/// Multiplies two deterministic N x N matrices; returns a checksum of the product.
pub fn matmul(n: usize) -> u64 {
    let a: Vec<f64> = (0..n * n).map(|i| (i % 7) as f64 * 0.5).collect();
    let b: Vec<f64> = (0..n * n).map(|i| (i % 5) as f64 * 0.25).collect();
    let mut c = vec![0.0f64; n * n];
    // Row slices: no index arithmetic or bounds check in the inner loop, so
    // both compilers can vectorise it (on wasm32 `i * n + j` is 32-bit
    // arithmetic that LLVM cannot prove free of overflow).
    for (a_row, c_row) in a.chunks_exact(n).zip(c.chunks_exact_mut(n)) {
        for (aik, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            for (cij, bkj) in c_row.iter_mut().zip(b_row) {
                *cij += aik * bkj;
            }
        }
    }
    c.iter()
        .fold(0u64, |acc, v| acc.wrapping_mul(31).wrapping_add(*v as u64))
}

/// Counts the primes below `n` with a sieve of Eratosthenes.
pub fn sieve(n: usize) -> u64 {
    if n < 2 {
        return 0;
    }
    let mut composite = vec![false; n];
    let mut count = 0u64;
    for i in 2..n {
        if !composite[i] {
            count += 1;
            // On wasm32 `i * i` overflows for i > 65535 (and wraps in
            // release builds): past that point i * i >= n anyway.
            let Some(start) = i.checked_mul(i).filter(|s| *s < n) else {
                continue;
            };
            composite[start..]
                .iter_mut()
                .step_by(i)
                .for_each(|c| *c = true);
        }
    }
    count
}

/// The n-th Fibonacci number modulo 2^64, computed 1,000 times over with a
/// data dependency between rounds.
pub fn fib(n: u64) -> u64 {
    let mut acc = 0u64;
    for round in 0..1_000u64 {
        let (mut a, mut b) = (round & 1, 1u64);
        for _ in 0..n {
            let next = a.wrapping_add(b);
            a = b;
            b = next;
        }
        acc = acc.wrapping_add(a);
    }
    acc
}

/// SHA-256 (FIPS 180-4, written out here so both builds run the same
/// code) of `n` bytes of a deterministic stream; returns the digest's first
/// eight bytes.
pub fn sha256(n: usize) -> u64 {
    let data: Vec<u8> = (0..n)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 7)) as u8)
        .collect();
    let h = digest(&data);
    (u64::from(h[0]) << 32) | u64::from(h[1])
}

/// The SHA-256 digest of `data`, as eight big-endian words.
fn digest(data: &[u8]) -> [u32; 8] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let compress = |h: &mut [u32; 8], block: &[u8]| {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    };
    let mut chunks = data.chunks_exact(64);
    for block in &mut chunks {
        compress(&mut h, block);
    }
    let mut tail = chunks.remainder().to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in tail.chunks_exact(64) {
        compress(&mut h, block);
    }
    h
}

/// Writes `n` records of an integer and a decimal as text, then parses
/// them back: formatting and parsing numbers, the work of a serialiser.
pub fn parse(n: usize) -> u64 {
    use std::fmt::Write;
    let mut text = String::with_capacity(n * 20);
    for i in 0..n {
        let _ = write!(text, "{},{:.3};", i * 7919 % 100_003, i as f64 * 0.37 + 1.5);
    }
    text.split(';')
        .filter(|r| !r.is_empty())
        .fold(0u64, |acc, record| {
            let (a, b) = record.split_once(',').unwrap_or((record, "0"));
            let a: u64 = a.parse().unwrap_or(0);
            let b: f64 = b.parse().unwrap_or(0.0);
            acc.wrapping_mul(31).wrapping_add(a ^ b.to_bits())
        })
}

/// The n-body simulation of the Benchmarks Game (the Sun and the four
/// gas giants, f64), `n` steps; returns the final energy's bits.
// The game's constants as published; vectors of three read best indexed.
#[allow(clippy::excessive_precision, clippy::needless_range_loop)]
pub fn nbody(n: usize) -> u64 {
    const PI: f64 = std::f64::consts::PI;
    const SOLAR_MASS: f64 = 4.0 * PI * PI;
    const DAYS: f64 = 365.24;
    #[derive(Clone, Copy)]
    struct Body {
        pos: [f64; 3],
        vel: [f64; 3],
        mass: f64,
    }
    let body = |pos: [f64; 3], vel: [f64; 3], mass: f64| Body {
        pos,
        vel: vel.map(|v| v * DAYS),
        mass: mass * SOLAR_MASS,
    };
    let mut bodies = [
        body([0.0; 3], [0.0; 3], 1.0),
        body(
            [
                4.84143144246472090e+00,
                -1.16032004402742839e+00,
                -1.03622044471123109e-01,
            ],
            [
                1.66007664274403694e-03,
                7.69901118419740425e-03,
                -6.90460016972063023e-05,
            ],
            9.54791938424326609e-04,
        ),
        body(
            [
                8.34336671824457987e+00,
                4.12479856412430479e+00,
                -4.03523417114321381e-01,
            ],
            [
                -2.76742510726862411e-03,
                4.99852801234917238e-03,
                2.30417297573763929e-05,
            ],
            2.85885980666130812e-04,
        ),
        body(
            [
                1.28943695621391310e+01,
                -1.51111514016986312e+01,
                -2.23307578892655734e-01,
            ],
            [
                2.96460137564761618e-03,
                2.37847173959480950e-03,
                -2.96589568540237556e-05,
            ],
            4.36624404335156298e-05,
        ),
        body(
            [
                1.53796971148509165e+01,
                -2.59193146099879641e+01,
                1.79258772950371181e-01,
            ],
            [
                2.68067772490389322e-03,
                1.62824170038242295e-03,
                -9.51592254519715870e-05,
            ],
            5.15138902046611451e-05,
        ),
    ];
    // Offset the Sun's momentum so the system's is zero.
    let mut p = [0.0; 3];
    for b in &bodies {
        for k in 0..3 {
            p[k] += b.vel[k] * b.mass;
        }
    }
    for k in 0..3 {
        bodies[0].vel[k] = -p[k] / SOLAR_MASS;
    }
    let dt = 0.01;
    for _ in 0..n {
        for i in 0..bodies.len() {
            for j in i + 1..bodies.len() {
                let d: [f64; 3] = std::array::from_fn(|k| bodies[i].pos[k] - bodies[j].pos[k]);
                let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                let mag = dt / (d2 * d2.sqrt());
                let (mi, mj) = (bodies[i].mass, bodies[j].mass);
                for k in 0..3 {
                    bodies[i].vel[k] -= d[k] * mj * mag;
                    bodies[j].vel[k] += d[k] * mi * mag;
                }
            }
        }
        for b in &mut bodies {
            for k in 0..3 {
                b.pos[k] += dt * b.vel[k];
            }
        }
    }
    let mut energy = 0.0;
    for i in 0..bodies.len() {
        let b = &bodies[i];
        energy += 0.5 * b.mass * (b.vel[0] * b.vel[0] + b.vel[1] * b.vel[1] + b.vel[2] * b.vel[2]);
        for other in &bodies[i + 1..] {
            let d: [f64; 3] = std::array::from_fn(|k| b.pos[k] - other.pos[k]);
            energy -= b.mass * other.mass / (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        }
    }
    energy.to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_compute_known_values() {
        assert_eq!(sieve(100), 25);
        assert_eq!(run("sieve 100"), Ok(25));
        assert!(run("nope 1").is_err());
        assert!(run("matmul").is_err());
        assert_eq!(matmul(4), matmul(4));
    }

    #[test]
    fn sha256_matches_the_standard_vectors() {
        assert_eq!(digest(b"abc")[..2], [0xba7816bf, 0x8f01cfea]);
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(digest(long)[..2], [0x248d6a61, 0xd20638b8]);
        assert_eq!(digest(b"")[..2], [0xe3b0c442, 0x98fc1c14]);
    }

    #[test]
    fn nbody_keeps_the_benchmarks_game_energy() {
        let energy = |n| f64::from_bits(nbody(n));
        assert!((energy(0) + 0.169075164).abs() < 1e-9, "{}", energy(0));
        assert!(
            (energy(1000) + 0.169087605).abs() < 1e-9,
            "{}",
            energy(1000)
        );
    }

    #[test]
    fn parse_reads_back_what_it_wrote() {
        assert_eq!(parse(0), 0);
        assert_ne!(parse(100), parse(101));
        assert_eq!(run("parse 100"), Ok(parse(100)));
    }
}
