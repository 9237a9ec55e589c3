//! `cargo bench`: how long each pipeline stage takes on the bundled specs, and how the whole
//! compile + plan + render grows with the number of stages (it must stay near-linear; the
//! nearest peer's cost grows super-linearly with stages).
//!
//! A plain `harness = false` program, so it needs no extra crates: each case runs for a
//! fixed wall-clock budget and reports the median of its per-iteration times.
//! `cargo bench -- FILTER` runs only the cases whose name contains FILTER.

use std::hint::black_box;
use std::time::{Duration, Instant};

use specc::PlanOptions;
use specc::render::RenderOptions;

const BUDGET: Duration = Duration::from_millis(700);

fn main() {
    let filter: Option<String> = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .filter(|a| !a.is_empty());
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));

    let root = env!("CARGO_MANIFEST_DIR");
    for stem in ["comfyui-runpod", "dify", "iopaint", "new-api", "sd-on-eks"] {
        let path = format!("{root}/specs/{stem}.kdl");
        let text = std::fs::read_to_string(&path).expect("bundled spec is readable");
        let name = format!("specs/{stem}.kdl");
        if wanted(&format!("compile/{stem}")) {
            measure(&format!("compile/{stem}"), || {
                black_box(specc::compile(&name, &text).is_ok());
            });
        }
        if wanted(&format!("lsp-keystroke/{stem}")) {
            lsp_keystroke(&format!("lsp-keystroke/{stem}"), &text);
        }
        if wanted(&format!("generate/{stem}")) {
            measure(&format!("generate/{stem}"), || {
                black_box(compile_plan_render(&name, &text));
            });
        }
    }
    for (kind, count) in [("unused-stages", 100_000), ("bad-references", 100_000)] {
        let case = format!("diagnostics/{kind}={count}");
        if wanted(&case) {
            diagnostics(kind, count);
        }
    }
    for stages in [10, 100, 1000] {
        let case = format!("scaling/stages={stages}");
        if wanted(&case) {
            let text = synthetic_spec(stages);
            measure(&case, || {
                black_box(compile_plan_render("bench.kdl", &text));
            });
        }
    }
}

/// The work `specc generate` does in memory (no build-context hashing, no disk writes).
fn compile_plan_render(name: &str, text: &str) -> usize {
    let checked = specc::compile(name, text).expect("bench specs compile");
    let plan = specc::plan::plan(&checked, &PlanOptions::default());
    let options = RenderOptions {
        spec_name: name.to_string(),
        regenerate: format!("specc generate {name}"),
        check: format!("specc check {name}"),
    };
    let files = specc::render::render(&checked, &plan, &options).expect("bench specs render");
    files.len()
}

/// `specc lsp` after a keystroke: from a `didChange` of the whole text (one character
/// added or removed at the end, alternately) to the diagnostics it publishes, in process
/// (the bar is 20 ms). The text stays a valid spec: a trailing space.
fn lsp_keystroke(case: &str, text: &str) {
    use lsp_server::{Message, Notification};
    let uri = "file:///bench/specc.kdl";
    let mut server = specc::lsp::Server::new();
    let open = serde_json::json!({"textDocument": {"uri": uri, "languageId": "kdl", "version": 0, "text": text}});
    server.handle(Message::Notification(Notification::new(
        "textDocument/didOpen".into(),
        open,
    )));
    let texts = [format!("{text} "), text.to_string()];
    let mut version = 0;
    measure(case, || {
        version += 1;
        let change = serde_json::json!({
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": texts[version as usize % 2]}],
        });
        let out = server.handle(Message::Notification(Notification::new(
            "textDocument/didChange".into(),
            change,
        )));
        black_box(out);
    });
}

/// A chain of `stages` stages, each copying from the previous one, built as one image in
/// two variants: every check, the topological order and the renderer see them all.
fn synthetic_spec(stages: usize) -> String {
    let mut s = String::from(
        "project bench version=\"1.0.0\"\n\
         registry hub host=\"docker.io\" namespace=\"bench\"\n\
         variant cpu default=#true { platforms \"linux/amd64\" }\n\
         variant gpu { platforms \"linux/amd64\"; gpu count=1 }\n\
         stage s0 from=\"debian:12-slim\" { workdir \"/w\"; run \"echo 0 > /w/0\" }\n",
    );
    for i in 1..stages {
        s.push_str(&format!(
            "stage s{i} from=\"debian:12-slim\" {{\n    workdir \"/w\"\n    \
             copy from=s{} \"/w\" to=\"/w\"\n    env STEP \"{i}\"\n    run \"echo {i} > /w/{i}\"\n}}\n",
            i - 1
        ));
    }
    s.push_str(&format!(
        "image bench stage=s{} variants=\"cpu gpu\" registries=hub {{\n    tag \"{{{{version}}}}\"\n    tag latest\n}}\n",
        stages - 1
    ));
    s
}

/// A spec with `count` problems of one kind: stages no image uses (warnings), or images
/// whose stage does not exist (errors).
fn diagnostics_spec(kind: &str, count: usize) -> String {
    let mut s = String::from(
        "project bench version=\"1.0.0\"\nstage runtime from=\"alpine:3.20\"\n\
         image bench stage=runtime\n",
    );
    for i in 0..count {
        match kind {
            "unused-stages" => s.push_str(&format!("stage u{i} from=\"alpine:3.20\"\n")),
            _ => s.push_str(&format!("image i{i} stage=missing{i}\n")),
        }
    }
    s
}

/// The CPU time (user + system) of `specc check --spec-only` reporting every problem of a
/// generated spec, human and JSON, as a child process: reading, compiling, collecting,
/// sorting and printing, all of it. The bar is 10 s for 100,000 problems.
fn diagnostics(kind: &str, count: usize) {
    let dir = std::env::temp_dir().join(format!("specc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let spec = dir.join(format!("{kind}.kdl"));
    std::fs::write(&spec, diagnostics_spec(kind, count)).expect("the spec is written");
    for format in ["human", "json"] {
        // `times` prints the shell's own and then its children's user and system time.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("\"$0\" check --spec-only --message-format \"$1\" \"$2\" >/dev/null 2>&1; times")
            .arg(env!("CARGO_BIN_EXE_specc"))
            .arg(format)
            .arg(&spec)
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let cpu: f64 = text
            .lines()
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .map(seconds)
            .sum();
        println!(
            "{:<32} cpu {cpu:>10.3} s",
            format!("diagnostics/{kind}={count}/{format}")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `1m2.500s` as seconds.
fn seconds(t: &str) -> f64 {
    let (m, s) = t.trim_end_matches('s').split_once('m').unwrap_or(("0", t));
    m.parse::<f64>().unwrap_or(0.0) * 60.0 + s.parse::<f64>().unwrap_or(0.0)
}

/// Runs `f` repeatedly for [`BUDGET`] (at least 5 times) and prints the median.
fn measure(name: &str, mut f: impl FnMut()) {
    f(); // warm-up: first-touch allocations and template registry set-up
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < 5 || started.elapsed() < BUDGET {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{name:<32} median {:>10.3} ms   ({} runs, min {:.3} ms)",
        median.as_secs_f64() * 1e3,
        samples.len(),
        samples[0].as_secs_f64() * 1e3
    );
}
