//! CPU kernels shared by the `compute` plugin (compiled to wasm32-wasip2) and
//! the host (compiled natively), so "WASM vs native" compares one source.
//!
//! Each kernel returns a checksum that depends on all of its work, so neither
//! compiler can skip it.

/// Runs a kernel named by `command`: `matmul N` (N x N f64 matrix product),
/// `sieve N` (primes below N), `fib N` (N-th Fibonacci number mod 2^64, by
/// iteration, repeated to make it measurable).
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
        "matmul" | "sieve" => Err(format!("`{command}`: n too large")),
        other => Err(format!("unknown kernel `{other}` (matmul, sieve, fib)")),
    }
}

/// Multiplies two deterministic N x N matrices; returns a checksum of the product.
pub fn matmul(n: usize) -> u64 {
    let a: Vec<f64> = (0..n * n).map(|i| (i % 7) as f64 * 0.5).collect();
    let b: Vec<f64> = (0..n * n).map(|i| (i % 5) as f64 * 0.25).collect();
    let mut c = vec![0.0f64; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
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
            let Some(mut j) = i.checked_mul(i) else {
                continue;
            };
            while j < n {
                composite[j] = true;
                j += i;
            }
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
}
