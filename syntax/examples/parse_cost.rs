//! Parse CPU per edit: full parse time and per-keystroke incremental check time of
//! realistic TypeScript files, so the gateway's worker pool can be sized from figures.
//!
//! `nice -n 10 cargo run --release -p collab-syntax --example parse_cost`
//!
//! Prints thread CPU time (what a worker spends, unaffected by other load on the
//! machine) and wall time (what a caller waits, here with whatever else runs).

use std::time::{Duration, Instant};

use collab_syntax::{Language, Limits, SyntaxChecker, check_once, version};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FULL_RUNS: usize = 20;
const EDITS: usize = 500;

fn main() {
    let limits = Limits {
        max_bytes: 64 << 20,
        max_parse_time: Duration::from_secs(10),
        max_markers: 100,
    };
    println!("all in ms, as thread CPU (wall)");
    for lines in [1_000, 10_000] {
        let text = typescript(lines);
        assert_eq!(text.lines().count(), lines);
        let clean = check_once(Language::TypeScript, &text, &limits).expect("parses");
        assert!(clean.is_empty(), "the generated file is valid: {clean:?}");
        let mut full: Vec<Sample> = (0..FULL_RUNS)
            .map(|_| measure(|| check_once(Language::TypeScript, &text, &limits)))
            .collect();
        let mut keystrokes = keystrokes(&text, &limits);
        let mut hash: Vec<Sample> = (0..FULL_RUNS).map(|_| measure(|| version(&text))).collect();
        println!(
            "TypeScript {lines} lines, {} bytes: full parse median of {FULL_RUNS} {}; \
             keystroke check over {EDITS} edits median {}, p99 {}; version (sha256) median {}",
            text.len(),
            percentile(&mut full, 0.5),
            percentile(&mut keystrokes, 0.5),
            percentile(&mut keystrokes, 0.99),
            percentile(&mut hash, 0.5),
        );
    }
}

/// Times `EDITS` checks, alternating an edit that breaks the syntax at a random line and
/// the edit that restores it, on one warm checker.
fn keystrokes(text: &str, limits: &Limits) -> Vec<Sample> {
    let mut rng = StdRng::seed_from_u64(3);
    let mut checker = SyntaxChecker::new(Language::TypeScript);
    checker.check(text.to_owned(), limits).expect("parses");
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&i| i < text.len())
        .collect();
    let mut times = Vec::with_capacity(EDITS);
    for _ in 0..EDITS / 2 {
        let at = line_starts[rng.random_range(0..line_starts.len())];
        let mut broken = text.to_owned();
        broken.insert(at, '(');
        for (version, expect_errors) in [(broken, true), (text.to_owned(), false)] {
            let mut markers = Vec::new();
            times.push(measure(|| {
                markers = checker.check(version, limits).expect("parses");
            }));
            assert_eq!(!markers.is_empty(), expect_errors);
        }
    }
    times
}

/// A TypeScript module of about `lines` lines in the usual mix: imports, interfaces,
/// classes with generics and methods, arrow functions, template strings, comments.
fn typescript(lines: usize) -> String {
    let mut out = String::from(
        "import { readFile } from \"node:fs/promises\";\nimport type { Config } from \"./config\";\n\n",
    );
    for i in 0.. {
        let block = format!(
            r#"/** Record {i}: what the service keeps per user. */
export interface Record{i}<T extends object = {{}}> {{
  id: string;
  owner?: {{ name: string; email: string }};
  payload: T;
  tags: ReadonlyArray<string>;
}}

export class Store{i}<T extends object> {{
  private readonly items = new Map<string, Record{i}<T>>();

  constructor(private readonly config: Config, private limit = {i}) {{}}

  async load(path: string): Promise<number> {{
    const raw = await readFile(path, "utf8");
    const parsed = JSON.parse(raw) as Record{i}<T>[];
    for (const item of parsed) {{
      if (this.items.size >= this.limit) {{
        throw new Error(`store ${{path}} is full at ${{this.limit}} items`);
      }}
      this.items.set(item.id, {{ ...item, tags: [...item.tags, "loaded"] }});
    }}
    return parsed.length;
  }}

  find = (predicate: (r: Record{i}<T>) => boolean): Record{i}<T> | undefined =>
    [...this.items.values()].find(predicate);
}}

export function summarize{i}(records: Array<Record{i}<object>>): string {{
  // Group by owner and count; owners without a name count as "anonymous".
  const counts = records.reduce<Record<string, number>>((acc, r) => {{
    const key = r.owner?.name ?? "anonymous";
    acc[key] = (acc[key] ?? 0) + 1;
    return acc;
  }}, {{}});
  return Object.entries(counts).map(([k, v]) => `${{k}}: ${{v}}`).join(", ");
}}

"#
        );
        if out.lines().count() + block.lines().count() > lines {
            break;
        }
        out.push_str(&block);
    }
    // Whole blocks keep the file valid; one-line statements make up the exact count.
    for n in out.lines().count()..lines {
        out.push_str(&format!("export const pad{n} = {n};\n"));
    }
    out
}

/// One call's cost: CPU time of this thread and wall time.
#[derive(Clone, Copy)]
struct Sample {
    cpu: Duration,
    wall: Duration,
}

fn measure<T>(f: impl FnOnce() -> T) -> Sample {
    let (cpu, wall) = (thread_cpu_time(), Instant::now());
    std::hint::black_box(f());
    Sample {
        cpu: thread_cpu_time().saturating_sub(cpu),
        wall: wall.elapsed(),
    }
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The `p` quantile of CPU and of wall time, each sorted on its own.
fn percentile(samples: &mut [Sample], p: f64) -> String {
    let rank = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
    samples.sort_unstable_by_key(|s| s.cpu);
    let cpu = samples[rank].cpu;
    samples.sort_unstable_by_key(|s| s.wall);
    let wall = samples[rank].wall;
    format!("{:.3} ({:.3})", ms(cpu), ms(wall))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
