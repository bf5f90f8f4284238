//! Profiling aid: encodes files with a tokenizer file and prints throughput and chunk stats.
//! `cargo run --release --example encode_stats -- tok.json FILE...`
use codemill::chunk::for_each_chunk;
use codemill::lex::Lang;
use codemill::tokenizer::Tokenizer;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((tok_path, files)) = args.split_first() else {
        eprintln!("usage: encode_stats TOKENIZER.json FILE...");
        std::process::exit(2);
    };
    let load = Instant::now();
    let tok = match std::fs::read_to_string(tok_path)
        .map_err(|e| e.to_string())
        .and_then(|t| Tokenizer::from_json(&t).map_err(|e| e.to_string()))
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{tok_path}: {e}");
            std::process::exit(2);
        }
    };
    println!("loaded in {:.1} ms", load.elapsed().as_secs_f64() * 1e3);
    let docs: Vec<(String, Lang)> = files
        .iter()
        .filter_map(|f| {
            Some((
                std::fs::read_to_string(f).ok()?,
                Lang::from_path(f.as_ref()),
            ))
        })
        .collect();
    let bytes: usize = docs.iter().map(|d| d.0.len()).sum();
    println!("{} docs, {:.1} MB", docs.len(), bytes as f64 / 1e6);
    // NO_STATS: only the encode passes, for instruction counts of encoding alone (cachegrind).
    if std::env::var_os("NO_STATS").is_none() {
        chunk_and_scan_stats(&docs, bytes);
    }
    if let Some(n) = std::env::var("THREADS").ok().and_then(|n| n.parse().ok()) {
        // First pass of `encode_batch` on n threads (a fresh pool; nothing encoded before).
        let batch: Vec<(&str, Lang)> = docs.iter().map(|(t, l)| (t.as_str(), *l)).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap();
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let ids: usize = pool.install(|| tok.encode_batch(&batch, &[]).iter().map(Vec::len).sum());
        println!(
            "encode_batch first pass, {n} threads: {:.1} MB/s, {:.2} CPU s, {ids} tokens",
            bytes as f64 / 1e6 / t.elapsed().as_secs_f64(),
            cpu_seconds() - cpu
        );
        return;
    }
    if std::env::var_os("BPE_ONLY").is_some() {
        bpe_only(&tok, &docs);
    }
    let passes: usize = std::env::var("PASSES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(2);
    // FRESH: every pass with a newly loaded tokenizer (untimed), so every pass is a first pass
    // (its caches start empty): several first passes per process for A/B rounds.
    let fresh = std::env::var_os("FRESH").is_some();
    let mut tok = tok;
    for pass in 0..passes {
        if fresh && pass > 0 {
            tok = Tokenizer::from_json(&std::fs::read_to_string(tok_path).unwrap()).unwrap();
        }
        let t = Instant::now();
        let mut n = 0;
        for (text, lang) in &docs {
            n += tok.encode(text, *lang, &[]).len();
        }
        println!(
            "encode pass {pass}: {:.1} MB/s, {n} tokens",
            bytes as f64 / 1e6 / t.elapsed().as_secs_f64()
        );
    }
}

/// User + system CPU time of this process so far (Linux; 0 elsewhere): on a shared machine
/// the CPU a threaded run spends says more about its scaling than its wall time.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) end with ')'.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the state letter.
    f.get(10)
        .zip(f.get(11))
        .map_or(0.0, |(u, s)| (u + s) / 100.0)
}

/// Times BPE alone over the distinct chunks (byte symbols only), to separate it from scanning,
/// identifier matching and the cache.
#[allow(dead_code)]
fn bpe_only(tok: &Tokenizer, docs: &[(String, Lang)]) {
    let bpe = codemill::bpe::Bpe::new(
        tok.merges().to_vec(),
        256 + tok.identifier_vocab_size() as u32,
    );
    let mut seen = std::collections::HashSet::new();
    let mut words: Vec<Vec<u32>> = Vec::new();
    for (text, lang) in docs {
        for_each_chunk(text, *lang, |s, e, _| {
            if seen.insert(&text[s..e]) {
                words.push(text[s..e].bytes().map(u32::from).collect());
            }
        });
    }
    let total: usize = words.iter().map(Vec::len).sum();
    let t = Instant::now();
    let mut out = 0;
    for w in &words {
        let mut s = w.clone();
        bpe.merge(&mut s);
        out += s.len();
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "bpe only: {} chunks, {} symbols -> {} tokens, {:.2} us/chunk, {:.1} ns/merge",
        words.len(),
        total,
        out,
        el * 1e6 / words.len() as f64,
        el * 1e9 / (total - out) as f64
    );
}

/// Chunk counts and the scanner's speed alone.
fn chunk_and_scan_stats(docs: &[(String, Lang)], bytes: usize) {
    let (mut chunks, mut distinct, mut chunk_bytes) =
        (0usize, std::collections::HashSet::new(), 0usize);
    for (text, lang) in docs {
        for_each_chunk(text, *lang, |s, e, _| {
            chunks += 1;
            chunk_bytes += e - s;
            distinct.insert(&text[s..e]);
        });
    }
    println!(
        "{} chunks ({} distinct, {:.0} bytes avg)",
        chunks,
        distinct.len(),
        chunk_bytes as f64 / chunks as f64
    );
    let t = Instant::now();
    let mut scanned = 0;
    for (text, lang) in docs {
        scanned += codemill::lex::Scanner::new(text, *lang).count();
    }
    println!(
        "scanner: {:.0} MB/s ({scanned} pieces)",
        bytes as f64 / 1e6 / t.elapsed().as_secs_f64()
    );
}
